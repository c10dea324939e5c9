"""Limited-data subsets: which images of a training split a ``subset=`` argument keeps.

The protocol of the DiffAugment and ADA papers (10% of CIFAR-10, FFHQ-1k): a fixed, seeded
draw from the training split, the same share of every class when the set has labels.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from lightning_gan._validate import check_int


def check_subset(owner: str, subset: Any, subset_seed: Any) -> None:
    """Raise unless ``subset`` is None, an image count >= 1 (an int, or a whole float above 1) or a float
    fraction in (0, 1], and ``subset_seed`` an int >= 0."""
    if subset is not None:
        if isinstance(subset, bool) or not isinstance(subset, (int, float)):
            raise TypeError(
                f"{owner}: subset={subset!r}; expected None (the whole training split), an int image count "
                "or a float fraction in (0, 1]"
            )
        if not subset > 0:  # <= 0, or NaN
            raise ValueError(f"{owner}: subset={subset!r}; expected an image count >= 1 or a fraction in (0, 1]")
        if isinstance(subset, float) and subset > 1 and not subset.is_integer():
            raise ValueError(
                f"{owner}: subset={subset!r} is a fraction > 1; expected a fraction in (0, 1] of the training "
                f"split, or an int image count (subset={math.floor(subset)})"
            )
    check_int("subset_seed", subset_seed, 0, owner=owner)


def subset_count(owner: str, subset: int | float, split_size: int, where: str) -> int:  # noqa: PYI041
    """The number of images ``subset`` asks for out of ``split_size`` (a fraction rounds down).

    A whole number above 1 is a count even as a float (``100.0``: what a config parser may make of
    ``--data.init_args.subset 100``), since a fraction cannot exceed 1.
    """
    if isinstance(subset, float) and subset > 1:
        subset = int(subset)
    if isinstance(subset, float):
        count = math.floor(round(subset * split_size, 6))  # round first: 0.29 * 100 is 28.999...
        if count < 1:
            raise ValueError(
                f"{owner}: subset={subset!r} of the {split_size} images of the training split ({where}) is "
                "0 images; expected a larger fraction or an int image count"
            )
        return count
    if subset > split_size:
        raise ValueError(
            f"{owner}: subset={subset!r} is more than the {split_size} images of the training split ({where}); "
            f"expected at most {split_size}"
        )
    return subset


def class_shares(class_sizes: list[int], count: int) -> list[int]:
    """Images to draw from each class: equal shares, the remainder one each to the lowest labels.

    A class with fewer images than its share gives all it has, and what it lacks is shared among
    the others the same way. ``count`` must be at most ``sum(class_sizes)``.
    """
    shares = [0] * len(class_sizes)
    left = count
    while left > 0:
        room = [c for c, size in enumerate(class_sizes) if shares[c] < size]
        each, extra = divmod(left, len(room))
        for rank, c in enumerate(room):
            add = min(each + int(rank < extra), class_sizes[c] - shares[c])
            shares[c] += add
            left -= add
    return shares


def subset_indices(split_size: int, labels: Tensor | None, count: int, seed: int) -> Tensor:
    """Sorted positions of ``count`` images drawn from a split of ``split_size``, class-balanced by ``labels``.

    The draw uses its own generator seeded with ``seed`` (the global RNG is untouched), one
    permutation per class in label order, so a smaller subset with the same seed lies inside a
    larger one.
    """
    generator = torch.Generator().manual_seed(seed)
    if labels is None:
        return torch.randperm(split_size, generator=generator)[:count].sort().values
    classes = torch.unique(labels).tolist()
    members = [torch.nonzero(labels == c).flatten() for c in classes]
    shares = class_shares([len(m) for m in members], count)
    chosen = [m[torch.randperm(len(m), generator=generator)[:share]] for m, share in zip(members, shares)]
    return torch.cat(chosen).sort().values
