"""Callbacks that observe training: figures, sample grids, metrics."""

from lightning_gan.callbacks.fidelity import FidelityMetrics
from lightning_gan.callbacks.latent_interpolation import LatentInterpolation
from lightning_gan.callbacks.nearest_neighbours import NearestNeighbours
from lightning_gan.callbacks.progress import IterationProgressBar
from lightning_gan.callbacks.sample_grid import SampleGrid
from lightning_gan.callbacks.save_on_interrupt import SaveOnInterrupt
from lightning_gan.callbacks.toy_figure import ToyDistributionFigure

__all__ = [
    "FidelityMetrics",
    "IterationProgressBar",
    "LatentInterpolation",
    "NearestNeighbours",
    "SampleGrid",
    "SaveOnInterrupt",
    "ToyDistributionFigure",
]
