"""The datasets behind the image data modules, and their pixel transforms.

:class:`_InMemory` holds a whole set in one tensor and makes a batch with one indexing op;
:class:`_ImageFiles` decodes image files per item. Images come out as float in [-1, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset


def _as_is(batch: Any) -> Any:
    """Collate function of :class:`_InMemory`: its ``__getitems__`` already made the batch."""
    return batch


class _InMemory(Dataset):
    """Images held in one tensor (uint8 in [0, 255], or float already in [-1, 1]).

    ``__getitems__`` (which the DataLoader calls with a whole batch of indices) makes a batch
    with one indexing op and converts uint8 to float per batch, instead of collating hundreds
    of items; as a plain ``batch_size``/``shuffle`` loader it also survives Lightning's
    distributed-sampler injection.
    """

    def __init__(self, images: Tensor, labels: Tensor | None) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def take(self, indices: Tensor) -> _InMemory:
        """The images (and labels) at ``indices``, as a new set."""
        return _InMemory(self.images[indices], None if self.labels is None else self.labels[indices])

    def __getitems__(self, indices: Sequence[int]) -> Tensor | tuple[Tensor, Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long, device=self.images.device)
        images = self.images[index]
        if images.dtype == torch.uint8:
            images = images.float().div_(127.5).sub_(1.0)
        return images if self.labels is None else (images, self.labels[index])

    def __getitem__(self, index: int | Sequence[int]) -> Any:
        if isinstance(index, int):
            batch = self.__getitems__([index])
            return batch[0] if isinstance(batch, Tensor) else (batch[0][0], batch[1][0])
        return self.__getitems__(index)


def _square(image: Any, size: int) -> Any:
    """The centred square crop (side = the shorter side), resized to ``size`` (bicubic).

    The same as resizing the shorter side to ``size`` and centre-cropping, without resizing the
    pixels that the crop throws away.
    """
    from PIL import Image

    width, height = image.size
    side = min(width, height)
    if width != height:
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), Image.Resampling.BICUBIC)
    return image


class _ImageFiles(Dataset):
    """Image files decoded per item with PIL: centre square crop, resize, to [-1, 1]."""

    def __init__(self, files: list[Path], labels: list[int] | None, size: int, channels: int) -> None:
        self.files, self.labels, self.size, self.channels = files, labels, size, channels
        self.mode = "RGB" if channels == 3 else "L"

    def __len__(self) -> int:
        return len(self.files)

    def take(self, indices: Tensor) -> _ImageFiles:
        """The files (and labels) at ``indices``, as a new set."""
        positions = indices.tolist()
        labels = None if self.labels is None else [self.labels[i] for i in positions]
        return _ImageFiles([self.files[i] for i in positions], labels, self.size, self.channels)

    def __getitem__(self, index: int) -> Tensor | tuple[Tensor, int]:
        from PIL import Image

        with Image.open(self.files[index]) as image:
            pixels = np.array(_square(image.convert(self.mode), self.size), dtype=np.uint8)
        tensor = torch.from_numpy(pixels)
        tensor = tensor[None] if tensor.dim() == 2 else tensor.permute(2, 0, 1)
        tensor = tensor.float().div_(127.5).sub_(1.0)
        return tensor if self.labels is None else (tensor, self.labels[index])


def _resize_uint8(images: Tensor, size: int, chunk: int = 2048) -> Tensor:
    """Resize ``(N, C, H, W)`` uint8 images to ``size x size`` (bicubic, antialiased), in chunks."""
    out = torch.empty((len(images), images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].float()
        block = F.interpolate(block, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
        out[start : start + chunk] = block.round_().clamp_(0, 255).to(torch.uint8)
    return out
