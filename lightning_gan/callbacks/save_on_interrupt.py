"""SIGTERM (SLURM pre-emption, ``kill``) and Ctrl+C end a run after the current iteration, with a checkpoint."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException
from lightning.pytorch.utilities.rank_zero import rank_zero_info

__all__ = ["SaveOnInterrupt"]


class SaveOnInterrupt(L.Callback):
    """Finish the current generator iteration, write ``last.ckpt`` and exit cleanly on SIGTERM or SIGINT.

    Lightning stops a run after the current batch on SIGTERM; this callback makes Ctrl+C (SIGINT)
    do the same (a second Ctrl+C interrupts at once) and then saves a checkpoint where a resume
    looks for it: ``last.ckpt`` in the ``ModelCheckpoint``'s folder, or in the run's folder when
    there is none. Resuming from it continues exactly (see the user guide). The ``lightning-gan``
    command always adds it.
    """

    def __init__(self) -> None:
        self._previous_sigint: Any = None
        self.saved: Path | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # (not on_fit_start: Lightning records the signal handlers after it, and puts them back at the end)
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread

        def stop_after_this_iteration(signum: int, frame: FrameType | None) -> None:
            rank_zero_info("Interrupted: finishing this iteration and saving a checkpoint (Ctrl+C again to abort)")
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.raise_signal(signal.SIGTERM)  # Lightning's own path: stop after the current batch

        self._previous_sigint = signal.signal(signal.SIGINT, stop_after_this_iteration)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._restore_sigint()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore_sigint()
        if not isinstance(exception, SIGTERMException):
            return
        self.saved = checkpoint_path(trainer)
        trainer.save_checkpoint(self.saved)  # on every rank: saving is collective, rank zero writes
        rank_zero_info(f"Saved {self.saved}; resume with --ckpt_path {self.saved}")

    def _restore_sigint(self) -> None:
        if self._previous_sigint is not None:
            signal.signal(signal.SIGINT, self._previous_sigint)
            self._previous_sigint = None


def checkpoint_path(trainer: L.Trainer) -> Path:
    """Where the last checkpoint of this run goes: next to ModelCheckpoint's files, else in the run's folder."""
    for callback in trainer.checkpoint_callbacks:
        if isinstance(callback, ModelCheckpoint) and callback.dirpath is not None:
            return Path(callback.dirpath) / f"{ModelCheckpoint.CHECKPOINT_NAME_LAST}{ModelCheckpoint.FILE_EXTENSION}"
    return Path(trainer.default_root_dir) / "last.ckpt"
