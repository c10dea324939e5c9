"""Discriminator regularizers: WGAN-GP gradient penalty and R1.

Both need a double backward (a gradient of a gradient). They run their own discriminator
forward with autocast switched off, so the penalty is computed in float32 whatever the
trainer's precision: a float16 input gradient underflows easily and its square overflows.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["gradient_penalty", "r1_penalty"]

Critic = Callable[[Tensor], Tensor]  # x: (B, ...) -> logits (B,)


def _input_gradient(critic: Critic, x: Tensor) -> Tensor:
    """``d sum(critic(x)) / dx`` with a graph, so a penalty on it trains the critic."""
    x = x.detach().float().requires_grad_(True)
    # the gradient's own graph must be built outside autocast too, or it is recorded in low precision
    with torch.autocast(device_type=x.device.type, enabled=False):
        scores = critic(x).float()
        (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.flatten(1)  # (B, prod(data shape))


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): ``E[(||grad D(x_hat)||_2 - 1)^2]``.

    ``x_hat = eps * x + (1 - eps) * G(z)`` with ``eps ~ U(0, 1)`` drawn per sample.
    """
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=torch.float32)
    x_hat = eps * real.detach().float() + (1.0 - eps) * fake.detach().float()
    grad = _input_gradient(critic, x_hat)
    return ((grad.norm(2, dim=1) - 1.0) ** 2).mean()


def r1_penalty(critic: Critic, real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): ``E[||grad D(x)||_2^2]`` on real data.

    The caller multiplies it by ``gamma / 2``.
    """
    grad = _input_gradient(critic, real)
    return grad.pow(2).sum(dim=1).mean()
