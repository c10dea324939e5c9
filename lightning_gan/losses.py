"""Adversarial losses as small pure functions of the discriminator's logits.

Every function takes raw discriminator scores (logits) of shape ``(B,)`` and returns a scalar to
*minimize*. ``D(x) = sigmoid(logit)`` for the logistic losses. Each loss name maps to a pair
``(discriminator_loss, generator_loss)`` in :data:`LOSSES`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "LOSSES",
    "AdversarialLoss",
    "d_hinge",
    "d_least_squares",
    "d_logistic",
    "d_wasserstein",
    "g_hinge",
    "g_least_squares",
    "g_minimax",
    "g_nonsaturating",
    "g_wasserstein",
    "get_loss",
]


def d_logistic(real: Tensor, fake: Tensor) -> Tensor:
    """Discriminator loss of the original game: ``-E[log D(x)] - E[log(1 - D(G(z)))]``.

    Minimizing it is gradient ascent on ``V(D, G)``.
    """
    # softplus(-r) = -log(sigmoid(r)); softplus(f) = -log(1 - sigmoid(f))
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_minimax(fake: Tensor) -> Tensor:
    """Saturating generator loss of the original game: ``E[log(1 - D(G(z)))]``."""
    return -F.softplus(fake).mean()  # log(1 - sigmoid(f)) = -softplus(f)


def g_nonsaturating(fake: Tensor) -> Tensor:
    """Non-saturating generator loss: ``-E[log D(G(z))]``."""
    return F.softplus(-fake).mean()  # -log(sigmoid(f)) = softplus(-f)


def d_wasserstein(real: Tensor, fake: Tensor) -> Tensor:
    """WGAN critic loss: ``E[D(G(z))] - E[D(x)]`` (pair it with a Lipschitz constraint)."""
    return fake.mean() - real.mean()


def g_wasserstein(fake: Tensor) -> Tensor:
    """WGAN generator loss: ``-E[D(G(z))]``."""
    return -fake.mean()


def d_hinge(real: Tensor, fake: Tensor) -> Tensor:
    """Hinge discriminator loss: ``E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]``."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def g_hinge(fake: Tensor) -> Tensor:
    """Hinge generator loss: ``-E[D(G(z))]``."""
    return -fake.mean()


def d_least_squares(real: Tensor, fake: Tensor) -> Tensor:
    """LSGAN discriminator loss (a=0, b=1): ``E[(D(x) - 1)^2] / 2 + E[D(G(z))^2] / 2``."""
    return 0.5 * ((real - 1.0) ** 2).mean() + 0.5 * (fake**2).mean()


def g_least_squares(fake: Tensor) -> Tensor:
    """LSGAN generator loss (c=1): ``E[(D(G(z)) - 1)^2] / 2``."""
    return 0.5 * ((fake - 1.0) ** 2).mean()


class AdversarialLoss(NamedTuple):
    """The two halves of an adversarial loss."""

    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]


LOSSES: dict[str, AdversarialLoss] = {
    "minimax": AdversarialLoss(d_logistic, g_minimax),
    "nonsaturating": AdversarialLoss(d_logistic, g_nonsaturating),
    "wasserstein": AdversarialLoss(d_wasserstein, g_wasserstein),
    "hinge": AdversarialLoss(d_hinge, g_hinge),
    "least_squares": AdversarialLoss(d_least_squares, g_least_squares),
}


def get_loss(name: str) -> AdversarialLoss:
    """Look a loss up by name, with an error that lists the known names."""
    try:
        return LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(f"loss={name!r} is not a known loss; expected one of {sorted(LOSSES)}") from None
