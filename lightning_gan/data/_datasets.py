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


FITS = ("crop", "pad", "stretch")


def _fit(image: Any, size: tuple[int, int], fit: str = "crop") -> Any:
    """``image`` (PIL) made ``size = (H, W)`` pixels, bicubic, in one of three ways.

    - ``crop``: the largest centred crop with the aspect ratio ``W / H``, resized; the pixels the
      crop throws away are never resized (for a square size: the centred square of the shorter side);
    - ``pad`` (letterbox): resized to fit inside ``H x W`` with its own aspect ratio, centred on black;
    - ``stretch``: resized to ``H x W``, the aspect ratio changed.
    """
    from PIL import Image

    height, width = size
    w, h = image.size
    if fit == "stretch":
        return image if (w, h) == (width, height) else image.resize((width, height), Image.Resampling.BICUBIC)
    if fit == "pad":
        scale = min(width / w, height / h)
        inner = (max(1, min(width, round(w * scale))), max(1, min(height, round(h * scale))))
        if inner != (w, h):
            image = image.resize(inner, Image.Resampling.BICUBIC)
        if inner == (width, height):
            return image
        canvas = Image.new(image.mode, (width, height))  # black
        canvas.paste(image, ((width - inner[0]) // 2, (height - inner[1]) // 2))
        return canvas
    if w * height > h * width:  # wider than the target: keep the full height
        crop_w, crop_h = max(1, round(h * width / height)), h
    else:
        crop_w, crop_h = w, max(1, round(w * height / width))
    if (crop_w, crop_h) != (w, h):
        left, top = (w - crop_w) // 2, (h - crop_h) // 2
        image = image.crop((left, top, left + crop_w, top + crop_h))
    if (crop_w, crop_h) != (width, height):
        image = image.resize((width, height), Image.Resampling.BICUBIC)
    return image


class _ImageFiles(Dataset):
    """Image files decoded per item with PIL: made ``size`` (a side, or ``(H, W)``) by ``fit``
    (see :func:`_fit`), to [-1, 1]."""

    def __init__(
        self, files: list[Path], labels: list[int] | None, size: int | tuple[int, int], channels: int, fit: str = "crop"
    ) -> None:
        self.files, self.labels, self.channels, self.fit = files, labels, channels, fit
        self.shape: tuple[int, int] = (size, size) if isinstance(size, int) else (size[0], size[1])  # (H, W)
        self.mode = "RGB" if channels == 3 else "L"

    def __len__(self) -> int:
        return len(self.files)

    def take(self, indices: Tensor) -> _ImageFiles:
        """The files (and labels) at ``indices``, as a new set."""
        positions = indices.tolist()
        labels = None if self.labels is None else [self.labels[i] for i in positions]
        return _ImageFiles([self.files[i] for i in positions], labels, self.shape, self.channels, self.fit)

    def __getitem__(self, index: int) -> Tensor | tuple[Tensor, int]:
        from PIL import Image

        with Image.open(self.files[index]) as image:
            pixels = np.array(_fit(image.convert(self.mode), self.shape, self.fit), dtype=np.uint8)
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
