"""Probes that the augmentation test and its benchmark share (tests/quality/test_augment_quality.py,
benchmarks/augment_quality.py): what D sees of the real data, and digits it never trained on."""

from __future__ import annotations

import torch
from torch import nn

from lightning_gan.data import DigitsDataModule

__all__ = ["Watched", "held_out_digits"]


class Watched(nn.Module):
    """An augmentation (or none) that also records, at every D step, mean sign(D(real)) and ADA's p.

    ``GANModule`` calls ``update(real_logits)`` on a module that has it; this passes the call on
    to the wrapped module when it adapts (ADA) and returns what that returns.
    """

    def __init__(self, inner: nn.Module | None) -> None:
        super().__init__()
        self.inner = inner
        self.signs: list[float] = []
        self.ps: list[float] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.inner is None else self.inner(x)

    def update(self, real_logits: torch.Tensor) -> dict[str, torch.Tensor]:
        self.signs.append(float(torch.sign(real_logits).mean()))
        report = self.inner.update(real_logits) if hasattr(self.inner, "update") else {}
        self.ps.append(float(report["train/augment_p"]) if "train/augment_p" in report else 0.0)
        return report


def held_out_digits(data: DigitsDataModule, full: DigitsDataModule, count: int = 400) -> torch.Tensor | None:
    """``count`` digits not in ``data``'s subset (a seeded draw), or None when it trains on all."""
    if data.subset_indices is None:
        return None
    outside = torch.ones(len(full.images), dtype=torch.bool)
    outside[data.subset_indices] = False
    pool = full.images[outside]
    return pool[torch.randperm(len(pool), generator=torch.Generator().manual_seed(0))[:count]]
