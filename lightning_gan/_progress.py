"""A progress bar that counts generator iterations, the unit papers, recipes and ``max_steps`` use.

``GANModule`` installs it in place of Lightning's default bar, so it lives below the module; users
import it as ``lightning_gan.callbacks.IterationProgressBar``.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar

from lightning_gan._internals import progress_bar_leave

__all__ = ["IterationProgressBar", "use_iteration_progress_bar"]


class IterationProgressBar(TQDMProgressBar):
    """Lightning's bar, counting generator iterations instead of batches.

    One generator iteration consumes ``d_steps`` real batches, and an epoch drops a last partial
    iteration, so an epoch of ``B`` batches (per process) holds ``B // d_steps`` iterations; the
    bar's total is that, or the iterations left before ``max_steps`` when fewer. Lightning's own
    bar counts batches against a total of batches that it then caps by the steps left, so with
    ``d_steps > 1`` or a ``max_steps`` inside the epoch it showed e.g. ``195/195`` and then
    ``0/103`` running on to ``195/?``. ``GANModule`` puts this bar in place of Lightning's default
    one (a bar of your own is left alone).
    """

    def _d_steps(self) -> int:
        return int(getattr(self.trainer.lightning_module, "d_steps", 1))

    @property
    def total_train_batches(self) -> int | float:
        """Generator iterations in this epoch (per process), or those left before ``max_steps``."""
        batches = self.trainer.num_training_batches
        total = batches if batches == float("inf") else int(batches) // self._d_steps()
        if self.trainer.max_steps is not None and self.trainer.max_steps > 0:
            total = min(total, self.trainer.max_steps - self.trainer.global_step)
        return total

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        # in dataloader_iter mode, batch_idx is the index of the last batch the iteration fetched
        super().on_train_batch_end(trainer, pl_module, outputs, batch, (batch_idx + 1) // self._d_steps() - 1)


def use_iteration_progress_bar(trainer: L.Trainer) -> None:
    """Put an :class:`IterationProgressBar` with its settings in the place of Lightning's default bar
    in ``trainer.callbacks``; no bar, or a bar of the user's own, stays as it is. (Returned from
    ``configure_callbacks`` instead, it would make Lightning print that it overrides the default bar.)"""
    bar = trainer.progress_bar_callback
    if type(bar) is TQDMProgressBar:
        callbacks = trainer.callbacks
        callbacks[callbacks.index(bar)] = IterationProgressBar(
            refresh_rate=bar.refresh_rate, leave=progress_bar_leave(bar)
        )
