"""A user's folder of images, optionally one sub-folder per class, decoded from disk per item."""

from __future__ import annotations

import os
from pathlib import Path

from lightning_gan._validate import check_choice
from lightning_gan.data._base import _ImageDataModule
from lightning_gan.data._datasets import FITS, _ImageFiles

__all__ = ["IMAGE_EXTENSIONS", "ImageFolderDataModule"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


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


class ImageFolderDataModule(_ImageDataModule):
    """Any folder of images (.png, .jpg, .jpeg, .bmp, .webp), decoded from disk per item.

    With sub-folders, each (sorted by name) is a class, labelled 0, 1, ... in that order, and
    its images are found at any depth: batches are ``(images, labels)``. Without sub-folders,
    the images directly in ``root`` are the data, ``num_classes`` is 0 and batches are the
    image tensor alone. Hidden files and folders are skipped.

    Each image is made ``size`` (a side: squares; or ``(H, W)``, e.g. ``(128, 256)`` for landscape
    images 256 wide and 128 tall) by ``fit``: ``"crop"`` takes the largest centred crop of the
    size's aspect ratio and resizes it (for squares: the centred square of the shorter side);
    ``"pad"`` resizes the whole image to fit inside and centres it on black (letterbox);
    ``"stretch"`` resizes it to the size, changing its aspect ratio. Bicubic throughout. The
    FID/KID reference set is these same images (FidelityMetrics reads the training set).

    ``dims`` is known from the arguments. ``num_classes`` is found at construction by listing
    the sub-folders when ``root`` exists; otherwise it is ``None`` until ``setup``.

    Args:
        root: the folder.
        size: image side, or ``(H, W)`` (StyleGAN2 takes H != W, powers of two, aspect ratio up to 4).
        fit: ``"crop"``, ``"pad"`` or ``"stretch"``: how an image of another aspect ratio is made ``size``.
        channels: 3 (RGB) or 1 (grayscale); images are converted.
        batch_size: images per batch.
        num_workers: data loader worker processes; ``None``: ``min(8, os.cpu_count())``.
        pin_memory: pin batches for faster GPU copies; ``None``: when CUDA is available.
        subset: train on part of the folder: an int image count, or a float fraction in (0, 1]
            (rounded down), the same share of every class folder; ``None``: all of it.
        subset_seed: seed of the subset's draw (same seed, same images).
        hflip: mirror each training image left-right with probability 1/2, on the device,
            every time it is drawn (BigGAN's and DiffAugment's ``--mirror_augment``, StyleGAN's ``--mirror``).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        size: int | tuple[int, int] = 64,
        fit: str = "crop",
        channels: int = 3,
        batch_size: int = 64,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        subset: int | float | None = None,  # noqa: PYI041 (int first: the CLI reads "100" as a count)
        subset_seed: int = 0,
        hflip: bool = False,
    ) -> None:
        if not (isinstance(channels, int) and not isinstance(channels, bool) and channels in (1, 3)):
            raise ValueError(f"ImageFolderDataModule: channels={channels!r}; expected 3 (RGB) or 1 (grayscale)")
        check_choice("fit", fit, FITS, owner=type(self).__name__)
        self.fit = fit
        super().__init__(
            size=size,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=pin_memory,
            channels=channels,
            num_classes=None,
            subset=subset,
            subset_seed=subset_seed,
            hflip=hflip,
            rectangular=True,
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
        self._use(_ImageFiles(files, labels, self.size, self.dims[0], self.fit), self.root)
