"""MNIST and Fashion-MNIST, read from torchvision's raw idx files into memory."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lightning_gan.data._base import _DownloadableDataModule, _find
from lightning_gan.data._datasets import _InMemory, _resize_uint8

__all__ = ["FashionMNISTDataModule", "MNISTDataModule"]


def _read_idx(path: Path, magic: int) -> np.ndarray:
    """Read an idx file (MNIST's format; gzipped too) whose magic number must be ``magic``."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as file:
        data = file.read()
    found = int.from_bytes(data[:4], "big") if len(data) >= 4 else None
    if found != magic:
        found_text = "none: the file is too short" if found is None else f"{found:#010x}"
        raise ValueError(f"{path}: not the expected idx file (magic number {found_text}; expected {magic:#010x})")
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise ValueError(
            f"{path}: {array.size} bytes of data for shape {tuple(shape)}; the file is truncated or corrupt"
        )
    return array.reshape(shape).copy()


class MNISTDataModule(_DownloadableDataModule):
    """MNIST's 60,000 training digits (10 classes), in memory; images ``(B, 1, size, size)``.

    Reads ``root/MNIST/raw/train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (gzipped
    ``.gz`` files work too), where ``torchvision.datasets.MNIST`` puts them.

    Args:
        root: data folder (the files go to ``root/MNIST/raw``).
        size: image side; other than 28, the set is resized once in ``setup`` (bicubic, antialiased).
        batch_size: images per batch.
        num_workers: data loader worker processes (the set is one uint8 tensor: 0 is fastest).
        pin_memory: pin batches for faster GPU copies; ``None``: when CUDA is available.
        download: let ``prepare_data`` download missing files.
        on_device: hold the whole set on the training device (a GPU) and index batches there: no
            loader copies per batch. Needs ``num_workers=0``.
        subset: train on part of the split: an int image count, or a float fraction in (0, 1]
            (rounded down), the same share of every class; ``None``: all of it.
        subset_seed: seed of the subset's draw (same seed, same images).
        hflip: mirror each training image left-right with probability 1/2, on the device,
            every time it is drawn (BigGAN's and DiffAugment's ``--mirror_augment``, StyleGAN's ``--mirror``).
    """

    title = "MNIST"
    source = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    manual = "gunzip train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz from {source} into {folder}"
    subfolder = "MNIST"
    native_size = 28

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        *,
        size: int = 28,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool | None = None,
        download: bool = True,
        on_device: bool = False,
        subset: int | float | None = None,  # noqa: PYI041 (int first: the CLI reads "100" as a count)
        subset_seed: int = 0,
        hflip: bool = False,
    ) -> None:
        super().__init__(
            root,
            download=download,
            size=size,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=pin_memory,
            channels=1,
            num_classes=10,
            on_device=on_device,
            subset=subset,
            subset_seed=subset_seed,
            hflip=hflip,
        )
        self.images: Tensor | None = None
        self.labels: Tensor | None = None

    @property
    def folder(self) -> Path:
        return self.root / self.subfolder / "raw"

    @property
    def expected(self) -> list[str]:
        return ["train-images-idx3-ubyte", "train-labels-idx1-ubyte"]

    def _download(self) -> None:
        import torchvision

        torchvision.datasets.MNIST(str(self.root), train=True, download=True)

    def setup(self, stage: str | None = None) -> None:
        if self.images is not None:
            return
        self._check_files()
        images_path, labels_path = (_find(self.folder, name) for name in self.expected)
        images = torch.from_numpy(_read_idx(images_path, 0x00000803))[:, None]  # type: ignore[arg-type]
        labels = torch.from_numpy(_read_idx(labels_path, 0x00000801)).long()  # type: ignore[arg-type]
        if len(images) != len(labels):
            raise ValueError(f"{self._name}: {len(images)} images but {len(labels)} labels in {self.folder}")
        if self.size != self.native_size:
            images = _resize_uint8(images, self.size)
        self._use(_InMemory(images, labels), self.folder)
        self.images, self.labels = self.train_dataset.images, self.train_dataset.labels  # type: ignore[union-attr]


class FashionMNISTDataModule(MNISTDataModule):
    """Fashion-MNIST's 60,000 training images (10 classes of clothing), as :class:`MNISTDataModule`.

    Reads ``root/FashionMNIST/raw/train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``,
    where ``torchvision.datasets.FashionMNIST`` puts them. Arguments as for MNIST.
    """

    title = "Fashion-MNIST"
    source = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
    subfolder = "FashionMNIST"

    def _download(self) -> None:
        import torchvision

        torchvision.datasets.FashionMNIST(str(self.root), train=True, download=True)
