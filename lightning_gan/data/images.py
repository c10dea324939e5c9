"""Image data modules. Images come out in [-1, 1] with shape ``(C, H, W)``.

Batches are ``(images, labels)`` (labels int64), or the image tensor alone for data without
classes (``num_classes == 0``). Downloads happen only in ``prepare_data``, through torchvision;
``setup`` reads the files with the small readers below, so data placed by hand works the same.
"""

from __future__ import annotations

import gzip
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lightning_gan.data._resumable import ResumableDataLoader, ResumableRandomSampler
from lightning_gan.nets._recordable import RecordsInit

__all__ = [
    "CIFAR10DataModule",
    "CelebADataModule",
    "DigitsDataModule",
    "FashionMNISTDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


# --------------------------------------------------------------------------------------------
# Datasets


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
        self.files, self.labels, self.size = files, labels, size
        self.mode = "RGB" if channels == 3 else "L"

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Tensor | tuple[Tensor, int]:
        from PIL import Image

        with Image.open(self.files[index]) as image:
            pixels = np.array(_square(image.convert(self.mode), self.size), dtype=np.uint8)
        tensor = torch.from_numpy(pixels)
        tensor = tensor[None] if tensor.dim() == 2 else tensor.permute(2, 0, 1)
        tensor = tensor.float().div_(127.5).sub_(1.0)
        return tensor if self.labels is None else (tensor, self.labels[index])


# --------------------------------------------------------------------------------------------
# Readers


def _find(folder: Path, name: str) -> Path | None:
    """``folder/name``, or its gzipped ``name.gz``; ``None`` if neither exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


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


def _resize_uint8(images: Tensor, size: int, chunk: int = 2048) -> Tensor:
    """Resize ``(N, C, H, W)`` uint8 images to ``size x size`` (bicubic, antialiased), in chunks."""
    out = torch.empty((len(images), images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].float()
        block = F.interpolate(block, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
        out[start : start + chunk] = block.round_().clamp_(0, 255).to(torch.uint8)
    return out


def _image_files(folder: Path, recursive: bool) -> list[Path]:
    """Image files in ``folder`` (sorted by path), skipping hidden files and folders."""
    if not recursive:
        entries = (p for p in folder.iterdir() if p.is_file())
        return sorted(p for p in entries if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))
    files = []
    for directory, subdirectories, names in os.walk(folder):
        subdirectories[:] = [d for d in subdirectories if not d.startswith(".")]
        files.extend(
            Path(directory, n) for n in names if Path(n).suffix.lower() in IMAGE_EXTENSIONS and not n.startswith(".")
        )
    return sorted(files)


# --------------------------------------------------------------------------------------------
# Data modules


class _ImageDataModule(RecordsInit, L.LightningDataModule):
    """Shared by the image data modules: argument checks, ``dims``, the training loader.

    Subclasses fill ``self.train_dataset`` in ``setup`` (an :class:`_InMemory` or a per-item
    dataset). The loader shuffles and drops the last partial batch. ``init_spec`` records how the
    module was built; GAN checkpoints keep it, so ``lightning-gan evaluate CKPT`` finds the data set.
    """

    def __init__(
        self,
        *,
        size: int,
        batch_size: int,
        num_workers: int | None,
        pin_memory: bool | None,
        channels: int,
        num_classes: int | None,
        min_size: int = 1,
        on_device: bool = False,
    ) -> None:
        super().__init__()
        self._check_int("size", size, min_size)
        self._check_int("batch_size", batch_size, 1)
        if num_workers is not None:
            self._check_int("num_workers", num_workers, 0)
        if pin_memory is not None and not isinstance(pin_memory, bool):
            raise TypeError(
                f"{self._name}: pin_memory={pin_memory!r}; expected True, False or None (pin when CUDA is available)"
            )
        if not isinstance(on_device, bool):
            raise TypeError(f"{self._name}: on_device={on_device!r}; expected True or False")
        if on_device and num_workers:
            raise ValueError(
                f"{self._name}: on_device=True with num_workers={num_workers}; a set held on the device is "
                "indexed in the training process: expected num_workers=0"
            )
        self.on_device = on_device
        self.size, self.batch_size = size, batch_size
        self.num_workers = min(8, os.cpu_count() or 1) if num_workers is None else num_workers
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.dims = (channels, size, size)
        self.num_classes = num_classes
        self.train_dataset: Dataset | None = None

    @property
    def _name(self) -> str:
        return type(self).__name__

    def _check_int(self, name: str, value: Any, minimum: int) -> None:
        if not (isinstance(value, int) and not isinstance(value, bool) and value >= minimum):
            raise ValueError(f"{self._name}: {name}={value!r}; expected an int >= {minimum}")

    def _check_root(self, root: Any) -> Path:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"{self._name}: root={root!r}; expected a folder path (str or os.PathLike)")
        return Path(root).expanduser()

    def _use(self, dataset: Dataset, where: Path | str) -> None:
        """Keep ``dataset`` for the loader, after checking it makes at least one full batch."""
        count = len(dataset)  # type: ignore[arg-type]
        if count < self.batch_size:
            raise ValueError(
                f"{self._name}: {count} images in {where}, fewer than batch_size={self.batch_size}: "
                "every batch would be dropped. Lower batch_size or add images."
            )
        self.train_dataset = dataset

    def train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            raise RuntimeError(f"{self._name}: call setup() before train_dataloader()")
        dataset = self.train_dataset
        in_memory = isinstance(dataset, _InMemory)
        pin_memory = self.pin_memory
        if self.on_device and in_memory:
            dataset = self._on_training_device(dataset)  # type: ignore[arg-type]
            pin_memory = pin_memory and dataset.images.device.type == "cpu"  # batches are made on the device
        return ResumableDataLoader(  # shuffled as shuffle=True shuffles, and resumable mid-epoch
            dataset,
            batch_size=self.batch_size,
            sampler=ResumableRandomSampler(self.train_dataset),  # type: ignore[arg-type]
            drop_last=True,
            collate_fn=_as_is if in_memory else None,
            num_workers=self.num_workers,
            pin_memory=pin_memory,
            persistent_workers=self.num_workers > 0,
        )

    def _on_training_device(self, dataset: _InMemory) -> _InMemory:
        """``dataset`` on the device the trainer trains on (as stored: uint8 sets convert per batch there)."""
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        if dataset.images.device == device:
            return dataset
        labels = None if dataset.labels is None else dataset.labels.to(device)
        return _InMemory(dataset.images.to(device), labels)


class DigitsDataModule(_ImageDataModule):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), resized.

    Ships inside scikit-learn, so it works offline: the image data set of choice for tests and
    CPU recipes. Batches are ``(images, labels)`` with images ``(B, 1, size, size)`` in [-1, 1].

    Args:
        size: side of the resized images (bicubic upsampling gave sharper samples than bilinear).
        batch_size: images per batch.
        num_workers: data loader worker processes (the whole set is one small tensor: 0 is fastest).
        on_device: hold the whole set on the training device (a GPU) and index batches there: no
            loader copies per batch. Needs ``num_workers=0``.
    """

    def __init__(self, size: int = 16, batch_size: int = 64, num_workers: int = 0, on_device: bool = False) -> None:
        super().__init__(
            size=size,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=False,
            channels=1,
            num_classes=10,
            min_size=8,
            on_device=on_device,
        )
        self.images: Tensor | None = None
        self.labels: Tensor | None = None

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
        self._use(_InMemory(self.images, self.labels), "scikit-learn's digits")


class _DownloadableDataModule(_ImageDataModule):
    """A data set torchvision can download: ``prepare_data`` downloads, ``setup`` reads.

    Subclasses say where the files go (:meth:`folder`), which are missing (:meth:`_missing`),
    how torchvision fetches them (:meth:`_download`) and how to place them by hand.
    """

    title = ""  # the data set's name in messages
    source = ""  # where the files come from
    manual = ""  # how to place the files by hand, with {folder}, {root} and {source}

    def __init__(self, root: str | os.PathLike[str], *, download: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = self._check_root(root)
        if not isinstance(download, bool):
            raise TypeError(f"{self._name}: download={download!r}; expected True or False")
        self.download = download

    @property
    def folder(self) -> Path:
        """The folder that holds (or will hold) the files."""
        raise NotImplementedError

    @property
    def expected(self) -> list[str]:
        """The names of the files (or folders) expected in :attr:`folder`."""
        raise NotImplementedError

    def _missing(self) -> list[str]:
        return [name for name in self.expected if _find(self.folder, name) is None]

    def _download(self) -> None:
        raise NotImplementedError

    def _not_found(self, missing: list[str], cause: BaseException | None = None) -> FileNotFoundError:
        message = (
            f"{self._name}: the {self.title} training files are not in {self.folder}: expected "
            f"{', '.join(self.expected)} there (missing: {', '.join(missing)})."
        )
        manual = self.manual.format(folder=self.folder, root=self.root, source=self.source)
        if cause is not None:
            message += (
                f" Downloading them from {self.source} failed ({type(cause).__name__}: {cause}). Fix that (the "
                f"network connection, usually) and run again, or download them yourself: {manual}"
            )
        elif self.download:
            message += (
                f" prepare_data() downloads them (from {self.source}) on a machine with network access: run it "
                f"first (Trainer.fit does), or download them yourself: {manual}"
            )
        else:
            message += (
                f" Run with download=True (the default) on a machine with network access, which fetches them from "
                f"{self.source}, or download them yourself: {manual}"
            )
        return FileNotFoundError(message)

    def prepare_data(self) -> None:
        """Download the files with torchvision if they are missing and ``download`` is on."""
        missing = self._missing()
        if not missing:
            return
        if not self.download:
            raise self._not_found(missing)
        try:
            self._download()
        except Exception as err:  # URLError, HTTPError, a corrupt download, gdown missing...
            raise self._not_found(missing, cause=err) from err
        missing = self._missing()
        if missing:
            raise self._not_found(missing)

    def _check_files(self) -> None:
        missing = self._missing()
        if missing:
            raise self._not_found(missing)


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
        self.images, self.labels = images, labels
        self._use(_InMemory(images, labels), self.folder)


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
        self.images, self.labels = all_images, all_labels
        self._use(_InMemory(all_images, all_labels), self.folder)


CELEBA_SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}


class CelebADataModule(_DownloadableDataModule):
    """CelebA's aligned 178x218 faces, decoded from disk per item; images ``(B, 3, size, size)``.

    Each face is centre-cropped to 178x178 (the centred square) and resized to ``size``
    (bicubic): the usual GAN pre-processing. No classes: batches are the image tensor alone and
    ``num_classes`` is 0. Reads ``root/celeba/img_align_celeba/*.jpg`` and
    ``root/celeba/list_eval_partition.txt``, where ``torchvision.datasets.CelebA`` puts them.

    Args:
        root: data folder (the files go to ``root/celeba``).
        size: image side.
        split: ``"train"`` (partition 0, 162,770 images), ``"valid"`` (1), ``"test"`` (2) or
            ``"all"`` (every image).
        batch_size: images per batch.
        num_workers: data loader worker processes; ``None``: ``min(8, os.cpu_count())``.
        pin_memory: pin batches for faster GPU copies; ``None``: when CUDA is available.
        download: let ``prepare_data`` download missing files (torchvision fetches them from
            Google Drive, which needs the ``gdown`` package and often hits its quota).
    """

    title = "CelebA"
    source = "Google Drive (torchvision.datasets.CelebA; needs the gdown package)"
    manual = (
        "get img_align_celeba.zip and list_eval_partition.txt from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html, "
        "unzip the images so that {folder}/img_align_celeba/000001.jpg exists, and put list_eval_partition.txt "
        "in {folder}"
    )

    def __init__(
        self,
        root: str | os.PathLike[str] = "data",
        *,
        size: int = 64,
        split: str = "train",
        batch_size: int = 64,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        download: bool = True,
    ) -> None:
        if split not in CELEBA_SPLITS:
            raise ValueError(f"CelebADataModule: split={split!r}; expected one of {list(CELEBA_SPLITS)}")
        super().__init__(
            root,
            download=download,
            size=size,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=pin_memory,
            channels=3,
            num_classes=0,
        )
        self.split = split

    @property
    def folder(self) -> Path:
        return self.root / "celeba"

    @property
    def expected(self) -> list[str]:
        return ["img_align_celeba/", "list_eval_partition.txt"]

    def _missing(self) -> list[str]:
        return [
            name for name in self.expected if not (self.folder / name).is_dir() and not (self.folder / name).is_file()
        ]

    def _download(self) -> None:
        import torchvision

        torchvision.datasets.CelebA(str(self.root), split="all", target_type=[], download=True)

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is not None:
            return
        self._check_files()
        partition_file = self.folder / "list_eval_partition.txt"
        wanted = CELEBA_SPLITS[self.split]
        names = []
        for number, line in enumerate(partition_file.read_text().splitlines(), start=1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].isdigit():
                raise ValueError(f"{self._name}: {partition_file}, line {number}: {line!r}; expected '<file> <0|1|2>'")
            if wanted is None or int(fields[1]) == wanted:
                names.append(fields[0])
        image_folder = self.folder / "img_align_celeba"
        present = set(os.listdir(image_folder))
        absent = [name for name in names if name not in present]
        if absent:
            raise FileNotFoundError(
                f"{self._name}: {len(absent)} of the {len(names)} images of split {self.split!r} listed in "
                f"{partition_file} are not in {image_folder} (first: {absent[0]}). Unzip img_align_celeba.zip "
                f"there completely: {self.manual.format(folder=self.folder, root=self.root, source=self.source)}"
            )
        self._use(_ImageFiles([image_folder / n for n in names], None, self.size, 3), image_folder)


class ImageFolderDataModule(_ImageDataModule):
    """Any folder of images (.png, .jpg, .jpeg, .bmp, .webp), decoded from disk per item.

    With sub-folders, each (sorted by name) is a class, labelled 0, 1, ... in that order, and
    its images are found at any depth: batches are ``(images, labels)``. Without sub-folders,
    the images directly in ``root`` are the data, ``num_classes`` is 0 and batches are the
    image tensor alone. Hidden files and folders are skipped. Each image is resized so its
    shorter side is ``size`` and centre-cropped to ``size x size``.

    ``dims`` is known from the arguments. ``num_classes`` is found at construction by listing
    the sub-folders when ``root`` exists; otherwise it is ``None`` until ``setup``.

    Args:
        root: the folder.
        size: image side.
        channels: 3 (RGB) or 1 (grayscale); images are converted.
        batch_size: images per batch.
        num_workers: data loader worker processes; ``None``: ``min(8, os.cpu_count())``.
        pin_memory: pin batches for faster GPU copies; ``None``: when CUDA is available.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        size: int = 64,
        channels: int = 3,
        batch_size: int = 64,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
    ) -> None:
        if not (isinstance(channels, int) and not isinstance(channels, bool) and channels in (1, 3)):
            raise ValueError(f"ImageFolderDataModule: channels={channels!r}; expected 3 (RGB) or 1 (grayscale)")
        super().__init__(
            size=size,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=pin_memory,
            channels=channels,
            num_classes=None,
        )
        self.root = self._check_root(root)
        self.classes: list[str] | None = None
        if self.root.is_dir():
            self.classes = self._list_classes()
            self.num_classes = len(self.classes)

    def _list_classes(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def _not_found(self, problem: str) -> FileNotFoundError:
        return FileNotFoundError(
            f"{self._name}: {problem}: expected image files ({', '.join(IMAGE_EXTENSIONS)}) directly in {self.root}, "
            f"or one sub-folder per class holding them (e.g. {self.root / 'cats' / '0001.png'}). "
            "Put the images there or pass the folder that holds them as root."
        )

    def setup(self, stage: str | None = None) -> None:
        if self.train_dataset is not None:
            return
        if not self.root.is_dir():
            raise self._not_found(f"no folder {self.root}")
        classes = self._list_classes()
        if self.classes is not None and classes != self.classes:
            raise RuntimeError(
                f"{self._name}: the class sub-folders of {self.root} changed since construction "
                f"(from {self.classes} to {classes}); num_classes={self.num_classes} no longer holds"
            )
        labels: list[int] | None
        if classes:
            loose = _image_files(self.root, recursive=False)
            if loose:
                raise ValueError(
                    f"{self._name}: {self.root} holds both class sub-folders {classes} and images at top level "
                    f"(e.g. {loose[0].name}): move the images into class folders, or point root at a folder "
                    "of images only"
                )
            files, labels = [], []
            for label, name in enumerate(classes):
                found = _image_files(self.root / name, recursive=True)
                if not found:
                    raise self._not_found(f"the class folder {self.root / name} has no images")
                files += found
                labels += [label] * len(found)
        else:
            files, labels = _image_files(self.root, recursive=False), None
            if not files:
                raise self._not_found(f"no images in {self.root}")
        self.classes, self.num_classes = classes, len(classes)
        self._use(_ImageFiles(files, labels, self.size, self.dims[0]), self.root)
