"""Toy distributions: a 1-D Gaussian and the 2-D mixtures of the mode-collapse literature."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import BatchSampler, DataLoader, Dataset

from lightning_gan._validate import check_int
from lightning_gan.data._resumable import ResumableDataLoader, ResumableRandomSampler

__all__ = ["Gaussian1DDataModule", "GridDataModule", "RingDataModule", "ToyDataModule"]


class _Batches(Dataset):
    """Indexed by a list of indices, returns that whole batch: one tensor op per batch instead
    of collating hundreds of scalars (most of a toy iteration's time otherwise)."""

    def __init__(self, data: Tensor) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, indices: list[int]) -> Tensor:
        return self.data[indices]


class ToyDataModule(L.LightningDataModule):
    """An equal-weight mixture of isotropic Gaussians with known ``centers`` and ``std``.

    A fixed training set of ``num_samples`` points is drawn once from ``seed``; an epoch is one
    shuffled pass over it in batches of ``batch_size`` (the last partial batch is dropped).

    Args:
        centers: ``(num_modes, dim)`` mode centres.
        std: standard deviation of every mode.
        batch_size: samples per batch.
        num_samples: size of the training set.
        seed: seed of the training set.
    """

    def __init__(
        self, centers: Tensor, std: float, *, batch_size: int = 256, num_samples: int = 100_000, seed: int = 0
    ) -> None:
        super().__init__()
        centers = torch.as_tensor(centers, dtype=torch.float32)
        if centers.dim() != 2 or len(centers) == 0:
            raise ValueError(f"centers of shape {tuple(centers.shape)}: expected (num_modes, dim)")
        if not std > 0:
            raise ValueError(f"std={std!r}: expected a positive number")
        check_int("batch_size", batch_size, 1, owner=type(self).__name__)
        check_int("num_samples", num_samples, batch_size, owner=type(self).__name__)  # at least one batch
        self.centers = centers
        self.std = float(std)
        self.batch_size = batch_size
        self.num_samples = num_samples
        self.seed = seed
        self.dims = (centers.shape[1],)
        self.train_data: Tensor | None = None

    def sample(self, num_samples: int, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``(num_samples, dim)`` points from the mixture."""
        modes = torch.randint(len(self.centers), (num_samples,), generator=generator)
        noise = torch.randn(num_samples, self.centers.shape[1], generator=generator)
        return self.centers[modes] + self.std * noise

    def log_prob(self, x: Tensor) -> Tensor:
        """Log density of the mixture at points ``x`` of shape ``(N, dim)``."""
        dim = self.centers.shape[1]
        sq = torch.cdist(x.float(), self.centers).pow(2)  # (N, modes)
        log_gauss = -0.5 * sq / self.std**2 - dim * math.log(self.std * math.sqrt(2 * math.pi))
        return torch.logsumexp(log_gauss, dim=1) - math.log(len(self.centers))

    def setup(self, stage: str | None = None) -> None:
        if self.train_data is None:
            self.train_data = self.sample(self.num_samples, torch.Generator().manual_seed(self.seed))

    def train_dataloader(self) -> DataLoader:
        assert self.train_data is not None, "call setup() first"
        batches = BatchSampler(ResumableRandomSampler(self.train_data), self.batch_size, drop_last=True)
        return ResumableDataLoader(_Batches(self.train_data), batch_size=None, sampler=batches)


class Gaussian1DDataModule(ToyDataModule):
    """Samples of N(mean, std^2), shape ``(1,)``."""

    def __init__(self, mean: float = 0.0, std: float = 1.0, **kwargs: Any) -> None:
        super().__init__(torch.tensor([[float(mean)]]), std, **kwargs)
        self.mean = float(mean)


class RingDataModule(ToyDataModule):
    """``num_modes`` Gaussians evenly spaced on a circle (8 on the unit circle, std 0.01)."""

    def __init__(self, num_modes: int = 8, radius: float = 1.0, std: float = 0.01, **kwargs: Any) -> None:
        angles = torch.arange(num_modes, dtype=torch.float32) * (2 * math.pi / num_modes)
        super().__init__(radius * torch.stack([angles.cos(), angles.sin()], dim=1), std, **kwargs)


class GridDataModule(ToyDataModule):
    """25 Gaussians on the grid {-4, -2, 0, 2, 4}^2, std 0.05 (the PacGAN / VEEGAN benchmark)."""

    def __init__(self, size: int = 5, spacing: float = 2.0, std: float = 0.05, **kwargs: Any) -> None:
        coords = (torch.arange(size, dtype=torch.float32) - (size - 1) / 2) * spacing
        grid = torch.cartesian_prod(coords, coords)
        super().__init__(grid, std, **kwargs)
