"""Around the generator: the moving average of its weights, eval-mode sampling, truncation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from lightning_gan._internals import foreach_lerp_

__all__ = ["check_noise_mode", "check_truncation", "eval_mode", "metric_noise_mode", "update_ema"]


@torch.no_grad()
def update_ema(average: nn.Module, network: nn.Module, decay: float) -> None:
    """``average <- decay * average + (1 - decay) * network`` for parameters; buffers copied.

    Batch-norm statistics follow the live network rather than being averaged.
    """
    params = [p.detach() for p in network.parameters()]
    foreach_lerp_(list(average.parameters()), params, 1.0 - decay)
    for average_buffer, buffer in zip(average.buffers(), network.buffers()):
        average_buffer.copy_(buffer)


@contextmanager
def eval_mode(network: nn.Module) -> Iterator[nn.Module]:
    """``network`` in eval mode for the block, then back in the mode it was in."""
    was_training = network.training
    network.eval()
    try:
        yield network
    finally:
        network.train(was_training)


def check_truncation(network: nn.Module, truncation_psi: float) -> None:
    """``truncation_psi`` other than 1 needs a generator that tracks its average w (``supports_truncation``)."""
    if not isinstance(truncation_psi, (int, float)) or isinstance(truncation_psi, bool):
        raise TypeError(f"truncation_psi={truncation_psi!r}: expected a number (1 = no truncation)")
    if truncation_psi != 1 and not getattr(network, "supports_truncation", False):
        raise ValueError(
            f"truncation_psi={truncation_psi}: {type(network).__name__} does not support the truncation trick "
            "(it needs a generator that tracks its average w, such as lightning_gan.nets.StyleGAN2Generator); "
            "use truncation_psi=1"
        )


def check_noise_mode(network: nn.Module, noise_mode: str | None) -> None:
    """``noise_mode`` (other than ``None``, the generator's default) must be one of ``network.noise_modes``."""
    if noise_mode is None:
        return
    modes = tuple(getattr(network, "noise_modes", ()))
    if noise_mode not in modes:
        expected = f"one of {', '.join(map(repr, modes))}" if modes else "None: it has no per-layer noise"
        raise ValueError(f"noise_mode={noise_mode!r}: {type(network).__name__} takes {expected}")


def metric_noise_mode(network: nn.Module) -> str | None:
    """``"random"`` for a generator with per-layer noise (StyleGAN2), else ``None``: metrics sample as
    stylegan2-ada's do, with fresh noise for every image, not the one constant noise image of eval mode."""
    return "random" if "random" in tuple(getattr(network, "noise_modes", ())) else None
