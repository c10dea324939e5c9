"""Euclidean distances in chunks, k nearest neighbours, and the "is it copying my images?" picture.

Every pairwise computation of the metrics (precision, recall, density, coverage) and of the
neighbour pictures goes through :func:`distance_blocks`: the ``N x M`` distance matrix is never
held whole, only one ``chunk_size x chunk_size`` block of it at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from lightning_gan._validate import check_int

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Neighbours",
    "PixelFeatures",
    "distance_blocks",
    "find_neighbours",
    "nearest_neighbours",
]

DEFAULT_CHUNK_SIZE = 4096  # rows and columns of one distance block: 4096^2 float32 distances = 64 MiB


def _check_features(name: str, features: Any) -> None:
    if not (isinstance(features, Tensor) and features.dim() == 2 and features.is_floating_point()):
        shape = tuple(features.shape) if isinstance(features, Tensor) else type(features).__name__
        raise ValueError(f"{name} of shape {shape}: expected floating-point features (N, D)")


def distance_blocks(a: Tensor, b: Tensor, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[tuple[int, int, Tensor]]:
    """Yield ``(i, j, D)`` with ``D[r, c] = ||a[i + r] - b[j + c]||_2``, blocks of at most ``chunk_size^2``.

    Computed by ``torch.cdist`` on ``a``'s device in ``a``'s dtype (float32 features: distances
    rounded at about 1e-7 of the features' norms). One block is alive at a time, so the extra
    memory is ``chunk_size^2 * itemsize`` for the block (plus ``chunk_size * (D + 2) * itemsize``
    for cdist's padded copies) whatever ``len(a)`` and ``len(b)`` are, provided the caller drops
    each block (``del block``) before asking for the next.
    """
    _check_features("a", a)
    _check_features("b", b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"features of shapes {tuple(a.shape)} and {tuple(b.shape)}: expected the same dimension D")
    check_int("chunk_size", chunk_size, 1)
    b = b.to(a.device, a.dtype)
    for i in range(0, len(a), chunk_size):
        rows = a[i : i + chunk_size]
        for j in range(0, len(b), chunk_size):
            yield i, j, torch.cdist(rows, b[j : j + chunk_size])


def nearest_neighbours(
    queries: Tensor, reference: Tensor, k: int, *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> tuple[Tensor, Tensor]:
    """The ``k`` smallest distances from each query to the reference rows, ascending, and their indices.

    Returns ``(distances (N, k), indices (N, k))`` on the queries' device. A query that is also in
    ``reference`` finds itself first (distance 0): the k-th neighbour *other than itself* is column
    ``k`` of ``nearest_neighbours(x, x, k + 1)``, as torch-fidelity and ``prdc`` count it.
    Memory: one distance block and a running ``(chunk_size, 2k)`` merge buffer.
    """
    check_int("k", k, 1)
    if len(reference) < k:
        raise ValueError(f"{k} nearest neighbours asked for, but the reference set has {len(reference)} samples")
    distances = torch.empty(len(queries), k, device=queries.device, dtype=queries.dtype)
    indices = torch.empty(len(queries), k, device=queries.device, dtype=torch.long)
    best: tuple[Tensor, Tensor] | None = None
    for i, j, block in distance_blocks(queries, reference, chunk_size):
        values, where = block.topk(min(k, block.shape[1]), dim=1, largest=False)
        where = where + j
        if j > 0:  # merge with the best so far of this row block
            merged = torch.cat([best[0], values], 1)  # type: ignore[index]
            values, order = merged.topk(min(k, merged.shape[1]), dim=1, largest=False)
            where = torch.cat([best[1], where], 1).gather(1, order)  # type: ignore[index]
        best = (values, where)
        if j + block.shape[1] == len(reference):  # the row block's last column block
            distances[i : i + len(values)], indices[i : i + len(values)] = best
        del block  # before the next block is computed: one block alive at a time
    return distances, indices


class PixelFeatures(nn.Module):
    """Pixels as features: images ``(N, C, H, W)`` in [-1, 1] flattened, divided by ``sqrt(C H W)``.

    Euclidean distances between these are root-mean-square pixel differences on the [-1, 1]
    scale (0: identical images, 2: black against white), whatever the image size. ``channels=3``
    repeats grey images to RGB (as PIL's ``convert("RGB")`` does; the RMS is unchanged), so grey
    samples compare with a folder of images read as RGB.
    """

    def __init__(self, channels: int | None = None) -> None:
        super().__init__()
        self.channels = channels

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4:
            raise ValueError(f"images of shape {tuple(images.shape)}: pixel space needs images (N, C, H, W)")
        if self.channels is not None and images.shape[1] != self.channels:
            if images.shape[1] != 1:
                raise ValueError(f"images with {images.shape[1]} channels cannot be compared with {self.channels}")
            images = images.expand(-1, self.channels, -1, -1)
        return images.float().flatten(1) / math.sqrt(images[0].numel())


@dataclass
class Neighbours:
    """Generated samples and their ``k`` nearest real images.

    Attributes:
        samples: the generated images ``(N, C, H, W)`` in [-1, 1].
        images: their nearest real images ``(N, k, C', H', W')``, nearest first.
        distances: ``(N, k)`` Euclidean distances in the space searched (features or pixels).
        indices: ``(N, k)`` positions of the neighbours in the real set.
    """

    samples: Tensor
    images: Tensor
    distances: Tensor
    indices: Tensor

    def table(self) -> str:
        """One line per sample: ``sample  d_1 (#index)  d_2 (#index) ...``."""
        k = self.distances.shape[1]
        lines = [("sample  " + "  ".join(f"{f'neighbour {n + 1}':<20}" for n in range(k))).rstrip()]
        for row, (ds, ix) in enumerate(zip(self.distances.tolist(), self.indices.tolist())):
            cells = [f"{f'{d:.4g} (#{i})':<20}" for d, i in zip(ds, ix)]
            lines.append(f"{row:<6}  " + "  ".join(cells).rstrip())
        return "\n".join(lines)

    def picture(self, path: str | Path) -> Path:
        """Write a PNG: one row per sample, the sample, then its neighbours with their distances below."""
        import numpy as np
        from PIL import Image, ImageDraw

        def pixels(images: Tensor) -> np.ndarray:
            x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8)
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            return x.permute(0, 2, 3, 1).numpy()

        n, k = self.distances.shape
        height, width = (
            max(self.samples.shape[2], self.images.shape[3]),
            max(self.samples.shape[3], self.images.shape[4]),
        )
        scale = max(1, math.ceil(64 / max(height, width)))  # small images (8 px digits) drawn large enough to see
        cell_w, cell_h, label, gap, pad = width * scale, height * scale, 12, 8, 2
        canvas = Image.new(
            "RGB", (pad + (k + 1) * (cell_w + pad) + gap, pad + n * (cell_h + label + pad)), (40, 40, 40)
        )
        draw = ImageDraw.Draw(canvas)
        fakes, reals = pixels(self.samples), pixels(self.images.flatten(0, 1))
        for row in range(n):
            y = pad + row * (cell_h + label + pad)
            cells = [(fakes[row], "generated")] + [
                (reals[row * k + c], f"{self.distances[row, c].item():.3g}") for c in range(k)
            ]
            for column, (image, text) in enumerate(cells):
                x = pad + column * (cell_w + pad) + (gap if column else 0)
                tile = Image.fromarray(image).resize((image.shape[1] * scale, image.shape[0] * scale), Image.NEAREST)
                canvas.paste(tile, (x, y))
                draw.text((x + 1, y + cell_h), text, fill=(230, 230, 230) if column else (150, 200, 255))
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        canvas.save(path)
        return path


def _image(item: Any) -> Tensor:
    """An item of a data set: an image, or an ``(image, label)`` pair."""
    return item[0] if isinstance(item, (tuple, list)) else item


def _resized(image: Tensor, size: tuple[int, ...]) -> Tensor:
    if tuple(image.shape[-2:]) == size:
        return image
    return torch.nn.functional.interpolate(image[None].float(), size=size, mode="bilinear", antialias=True)[0]


def find_neighbours(
    samples: Tensor,
    sample_features: Tensor,
    real_features: Tensor,
    real_set: Sequence[Any],
    k: int,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Neighbours:
    """The ``k`` nearest real images of each sample, by the distance between their features.

    ``real_features[i]`` are the features of ``real_set[i]`` (an image, or an ``(image, label)`` pair).
    Real images of another size than the samples are resized to it for the picture (a folder of
    photographs, say); the distances are those of the features.
    """
    if len(samples) != len(sample_features):
        raise ValueError(f"{len(samples)} samples but {len(sample_features)} rows of sample features")
    if len(real_set) != len(real_features):
        raise ValueError(f"a real set of {len(real_set)} images but {len(real_features)} rows of real features")
    distances, indices = nearest_neighbours(sample_features, real_features, k, chunk_size=chunk_size)
    distances, indices = distances.cpu(), indices.cpu()
    size = tuple(samples.shape[-2:])
    images = torch.stack([_resized(_image(real_set[i]), size) for i in indices.flatten().tolist()])
    return Neighbours(samples.cpu(), images.view(*indices.shape, *images.shape[1:]), distances, indices)
