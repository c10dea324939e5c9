"""Real batches for the training steps: fetched, moved to the device and split into samples and labels.

``GANModule`` pulls its k real batches per generator iteration from ``dataloader_iter``; that
mode leaves the device transfer to the module, so Lightning's usual path runs here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from torch import Tensor

if TYPE_CHECKING:
    from lightning_gan.module import GANModule

__all__ = ["iteration_progress_bar", "next_real_batch", "split_batch"]


def next_real_batch(gan: GANModule, dataloader_iter: Iterator[Any]) -> tuple[Tensor, Tensor | None]:
    """The next real batch on the training device: ``(samples, labels or None)``."""
    batch, _, _ = next(dataloader_iter)
    # dataloader_iter mode leaves device transfer to the module: run Lightning's usual path
    batch = gan.trainer.precision_plugin.convert_input(batch)
    batch = gan.on_before_batch_transfer(batch, 0)
    batch = gan.trainer.strategy.batch_to_device(batch, dataloader_idx=0)
    real, labels = split_batch(batch, gan.num_classes)
    if gan.channels_last and real.dim() == 4:
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


def iteration_progress_bar(trainer: L.Trainer) -> list[L.Callback]:
    """An :class:`~lightning_gan.callbacks.IterationProgressBar` in place of Lightning's default bar
    (``configure_callbacks`` replaces callbacks of a parent type); nothing for no bar or another bar."""
    from lightning_gan.callbacks.progress import IterationProgressBar

    bar = trainer.progress_bar_callback
    if type(bar) is not TQDMProgressBar:
        return []
    return [IterationProgressBar(refresh_rate=bar.refresh_rate, leave=bar._leave)]
