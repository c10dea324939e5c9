"""Callbacks that observe training: figures, sample grids, metrics."""

from lightning_gan.callbacks.toy_figure import ToyDistributionFigure

__all__ = ["ToyDistributionFigure"]
