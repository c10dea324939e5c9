"""Sample-quality measures."""

from lightning_gan.metrics.digits import DigitsReference
from lightning_gan.metrics.frechet import frechet_distance
from lightning_gan.metrics.mode_coverage import mode_coverage

__all__ = ["DigitsReference", "frechet_distance", "mode_coverage"]
