"""Data parallelism for the GAN game: gradients averaged per network, buffers from rank zero."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from lightning_gan._internals import flatten_dense_tensors, stop_ddp_gradient_sync, unflatten_dense_tensors

__all__ = ["DataParallel", "in_flat_buffers"]


class DataParallel:
    """Data parallelism for the GAN game: gradients averaged over processes for the network being stepped.

    DDP's reducer averages every parameter's gradient during each backward and expects every
    parameter to get one; a GAN's discriminator phase leaves the generator without gradients (the
    "parameters that were not used in producing the loss" crash of plain ``strategy="ddp"``), and
    ``find_unused_parameters=True`` pays for a graph walk on every backward. So the DDP wrapper
    Lightning builds is kept for what it does at construction (the same initial weights on every
    rank) and told, at the start of every iteration (Lightning re-arms it after each training
    step), not to synchronize gradients itself; before each optimizer step the gradients
    of that optimizer's parameters are averaged in one all-reduce per dtype, which also works for
    the double backward of R1 and the gradient penalty. Batch-norm buffers are broadcast from rank
    zero at the end of each iteration (DDP does it before each forward), so checkpoints, callbacks
    and every rank's ``generate`` see one model. Each rank reseeds its random stream
    once (``initial seed + rank``), so ranks draw different noise.
    """

    def __init__(self, trainer: L.Trainer, ddp_module: nn.Module | None = None) -> None:
        self.trainer = trainer
        self.ddp_module = ddp_module

    @staticmethod
    def setup(trainer: L.Trainer) -> DataParallel:
        """The synchronizer for this run (a no-op object on one process)."""
        if trainer.world_size == 1:
            return _SingleProcess(trainer)
        strategy = trainer.strategy
        from lightning.pytorch.strategies import DDPStrategy

        if not isinstance(strategy, DDPStrategy) or "DeepSpeed" in type(strategy).__name__:
            raise ValueError(
                f"GANModule runs on one device or with a DDP strategy (strategy='ddp', 'ddp_spawn', 'ddp_notebook'); "
                f"got {type(strategy).__name__} on {trainer.world_size} processes"
            )
        from torch.nn.parallel import DistributedDataParallel

        ddp_module = strategy.model if isinstance(strategy.model, DistributedDataParallel) else None
        torch.manual_seed((torch.initial_seed() + trainer.global_rank) % 2**63)  # different noise per rank
        return DataParallel(trainer, ddp_module)

    def any_rank(self, flag: Tensor) -> Tensor:
        """``flag`` (a boolean scalar) on some rank, as a tensor on the device: one all-reduce, no host sync."""
        flag = flag.to(torch.int32)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return flag.bool()

    def begin_iteration(self) -> None:
        """Switch DDP's own gradient synchronization off for this iteration."""
        if self.ddp_module is not None:
            stop_ddp_gradient_sync(self.ddp_module)  # we average gradients ourselves, per network

    def average_gradients(self, optimizer: Any) -> None:
        """Average the gradients of ``optimizer``'s parameters over all processes."""
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        world_size = self.trainer.world_size

        def average(flat: Tensor) -> None:
            torch.distributed.all_reduce(flat)
            flat.div_(world_size)

        in_flat_buffers(grads, average)

    @torch.no_grad()
    def broadcast_buffers(self, modules: tuple[nn.Module, ...]) -> None:
        """Give every rank rank zero's buffers (batch-norm running statistics)."""
        buffers = [b for module in modules for b in module.buffers() if b.is_floating_point()]
        in_flat_buffers(buffers, lambda flat: torch.distributed.broadcast(flat, src=0))


def in_flat_buffers(tensors: list[Tensor], collective: Callable[[Tensor], Any]) -> None:
    """Run an in-place ``collective`` on ``tensors`` packed into one flat buffer per dtype: one call each."""
    for dtype in {t.dtype for t in tensors}:
        same = [t for t in tensors if t.dtype == dtype]
        flat = flatten_dense_tensors(same)
        collective(flat)
        for tensor, synced in zip(same, unflatten_dense_tensors(flat, same)):
            tensor.copy_(synced)


class _SingleProcess(DataParallel):
    """One process: nothing to synchronize."""

    def average_gradients(self, optimizer: Any) -> None:
        pass

    def begin_iteration(self) -> None:
        pass

    def any_rank(self, flag: Tensor) -> Tensor:
        return flag

    def broadcast_buffers(self, modules: tuple[nn.Module, ...]) -> None:
        pass
