"""What the image data modules share: argument checks, ``dims``, the training loader, downloads."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from lightning_gan._internals import uses_distributed_sampler
from lightning_gan._validate import check_flag, check_int
from lightning_gan.data._datasets import _as_is, _ImageFiles, _InMemory
from lightning_gan.data._resumable import ResumableDataLoader, ResumableRandomSampler
from lightning_gan.data._subset import check_subset, subset_count, subset_indices
from lightning_gan.nets._recordable import RecordsInit


def _find(folder: Path, name: str) -> Path | None:
    """``folder/name``, or its gzipped ``name.gz``; ``None`` if neither exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _check_size(owner: str, size: Any, min_size: int, rectangular: bool) -> int | tuple[int, int]:
    """``size`` as an int side, or (where ``rectangular``) an ``(H, W)`` tuple, after checking it."""
    if isinstance(size, (tuple, list)):
        if not rectangular:
            raise ValueError(
                f"{owner}(size={size!r}): expected an int (the side of square images): "
                "(H, W) sizes are for ImageFolderDataModule"
            )
        if len(size) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < min_size for v in size):
            raise ValueError(f"{owner}(size={size!r}): expected an int or (H, W), ints >= {min_size}")
        return (size[0], size[1])
    expected = f"an int >= {min_size} or (H, W)" if rectangular else f"an int >= {min_size}"
    if isinstance(size, bool) or not isinstance(size, int) or size < min_size:
        raise ValueError(f"{owner}(size={size!r}): expected {expected}")
    return size


class _ImageDataModule(RecordsInit, L.LightningDataModule):
    """Shared by the image data modules: argument checks, ``dims``, the training loader.

    Subclasses read their training split in ``setup`` and hand it to :meth:`_use` (an
    :class:`_InMemory` or an :class:`_ImageFiles`), which draws the ``subset`` when one is asked
    for and keeps the result as ``self.train_dataset``. The loader shuffles and drops the last
    partial batch. ``init_spec`` records how the module was built; GAN checkpoints keep it, so
    ``lightning-gan evaluate CKPT`` finds the data set.
    """

    def __init__(
        self,
        *,
        size: int | tuple[int, int],
        batch_size: int,
        num_workers: int | None,
        pin_memory: bool | None,
        channels: int,
        num_classes: int | None,
        min_size: int = 1,
        on_device: bool = False,
        subset: int | float | None = None,  # noqa: PYI041 (int first: the CLI reads "100" as a count)
        subset_seed: int = 0,
        hflip: bool = False,
        rectangular: bool = False,
    ) -> None:
        super().__init__()
        check_subset(self._name, subset, subset_seed)
        check_flag("hflip", hflip, owner=self._name)
        self.hflip = hflip
        size = _check_size(self._name, size, min_size, rectangular)
        check_int("batch_size", batch_size, 1, owner=self._name)
        check_int("num_workers", num_workers, 0, owner=self._name, optional=True)
        if pin_memory is not None and not isinstance(pin_memory, bool):
            raise TypeError(
                f"{self._name}: pin_memory={pin_memory!r}; expected True, False or None (pin when CUDA is available)"
            )
        check_flag("on_device", on_device, owner=self._name)
        if on_device and num_workers:
            raise ValueError(
                f"{self._name}: on_device=True with num_workers={num_workers}; a set held on the device is "
                "indexed in the training process: expected num_workers=0"
            )
        self.on_device = on_device
        self.size, self.batch_size = size, batch_size
        self.num_workers = min(8, os.cpu_count() or 1) if num_workers is None else num_workers
        self.pin_memory = torch.cuda.is_available() if pin_memory is None else pin_memory
        self.dims = (channels, size, size) if isinstance(size, int) else (channels, *size)
        self.num_classes = num_classes
        self.subset, self.subset_seed = subset, subset_seed
        self.subset_indices: Tensor | None = None  # positions in the full split, sorted, when subset is set
        self.train_dataset: Dataset | None = None

    @property
    def _name(self) -> str:
        return type(self).__name__

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """With ``hflip``, mirror each training image left-right with probability 1/2, on the device.

        Drawn from torch's generator there, after the batch is on the device: a seeded run flips
        the same images, and a resumed run flips as the run it continues (its random state is
        restored before the first batch).
        """
        if not self.hflip or self.trainer is None or not self.trainer.training:
            return batch
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        flip = torch.rand(images.shape[0], device=images.device) < 0.5
        flipped = torch.where(flip.reshape(-1, *[1] * (images.dim() - 1)), images.flip(-1), images)
        return type(batch)([flipped, *batch[1:]]) if isinstance(batch, (tuple, list)) else flipped

    def _check_root(self, root: Any) -> Path:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"{self._name}: root={root!r}; expected a folder path (str or os.PathLike)")
        return Path(root).expanduser()

    def _use(self, dataset: _InMemory | _ImageFiles, where: Path | str) -> None:
        """Keep ``dataset`` (the whole training split), or its ``subset``, for the loader, after
        checking it makes at least one full batch."""
        split_size = len(dataset)
        indices = None
        if self.subset is not None:
            count = subset_count(self._name, self.subset, split_size, str(where))
            labels = None if dataset.labels is None else torch.as_tensor(dataset.labels, dtype=torch.long)
            indices = subset_indices(split_size, labels, count, self.subset_seed)
            dataset = dataset.take(indices)
        count = len(dataset)
        if count < self.batch_size:
            what = f"{count} images in {where}"
            if indices is not None:
                what = f"subset={self.subset!r} keeps {count} of the {split_size} images in {where}, which is"
            raise ValueError(
                f"{self._name}: {what}, fewer than batch_size={self.batch_size}: every batch would be dropped. "
                f"Lower batch_size{' or raise subset' if indices is not None else ''} or add images."
            )
        self.subset_indices = indices
        self.train_dataset = dataset

    def train_dataloader(self) -> DataLoader:
        if self.train_dataset is None:
            raise RuntimeError(f"{self._name}: call setup() before train_dataloader()")
        dataset = self.train_dataset
        self._check_shards(len(dataset))  # type: ignore[arg-type]
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

    def _check_shards(self, count: int) -> None:
        """Under DDP each process gets ``ceil(count / world_size)`` images: at least one full batch each."""
        trainer = self.trainer
        world = trainer.world_size if trainer is not None else 1
        if world == 1 or not uses_distributed_sampler(trainer):
            return
        per_process = math.ceil(count / world)
        if per_process < self.batch_size:
            raise ValueError(
                f"{self._name}: {count} training images shared by {world} processes is {per_process} per process, "
                f"fewer than batch_size={self.batch_size} (a per-process batch): every batch would be dropped. "
                "Lower batch_size, use fewer processes or add images."
            )

    def _on_training_device(self, dataset: _InMemory) -> _InMemory:
        """``dataset`` on the device the trainer trains on (as stored: uint8 sets convert per batch there)."""
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        if dataset.images.device == device:
            return dataset
        labels = None if dataset.labels is None else dataset.labels.to(device)
        return _InMemory(dataset.images.to(device), labels)


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
        check_flag("download", download, owner=self._name)
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
