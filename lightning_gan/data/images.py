"""The image data modules' old home, kept so old imports and checkpoints keep working.

The modules now live one family per module (``digits``, ``mnist``, ``cifar``, ``celeba``,
``folder``); import them from :mod:`lightning_gan.data`. Checkpoints written before the split
record class paths such as ``lightning_gan.data.images.DigitsDataModule``, which this module
keeps importable.
"""

from lightning_gan.data.celeba import CELEBA_SPLITS, CelebADataModule
from lightning_gan.data.cifar import CIFAR10DataModule
from lightning_gan.data.digits import DigitsDataModule
from lightning_gan.data.folder import IMAGE_EXTENSIONS, ImageFolderDataModule
from lightning_gan.data.mnist import FashionMNISTDataModule, MNISTDataModule

__all__ = [
    "CELEBA_SPLITS",
    "IMAGE_EXTENSIONS",
    "CIFAR10DataModule",
    "CelebADataModule",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
]
