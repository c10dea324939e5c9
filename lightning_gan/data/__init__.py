"""LightningDataModules: toy distributions and image data sets; loaders that resume mid-epoch."""

from lightning_gan.data._resumable import ResumableDataLoader, ResumableRandomSampler
from lightning_gan.data.celeba import CelebADataModule
from lightning_gan.data.cifar import CIFAR10DataModule
from lightning_gan.data.digits import DigitsDataModule
from lightning_gan.data.folder import ImageFolderDataModule
from lightning_gan.data.mnist import FashionMNISTDataModule, MNISTDataModule
from lightning_gan.data.toy import (
    Gaussian1DDataModule,
    GridDataModule,
    RingDataModule,
    ToyDataModule,
)

__all__ = [
    "CIFAR10DataModule",
    "CelebADataModule",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "Gaussian1DDataModule",
    "GridDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
    "ResumableDataLoader",
    "ResumableRandomSampler",
    "RingDataModule",
    "ToyDataModule",
]
