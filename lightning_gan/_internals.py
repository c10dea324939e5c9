"""Every use of a private Lightning or torch name, in one place.

Each function reads or sets one thing that the libraries do not document, directly (an upgrade
that removes it raises ``AttributeError`` here rather than quietly falling back to a default).
``tests/test_internals.py`` checks each one on the installed versions, and the two private hooks
the package overrides (``DataLoader._index_sampler``, ``LightningCLI._instantiate_trainer``), so an
upgrade that changes one fails a test by name. ``pyproject.toml`` bounds Lightning's major version.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from torch import Tensor, nn
from torch.utils.data import DistributedSampler, Sampler

__all__ = [
    "COMPILE_ERRORS",
    "before_batch_transfer",
    "clear_found_inf",
    "compile_backends",
    "compile_modes",
    "flatten_dense_tensors",
    "foreach_lerp_",
    "grad_scaler",
    "has_spectral_norm_hook",
    "progress_bar_leave",
    "set_found_inf",
    "should_update_logs",
    "skips_nonfinite_on_device",
    "stop_ddp_gradient_sync",
    "unflatten_dense_tensors",
    "uses_distributed_sampler",
    "wrapped_sampler",
]


# ---------------------------------------------------------------- Lightning
def should_update_logs(trainer: L.Trainer) -> bool:
    """Whether the loggers read logged values at this step (every ``log_every_n_steps``): the module
    logs only then, since each ``self.log`` call costs about a millisecond on the CPU."""
    return bool(trainer._logger_connector.should_update_logs)


def before_batch_transfer(module: L.LightningModule, batch: Any) -> Any:
    """``on_before_batch_transfer`` as Lightning's training loop calls it: the data module's when it
    overrides the hook, else the module's (``dataloader_iter`` steps fetch their own batches)."""
    return module._on_before_batch_transfer(batch, dataloader_idx=0)


def uses_distributed_sampler(trainer: L.Trainer) -> bool:
    """``Trainer(use_distributed_sampler=...)``, which the trainer keeps only in its connector."""
    return bool(trainer._accelerator_connector.use_distributed_sampler)


def progress_bar_leave(bar: TQDMProgressBar) -> bool:
    """``TQDMProgressBar(leave=...)``, which the bar keeps only privately."""
    return bool(bar._leave)


def wrapped_sampler(sampler: DistributedSampler) -> Sampler[Any] | None:
    """The sampler inside Lightning's ``DistributedSamplerWrapper`` (None for any other sampler)."""
    from lightning.fabric.utilities.distributed import DistributedSamplerWrapper

    return sampler.dataset._sampler if isinstance(sampler, DistributedSamplerWrapper) else None


def grad_scaler(trainer: L.Trainer) -> Any:
    """The 16-bit mixed-precision plugin's GradScaler (which skips non-finite steps itself), or None."""
    from lightning.pytorch.plugins.precision import MixedPrecision

    plugin = trainer.precision_plugin
    return plugin.scaler if isinstance(plugin, MixedPrecision) else None


# ---------------------------------------------------------------- torch
def stop_ddp_gradient_sync(ddp_module: nn.Module) -> None:
    """Tell a ``DistributedDataParallel`` wrapper not to all-reduce gradients in the next backward
    (what its ``no_sync()`` context sets; Lightning re-arms it after each training step)."""
    if not hasattr(ddp_module, "require_backward_grad_sync"):
        raise AttributeError("DistributedDataParallel has no require_backward_grad_sync: torch changed its DDP")
    ddp_module.require_backward_grad_sync = False


def flatten_dense_tensors(tensors: Sequence[Tensor]) -> Tensor:
    """One flat tensor holding ``tensors`` (one dtype), as DDP packs its buckets."""
    return torch._utils._flatten_dense_tensors(tensors)


def unflatten_dense_tensors(flat: Tensor, tensors: Sequence[Tensor]) -> Sequence[Tensor]:
    """Views of ``flat`` shaped as ``tensors``: the inverse of :func:`flatten_dense_tensors`."""
    return torch._utils._unflatten_dense_tensors(flat, tensors)


def foreach_lerp_(targets: list[Tensor], ends: list[Tensor], weight: float) -> None:
    """``target <- target + weight * (end - target)`` for each pair, in one fused kernel."""
    torch._foreach_lerp_(targets, ends, weight)


def skips_nonfinite_on_device(optimizer: torch.optim.Optimizer) -> bool:
    """Whether ``optimizer.step`` reads ``found_inf`` and skips the update on the device when it is
    nonzero: the protocol of torch's fused optimizers (``Adam(fused=True)``...), as GradScaler uses it."""
    return bool(getattr(optimizer, "_step_supports_amp_scaling", False))


def set_found_inf(optimizer: torch.optim.Optimizer, found: Tensor) -> None:
    """Hand a fused optimizer's next step the flag of that protocol (a float tensor on the device)."""
    optimizer.found_inf = found  # type: ignore[attr-defined]


def clear_found_inf(optimizer: torch.optim.Optimizer) -> None:
    del optimizer.found_inf  # type: ignore[attr-defined]


def has_spectral_norm_hook(module: nn.Module) -> bool:
    """Whether ``module`` carries the old hook-based spectral norm (``torch.nn.utils.spectral_norm``)."""
    from torch.nn.utils.spectral_norm import SpectralNorm

    return any(isinstance(hook, SpectralNorm) for hook in module._forward_pre_hooks.values())


def compile_modes() -> list[str]:
    """The ``mode`` names ``torch.compile`` knows."""
    import torch._inductor

    return list(torch._inductor.list_mode_options())


def compile_backends() -> list[str]:
    """The ``backend`` names ``torch.compile`` knows."""
    import torch._dynamo

    return list(torch._dynamo.list_backends(exclude_tags=()))


try:  # what a failed compilation raises at the first call (torch wraps backend errors in these)
    from torch._dynamo.exc import TorchDynamoException as _DynamoError

    COMPILE_ERRORS: tuple[type[BaseException], ...] = (_DynamoError,)
except ImportError:  # pragma: no cover - torch without dynamo
    COMPILE_ERRORS = ()
