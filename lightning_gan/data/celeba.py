"""CelebA's aligned faces, decoded from disk per item."""

from __future__ import annotations

import os
from pathlib import Path

from lightning_gan.data._base import _DownloadableDataModule
from lightning_gan.data._datasets import _ImageFiles

__all__ = ["CELEBA_SPLITS", "CelebADataModule"]

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
        subset: train on part of ``split``: an int image count, or a float fraction in (0, 1]
            (rounded down); ``None``: all of it.
        subset_seed: seed of the subset's draw (same seed, same images).
        hflip: mirror each training image left-right with probability 1/2, on the device,
            every time it is drawn (BigGAN's and DiffAugment's ``--mirror_augment``, StyleGAN's ``--mirror``).
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
        subset: int | float | None = None,  # noqa: PYI041 (int first: the CLI reads "100" as a count)
        subset_seed: int = 0,
        hflip: bool = False,
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
            subset=subset,
            subset_seed=subset_seed,
            hflip=hflip,
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
