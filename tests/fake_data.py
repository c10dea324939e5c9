"""Small fake image data sets in the exact on-disk layouts the image data modules read.

Each writer returns the folder that holds the files it wrote. Pixels are a smooth pattern that
differs per image plus noise; every set contains the values 0 and 255.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np


def _pictures(rng: np.random.Generator, num: int, height: int, width: int, channels: int) -> np.ndarray:
    """``(num, height, width, channels)`` uint8: a random gradient and blob per image, plus noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = y / max(height - 1, 1), x / max(width - 1, 1)
    images = np.empty((num, height, width, channels), dtype=np.uint8)
    for i in range(num):
        cy, cx, radius = rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8), rng.uniform(0.1, 0.3)
        blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * radius**2))
        for c in range(channels):
            a, b = rng.uniform(-1, 1, size=2)
            value = 127.5 + 80 * (a * x + b * y - (a + b) / 2) + 120 * blob * rng.choice([-1, 1])
            value += rng.normal(0, 8, size=value.shape)
            images[i, :, :, c] = np.clip(np.rint(value), 0, 255).astype(np.uint8)
    images.reshape(-1)[:2] = (0, 255)  # both ends of the range occur
    return images


def write_mnist(root: str | Path, num: int = 64, fashion: bool = False, seed: int = 0) -> Path:
    """Write ``num`` 28x28 training digits as ``root/MNIST/raw/train-{images-idx3,labels-idx1}-ubyte``
    (``root/FashionMNIST/raw`` with ``fashion``), labels ``i % 10``. Returns the raw folder."""
    folder = Path(root) / ("FashionMNIST" if fashion else "MNIST") / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    images = _pictures(np.random.default_rng(seed), num, 28, 28, 1)[..., 0]
    labels = (np.arange(num) % 10).astype(np.uint8)
    header = (0x00000803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (num, 28, 28))
    (folder / "train-images-idx3-ubyte").write_bytes(header + images.tobytes())
    header = (0x00000801).to_bytes(4, "big") + num.to_bytes(4, "big")
    (folder / "train-labels-idx1-ubyte").write_bytes(header + labels.tobytes())
    return folder


def write_cifar10(root: str | Path, num_per_batch: int = 16, seed: int = 0) -> Path:
    """Write ``root/cifar-10-batches-py/data_batch_1..5`` (and ``batches.meta``): pickled dicts
    with ``b"data"`` uint8 ``(N, 3072)`` (channel planes, row-major) and ``b"labels"``
    (``i % 10`` within each batch). Returns the ``cifar-10-batches-py`` folder."""
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for batch in range(1, 6):
        images = _pictures(rng, num_per_batch, 32, 32, 3)  # (N, H, W, C)
        entry = {
            b"batch_label": f"training batch {batch} of 5".encode(),
            b"labels": [i % 10 for i in range(num_per_batch)],
            b"data": images.transpose(0, 3, 1, 2).reshape(num_per_batch, 3072),
            b"filenames": [f"fake_{batch}_{i}.png".encode() for i in range(num_per_batch)],
        }
        with open(folder / f"data_batch_{batch}", "wb") as file:
            pickle.dump(entry, file)
    names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    meta = {b"num_cases_per_batch": num_per_batch, b"label_names": names, b"num_vis": 3072}
    with open(folder / "batches.meta", "wb") as file:
        pickle.dump(meta, file)
    return folder


def write_celeba(root: str | Path, num: int = 20, seed: int = 0) -> Path:
    """Write ``num`` 178x218 JPGs ``root/celeba/img_align_celeba/000001.jpg``, ... and
    ``root/celeba/list_eval_partition.txt`` giving image i the partition ``(0, 0, 0, 1, 2)[i % 5]``.
    Returns the ``celeba`` folder."""
    from PIL import Image

    folder = Path(root) / "celeba"
    images_folder = folder / "img_align_celeba"
    images_folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, pixels in enumerate(_pictures(np.random.default_rng(seed), num, 218, 178, 3)):
        name = f"{i + 1:06d}.jpg"
        Image.fromarray(pixels, "RGB").save(images_folder / name, quality=95)
        lines.append(f"{name} {(0, 0, 0, 1, 2)[i % 5]}\n")
    (folder / "list_eval_partition.txt").write_text("".join(lines))
    return folder


def write_image_folder(
    root: str | Path,
    classes: tuple[str, ...] = ("a", "b"),
    per_class: int = 8,
    size: tuple[int, int] = (40, 30),
    seed: int = 0,
) -> Path:
    """Write ``per_class`` RGB PNGs of ``size = (width, height)`` into ``root/<class>/`` for each
    class (``classes=()``: directly into ``root``). Returns ``root``."""
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    width, height = size
    for name in classes or ("",):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, pixels in enumerate(_pictures(rng, per_class, height, width, 3)):
            Image.fromarray(pixels, "RGB").save(folder / f"{i:04d}.png")
    return root
