"""Loaders whose place in an epoch survives a checkpoint, so a resumed run sees the batches it would have.

Lightning saves and restores the state of any training loader with ``state_dict`` and
``load_state_dict``. These record the epoch's shuffling seed and how many batches were used;
resuming re-creates that epoch's order and starts after the used batches. A fresh run draws exactly
what ``DataLoader(shuffle=True)`` draws (the seed comes from the global torch RNG, once per epoch),
so switching to them changes no existing run.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, Sampler

__all__ = ["ResumableDataLoader", "ResumableRandomSampler"]


class ResumableRandomSampler(Sampler[int]):
    """``RandomSampler``'s order (same seed draw, same permutation) that can restart inside an epoch."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source
        self.epoch_seed: int | None = None  # the seed of the epoch being iterated
        self._resume: tuple[int, int] | None = None

    def __len__(self) -> int:
        return len(self.data_source)

    def resume(self, epoch_seed: int, start: int) -> None:
        """Make the next iteration replay the epoch of ``epoch_seed`` from index ``start``."""
        self._resume = (epoch_seed, start)

    def __iter__(self) -> Iterator[int]:
        if self._resume is not None:
            seed, start = self._resume
            self._resume = None
        else:  # as RandomSampler does: one draw from the global RNG per epoch
            seed, start = int(torch.empty((), dtype=torch.int64).random_().item()), 0
        self.epoch_seed = seed
        generator = torch.Generator()
        generator.manual_seed(seed)
        yield from torch.randperm(len(self.data_source), generator=generator).tolist()[start:]


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` that counts the batches it hands out and resumes after them.

    Its sampler (or its batch sampler's sampler) must be a :class:`ResumableRandomSampler`; when
    something else replaced it (Lightning's distributed sampler under DDP), the state is empty
    and a resumed run starts the interrupted epoch over.
    """

    _consumed = 0  # batches handed out in the current epoch
    _resuming = False

    def _resumable(self) -> tuple[ResumableRandomSampler, int] | None:
        """The resumable sampler and the indices per batch, if there is one."""
        sampler, per_batch = self.sampler, self.batch_size
        if isinstance(sampler, BatchSampler):
            sampler, per_batch = sampler.sampler, sampler.batch_size
        if isinstance(sampler, ResumableRandomSampler) and per_batch is not None:
            return sampler, per_batch
        return None

    def __iter__(self) -> Iterator[Any]:
        if not self._resuming:
            self._consumed = 0
        self._resuming = False
        batches = super().__iter__()

        def counted() -> Iterator[Any]:
            for batch in batches:
                self._consumed += 1
                yield batch

        return counted()

    def state_dict(self) -> dict[str, int]:
        resumable = self._resumable()
        if resumable is None or resumable[0].epoch_seed is None:
            return {}
        return {"epoch_seed": resumable[0].epoch_seed, "batches": self._consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        resumable = self._resumable()
        if resumable is None or not state:
            return
        sampler, per_batch = resumable
        sampler.resume(state["epoch_seed"], state["batches"] * per_batch)
        self._consumed, self._resuming = state["batches"], True
