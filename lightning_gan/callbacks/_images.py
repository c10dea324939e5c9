"""Send a picture to whichever loggers take pictures (W&B, TensorBoard); others get the PNG on disk."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
from lightning.pytorch.loggers import TensorBoardLogger, WandbLogger
from PIL import Image

__all__ = ["log_image", "run_dir"]


def run_dir(trainer: L.Trainer) -> Path:
    """The folder of this run: the logger's log folder when it has one, else ``default_root_dir``."""
    return Path(trainer.log_dir or trainer.default_root_dir)


def log_image(trainer: L.Trainer, key: str, path: Path) -> None:
    """Log the PNG at ``path`` under ``key`` at the current generator iteration."""
    step = trainer.global_step
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):
            logger.log_image(key=key, images=[str(path)], step=step)
        elif isinstance(logger, TensorBoardLogger):
            image = np.asarray(Image.open(path).convert("RGB"))
            logger.experiment.add_image(key, image, global_step=step, dataformats="HWC")
