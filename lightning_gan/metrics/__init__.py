"""Sample-quality measures."""

from lightning_gan.metrics.mode_coverage import mode_coverage

__all__ = ["mode_coverage"]
