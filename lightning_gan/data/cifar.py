"""CIFAR-10, read from torchvision's ``cifar-10-batches-py`` pickles into memory."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lightning_gan.data._base import _DownloadableDataModule
from lightning_gan.data._datasets import _InMemory, _resize_uint8

__all__ = ["CIFAR10DataModule"]


class CIFAR10DataModule(_DownloadableDataModule):
    """CIFAR-10's 50,000 training images (10 classes), in memory; images ``(B, 3, size, size)``.

    Reads the pickles ``root/cifar-10-batches-py/data_batch_1`` ... ``data_batch_5``, where
    ``torchvision.datasets.CIFAR10`` extracts them (pickles run code when loaded: read only
    files you trust).

    Args:
        root: data folder (the files go to ``root/cifar-10-batches-py``).
        size: image side; other than 32, the set is resized once in ``setup`` (bicubic, antialiased).
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

    title = "CIFAR-10"
    source = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    manual = "extract cifar-10-python.tar.gz (from https://www.cs.toronto.edu/~kriz/cifar.html) into {root}"

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        *,
        size: int = 32,
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
            channels=3,
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
        return self.root / "cifar-10-batches-py"

    @property
    def expected(self) -> list[str]:
        return [f"data_batch_{i}" for i in range(1, 6)]

    def _missing(self) -> list[str]:
        return [name for name in self.expected if not (self.folder / name).is_file()]

    def _download(self) -> None:
        import torchvision

        torchvision.datasets.CIFAR10(str(self.root), train=True, download=True)

    def setup(self, stage: str | None = None) -> None:
        if self.images is not None:
            return
        self._check_files()
        images, labels = [], []
        for name in self.expected:
            with open(self.folder / name, "rb") as file:
                entry = pickle.load(file, encoding="bytes")
            data = entry.get(b"data", entry.get("data"))
            targets = entry.get(b"labels", entry.get("labels"))
            if data is None or targets is None:
                raise ValueError(f"{self._name}: {self.folder / name} has no b'data' and b'labels' entries")
            data = np.asarray(data, dtype=np.uint8)
            if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(targets):
                raise ValueError(
                    f"{self._name}: {self.folder / name}: data of shape {data.shape} with {len(targets)} labels; "
                    "expected (N, 3072) uint8 and N labels"
                )
            images.append(torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()))
            labels.append(torch.as_tensor(list(targets), dtype=torch.long))
        all_images, all_labels = torch.cat(images), torch.cat(labels)
        if self.size != 32:
            all_images = _resize_uint8(all_images, self.size)
        self._use(_InMemory(all_images, all_labels), self.folder)
        self.images, self.labels = self.train_dataset.images, self.train_dataset.labels  # type: ignore[union-attr]
