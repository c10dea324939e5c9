"""LightningDataModules: toy distributions and image data sets."""

from lightning_gan.data.images import DigitsDataModule
from lightning_gan.data.toy import Gaussian1DDataModule, GridDataModule, RingDataModule, ToyDataModule

__all__ = ["DigitsDataModule", "Gaussian1DDataModule", "GridDataModule", "RingDataModule", "ToyDataModule"]
