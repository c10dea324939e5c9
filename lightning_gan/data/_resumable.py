"""Loaders whose place in an epoch survives a checkpoint, so a resumed run sees the batches it would have.

Lightning saves and restores the state of any training loader with ``state_dict`` and
``load_state_dict``. These record the epoch's shuffling seed and how many batches were used;
resuming re-creates that epoch's order and starts after the used batches. A fresh run draws exactly
what ``DataLoader(shuffle=True)`` draws (the seed comes from the global torch RNG, once per epoch),
so switching to them changes no existing run.

Under DDP Lightning wraps the sampler in its ``DistributedSamplerWrapper``, which shards one list of
indices over the processes and shuffles it by its seed and ``set_epoch``. Every process then gives
its wrapped :class:`ResumableRandomSampler` the same seed, made from the wrapper's seed and epoch, so
the processes share one order and take disjoint shards of it; the epoch's order is a function of
the seed and the epoch alone, and a resumed run skips the batches already used without loading them.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, Sampler

from lightning_gan._internals import wrapped_sampler

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

    On one process its sampler (or its batch sampler's sampler) must be a
    :class:`ResumableRandomSampler`: the state is that epoch's seed and the batches used. Under DDP
    its sampler is a ``DistributedSampler`` (Lightning's wrapper around the resumable sampler, or one
    of your own), whose order is fixed by its seed and epoch: the state is the batches used, the
    same on every process, and a resumed run skips that many batches of the epoch's order (on as
    many processes as the run was saved on). Anything else has an empty state: a resumed run starts
    the interrupted epoch over.
    """

    _consumed = 0  # batches handed out in the current epoch
    _resuming = False
    _skip = 0  # batches of a distributed sampler's epoch that a resumed run does not hand out again
    _next_epoch: int | None = None  # a resumed run's distributed epochs: the saved one, then one more each

    def _resumable(self) -> tuple[ResumableRandomSampler, int] | None:
        """The resumable sampler and the indices per batch, if there is one."""
        sampler, per_batch = self.sampler, self.batch_size
        if isinstance(sampler, BatchSampler):
            sampler, per_batch = sampler.sampler, sampler.batch_size
        if isinstance(sampler, ResumableRandomSampler) and per_batch is not None:
            return sampler, per_batch
        return None

    def _distributed(self) -> DistributedSampler | None:
        """The distributed sampler (the sampler, or the batch sampler's sampler), if there is one."""
        sampler = self.sampler
        if isinstance(sampler, BatchSampler):
            sampler = sampler.sampler
        if self.batch_sampler is not None and not isinstance(sampler, DistributedSampler):
            sampler = getattr(self.batch_sampler, "sampler", None)
        return sampler if isinstance(sampler, DistributedSampler) else None

    @property
    def _index_sampler(self) -> Any:  # overrides a private DataLoader hook: tests/test_internals.py
        # DataLoader's (private) source of indices, or batches of them, for its iterators; wrapping it
        # is the one place that sees a whole epoch's indices without the loader re-creating its samplers
        index_sampler = super()._index_sampler
        distributed = self._distributed()
        return index_sampler if distributed is None else _DistributedEpoch(self, index_sampler, distributed)

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
        distributed = self._distributed()
        if distributed is not None:
            return {"batches": self._consumed, "epoch": distributed.epoch, "num_replicas": distributed.num_replicas}
        resumable = self._resumable()
        if resumable is None or resumable[0].epoch_seed is None:
            return {}
        return {"epoch_seed": resumable[0].epoch_seed, "batches": self._consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        distributed = self._distributed()
        if distributed is not None:  # the same number of processes gives the same order: skip what was used
            if state.get("num_replicas") == distributed.num_replicas:
                # The epochs after a resume are numbered from the saved one here, not by Lightning's
                # set_epoch: restarting from a checkpoint written at an epoch's end, Lightning numbers
                # the (empty) rest of that epoch and every later one a step too high.
                self._next_epoch = state["epoch"]
                self._consumed = self._skip = state["batches"]
                self._resuming = True
            return
        resumable = self._resumable()
        if resumable is None or "epoch_seed" not in state:
            return
        sampler, per_batch = resumable
        sampler.resume(state["epoch_seed"], state["batches"] * per_batch)
        self._consumed, self._resuming = state["batches"], True


class _DistributedEpoch:
    """A distributed loader's index sampler, iterated as one epoch: the wrapped resumable sampler
    (if any) is seeded from the distributed sampler's seed and epoch, the same on every process, and
    the batches a resumed epoch already used are skipped as indices, without loading them. Each
    iteration of a resumed loader is the next epoch after the saved one."""

    def __init__(self, loader: ResumableDataLoader, index_sampler: Any, distributed: DistributedSampler) -> None:
        self.loader, self.index_sampler, self.distributed = loader, index_sampler, distributed

    def __len__(self) -> int:
        return len(self.index_sampler)

    def __iter__(self) -> Iterator[Any]:
        # a generator: DataLoader's iterators may call iter() twice and start only the second
        skip, self.loader._skip = self.loader._skip, 0
        if self.loader._next_epoch is not None:
            self.distributed.set_epoch(self.loader._next_epoch)
            self.loader._next_epoch += 1
        wrapped = wrapped_sampler(self.distributed)
        if isinstance(wrapped, BatchSampler):
            wrapped = wrapped.sampler
        if isinstance(wrapped, ResumableRandomSampler):
            wrapped.resume(_epoch_seed(self.distributed.seed, self.distributed.epoch), 0)
        yield from itertools.islice(self.index_sampler, skip, None)


def _epoch_seed(seed: int, epoch: int) -> int:
    """A seed for the resumable sampler's order in ``epoch``, unrelated to the distributed sampler's
    own ``seed + epoch``, the same on every process."""
    return random.Random(f"lightning_gan.data/{seed}/{epoch}").getrandbits(63)
