"""LightningDataModules: toy distributions and image data sets; loaders that resume mid-epoch."""

from lightning_gan.data._resumable import ResumableDataLoader, ResumableRandomSampler
from lightning_gan.data.images import (
    CelebADataModule,
    CIFAR10DataModule,
    DigitsDataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
)
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
