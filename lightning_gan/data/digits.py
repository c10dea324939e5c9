"""scikit-learn's bundled 8x8 digits: the offline image data set for tests and CPU recipes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from lightning_gan._validate import check
from lightning_gan.data._base import _ImageDataModule
from lightning_gan.data._datasets import _InMemory

__all__ = ["DigitsDataModule", "check_digit_classes"]


def check_digit_classes(owner: str, classes: Any) -> list[int] | None:
    """``classes`` as a sorted list of digit classes, after checking it is None or a non-empty sequence of
    distinct ints in 0-9 (not bools); ``None`` stays ``None`` (all ten)."""
    if classes is None:
        return None
    quoted = f"{owner}(classes={classes!r})"
    check(
        isinstance(classes, Sequence) and not isinstance(classes, (str, bytes)),
        f"{quoted}: expected None (all ten digits) or a list of digit classes (ints in 0-9)",
    )
    check(len(classes) > 0, f"{quoted}: no classes; expected None (all ten digits) or at least one int in 0-9")
    for value in classes:
        check(
            isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 9,
            f"{quoted}: {value!r} is not a digit class; expected ints in 0-9",
        )
    repeated = sorted({value for value in classes if list(classes).count(value) > 1})
    check(not repeated, f"{quoted}: {', '.join(map(str, repeated))} given twice; expected each class once")
    return sorted(classes)


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
        subset: train on part of the split: an int image count, or a float fraction in (0, 1]
            (rounded down), the same share of every class; ``None``: all of it.
        subset_seed: seed of the subset's draw (same seed, same images).
        hflip: mirror each training image left-right with probability 1/2, on the device,
            every time it is drawn (BigGAN's and DiffAugment's ``--mirror_augment``, StyleGAN's ``--mirror``).
        classes: keep only the digits of these classes (e.g. ``[5, 6, 7, 8, 9]``), before ``subset``
            draws (so ``subset=50, classes=[5, 6, 7, 8, 9]`` is 10 images of each of 5-9); ``None``: all
            ten. Labels stay the digits' own (a 7 is labelled 7) and ``num_classes`` stays 10, so a
            model trained on some classes has the same label space, and the same networks, as one
            trained on all of them (a warm start from a model of other classes loads as is); a
            conditional model's ``generate`` still draws labels over all ten unless given ``labels``.
    """

    def __init__(
        self,
        size: int = 16,
        batch_size: int = 64,
        num_workers: int = 0,
        on_device: bool = False,
        *,
        subset: int | float | None = None,  # noqa: PYI041 (int first: the CLI reads "100" as a count)
        subset_seed: int = 0,
        hflip: bool = False,
        classes: Sequence[int] | None = None,
    ) -> None:
        kept = check_digit_classes(type(self).__name__, classes)
        super().__init__(
            size=size,
            batch_size=batch_size,
            num_workers=num_workers,
            pin_memory=False,
            channels=1,
            num_classes=10,
            min_size=8,
            on_device=on_device,
            subset=subset,
            subset_seed=subset_seed,
            hflip=hflip,
        )
        self.classes = kept  # sorted, or None (all ten)
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
        labels = torch.tensor(digits.target, dtype=torch.long)
        where = "scikit-learn's digits"
        if self.classes is not None:
            keep = torch.isin(labels, torch.tensor(self.classes))
            images, labels = images[keep], labels[keep]
            where = f"scikit-learn's digits of classes {self.classes}"
        self._use(_InMemory(images.clamp(0, 1) * 2 - 1, labels), where)
        self.images, self.labels = self.train_dataset.images, self.train_dataset.labels  # type: ignore[union-attr]
