"""Image data modules. Images come out in [-1, 1] with shape ``(C, H, W)``."""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

__all__ = ["DigitsDataModule"]


class DigitsDataModule(L.LightningDataModule):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), resized.

    Ships inside scikit-learn, so it works offline: the image data set of choice for tests and
    CPU recipes. Batches are ``(images, labels)`` with images ``(B, 1, size, size)`` in [-1, 1].

    Args:
        size: side of the resized images (bicubic upsampling gave sharper samples than bilinear).
        batch_size: images per batch.
        num_workers: data loader worker processes (the whole set is one small tensor: 0 is fastest).
    """

    def __init__(self, size: int = 16, batch_size: int = 64, num_workers: int = 0) -> None:
        super().__init__()
        if not (isinstance(size, int) and size >= 8):
            raise ValueError(f"DigitsDataModule: size={size!r}; expected an int >= 8")
        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise ValueError(f"DigitsDataModule: batch_size={batch_size!r}; expected an int >= 1")
        self.size, self.batch_size, self.num_workers = size, batch_size, num_workers
        self.dims = (1, size, size)
        self.num_classes = 10
        self.images: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.images is not None:
            return
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.tensor(digits.images, dtype=torch.float32)[:, None] / 16.0  # (N, 1, 8, 8) in [0, 1]
        if self.size != 8:
            images = F.interpolate(images, size=(self.size, self.size), mode="bicubic", align_corners=False)
        self.images = images.clamp(0, 1) * 2 - 1
        self.labels = torch.tensor(digits.target, dtype=torch.long)

    def train_dataloader(self) -> DataLoader:
        assert self.images is not None and self.labels is not None, "call setup() first"
        return DataLoader(
            TensorDataset(self.images, self.labels),
            batch_size=self.batch_size,
            shuffle=True,
            drop_last=True,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )
