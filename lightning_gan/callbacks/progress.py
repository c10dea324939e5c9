"""``IterationProgressBar``: Lightning's bar counting generator iterations (defined in ``lightning_gan._progress``,
since ``GANModule`` installs it)."""

from lightning_gan._progress import IterationProgressBar

__all__ = ["IterationProgressBar"]
