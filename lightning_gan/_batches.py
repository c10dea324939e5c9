"""Real batches for the training steps: fetched, moved to the device and split into samples and labels.

``GANModule`` pulls its k real batches per generator iteration from ``dataloader_iter``; that
mode leaves the device transfer to the module, which hands Lightning's usual path in as ``transfer``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor

__all__ = ["SetupNotices", "next_real_batch", "split_batch"]


def next_real_batch(
    dataloader_iter: Iterator[Any], transfer: Callable[[Any], Any], num_classes: int, channels_last: bool
) -> tuple[Tensor, Tensor | None]:
    """The next real batch, passed through ``transfer`` (to the training device):
    ``(samples, labels or None)``, the samples channels-last when asked."""
    batch, _, _ = next(dataloader_iter)
    real, labels = split_batch(transfer(batch), num_classes)
    if channels_last and real.dim() == 4:
        real = real.contiguous(memory_format=torch.channels_last)
    return real, labels


def split_batch(batch: Any, num_classes: int) -> tuple[Tensor, Tensor | None]:
    """A batch is real samples, or a tuple/list of (samples, labels, ...)."""
    if isinstance(batch, Tensor):
        real, labels = batch, None
    elif isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Tensor):
        real = batch[0]
        labels = batch[1] if len(batch) > 1 and isinstance(batch[1], Tensor) else None
    else:
        raise TypeError(
            f"a training batch of type {type(batch).__name__}: expected a tensor of real samples, "
            "or a tuple/list whose first element is the real samples (and second the labels)"
        )
    if num_classes == 0:
        return real, None  # an unconditional model ignores labels the data may carry
    if labels is None:
        raise ValueError(
            f"num_classes={num_classes} (a conditional model) but the batch carries no labels: "
            "expected (samples, labels)"
        )
    return real, labels.long()


class SetupNotices:
    """Warnings Lightning raises while it sets a fit up that a user can do nothing about, silenced
        from the module's first hook of a fit (``configure_callbacks``) until training starts: its two
        notices that ``training_step(dataloader_iter)`` is experimental (the module pulls its k batches
        per iteration from the iterator on purpose), and torch's deprecation of ``LeafSpec`` checks,
        which Lightning's ``CombinedLoader`` makes. Nothing else is filtered, and nothing at import. (A fit
    that fails before training starts leaves the two silenced until the module's next fit trains:
    Lightning gives a module no hook on an exception.)"""

    MESSAGES = (r"(You are using the|Found) `dataloader_iter`", r"`isinstance\(treespec, LeafSpec\)` is deprecated")

    def __init__(self) -> None:
        self._context: warnings.catch_warnings | None = None

    def silence(self) -> None:
        if self._context is None:
            self._context = warnings.catch_warnings()
            self._context.__enter__()
            for message in self.MESSAGES:
                warnings.filterwarnings("ignore", message=message)

    def restore(self) -> None:
        """Put the warning filters back as they were (idempotent)."""
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None
