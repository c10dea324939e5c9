"""Regularizers: penalties added to one network's loss on the steps they are due.

``GANModule(d_regularizers=[...], g_regularizers=[...])`` hands each regularizer, on every step of
its network, what that phase computed (:class:`DiscriminatorPhase` or :class:`GeneratorPhase`).
A regularizer owns its maths, its weight, its interval and its state; the module only schedules.

Lazy regularization (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN",
section 3.1): with ``interval = N`` the penalty runs every N steps of its network and is scaled by
N, so its average strength is that of an every-step penalty. Which steps are due is derived from
the step counters, so a resumed run keeps the phase.

Penalties run with autocast off: the gradient penalties differentiate twice, and a float16 input
gradient underflows easily while its square overflows. They call the eager networks, never the
compiled ones (compiled graphs do not support double backward).

Writing your own: subclass :class:`Regularizer`, implement :meth:`Regularizer.penalty`, keep any
state in buffers (``register_buffer``: saved in checkpoints, moved with the module) and reduce
batch statistics with :meth:`Regularizer.mean_over_ranks` so every DDP process holds the same state.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lightning_gan.nets._recordable import Recordable

__all__ = [
    "R1",
    "DiscriminatorPhase",
    "GeneratorPhase",
    "GradientPenalty",
    "Regularizer",
    "gradient_penalty",
    "input_gradient",
    "r1_penalty",
]

Critic = Callable[[Tensor], Tensor]  # x: (B, ...) -> logits (B,)


@dataclass
class DiscriminatorPhase:
    """What one discriminator step hands its regularizers.

    Attributes:
        real: the real batch ``(B, ...)``, before augmentation.
        real_labels: its labels ``(B,)`` for a conditional model, else None.
        fake: generated samples ``(B, ...)`` (no graph to the generator), before augmentation.
        fake_labels: the labels they were generated for, else None.
        real_logits: the discriminator's logits on the (augmented) real batch, ``(B,)``, with graph.
        fake_logits: the same on the (augmented) fakes.
        discriminate: ``discriminate(x, labels) -> logits``: the eager discriminator behind the
            augmentation, differentiable in ``x`` (what a gradient penalty differentiates).
        step: discriminator steps taken before this one (0, 1, 2, ...).
    """

    real: Tensor
    real_labels: Tensor | None
    fake: Tensor
    fake_labels: Tensor | None
    real_logits: Tensor
    fake_logits: Tensor
    discriminate: Callable[[Tensor, Tensor | None], Tensor]
    step: int


@dataclass
class GeneratorPhase:
    """What one generator step hands its regularizers.

    Attributes:
        z: the latents of this step, ``(B, latent_dim)``.
        labels: their labels ``(B,)`` for a conditional model, else None.
        fake: ``G(z)`` with graph to the generator.
        fake_logits: the discriminator's logits on the (augmented) fakes.
        generator: the eager generator (its methods, e.g. a StyleGAN2 mapping network, are reachable).
        discriminate: as in :class:`DiscriminatorPhase`.
        step: generator steps taken before this one.
    """

    z: Tensor
    labels: Tensor | None
    fake: Tensor
    fake_logits: Tensor
    generator: nn.Module
    discriminate: Callable[[Tensor, Tensor | None], Tensor]
    step: int


class Regularizer(Recordable):
    """Base class: ``weight * interval * penalty(phase)``, on the steps where ``step % interval == 0``.

    Subclasses implement :meth:`penalty`; the logged value is the unweighted penalty under
    ``train/<log_name>`` (by default the class name in snake case). Constructor arguments are
    recorded (it is :class:`~lightning_gan.nets.Recordable`), so a checkpoint rebuilds it.

    Args:
        weight: the penalty's weight (>= 0).
        interval: apply it every this many steps of its network, scaled by the interval (lazy).

    Example, a zero-centred gradient penalty on fakes:
        >>> class FakeGradientPenalty(Regularizer):
        ...     def penalty(self, phase: DiscriminatorPhase) -> Tensor:
        ...         grad = input_gradient(lambda x: phase.discriminate(x, phase.fake_labels), phase.fake)
        ...         return grad.pow(2).sum(dim=1).mean()
        >>> FakeGradientPenalty(weight=1.0, interval=2).log_name
        'fake_gradient_penalty'
    """

    log_name: str = ""

    def __init__(self, weight: float, interval: int = 1) -> None:
        super().__init__()
        name = type(self).__name__
        if not (isinstance(weight, (int, float)) and weight >= 0):
            raise ValueError(f"{name}(weight={weight!r}): expected a number >= 0")
        if not (isinstance(interval, int) and not isinstance(interval, bool) and interval >= 1):
            raise ValueError(f"{name}(interval={interval!r}): expected an int >= 1")
        self.weight = float(weight)
        self.interval = interval

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("log_name"):
            cls.log_name = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()

    def is_due(self, step: int) -> bool:
        """Whether the penalty applies at this step of its network (0-based)."""
        return step % self.interval == 0

    def penalty(self, phase: DiscriminatorPhase | GeneratorPhase) -> Tensor:
        """The unweighted penalty, a scalar with graph to the network it regularizes."""
        raise NotImplementedError(f"{type(self).__name__} must implement penalty(phase)")

    def forward(self, phase: DiscriminatorPhase | GeneratorPhase) -> tuple[Tensor, dict[str, Tensor]]:
        """``(weight * interval * penalty, logs)``, computed in float32 with autocast off."""
        with torch.autocast(device_type=phase.fake.device.type, enabled=False):
            value = self.penalty(phase)
        return self.weight * self.interval * value, {f"train/{self.log_name}": value.detach(), **self.extra_logs()}

    def extra_logs(self) -> dict[str, Tensor]:
        """Further values to log after a penalty (running means, ...); none by default."""
        return {}

    @staticmethod
    def mean_over_ranks(value: Tensor) -> Tensor:
        """The mean of ``value`` over DDP processes (itself on one process), so state stays equal on all ranks."""
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            value = value.clone()
            torch.distributed.all_reduce(value)
            value /= torch.distributed.get_world_size()
        return value

    def extra_repr(self) -> str:
        return f"weight={self.weight}, interval={self.interval}"


def input_gradient(critic: Critic, x: Tensor) -> Tensor:
    """``d sum(critic(x)) / dx`` with a graph, flattened to ``(B, prod(data shape))``, in float32.

    The graph makes a penalty on it train the critic; autocast is off for the gradient's own
    graph too, or it would be recorded in low precision.
    """
    x = x.detach().float().requires_grad_(True)
    with torch.autocast(device_type=x.device.type, enabled=False):
        scores = critic(x).float()
        (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return grad.flatten(1)


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): ``E[(||grad D(x_hat)||_2 - 1)^2]``.

    ``x_hat = eps * x + (1 - eps) * G(z)`` with ``eps ~ U(0, 1)`` drawn per sample.
    """
    eps = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), device=real.device, dtype=torch.float32)
    x_hat = eps * real.detach().float() + (1.0 - eps) * fake.detach().float()
    grad = input_gradient(critic, x_hat)
    return ((grad.norm(2, dim=1) - 1.0) ** 2).mean()


def r1_penalty(critic: Critic, real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): ``E[||grad D(x)||_2^2]`` on real data (unweighted)."""
    grad = input_gradient(critic, real)
    return grad.pow(2).sum(dim=1).mean()


class GradientPenalty(Regularizer):
    """WGAN-GP's penalty ``weight * E[(||grad D(x_hat)||_2 - 1)^2]`` on interpolates of real and fake.

    The discriminator-side regularizer of the Wasserstein loss (weight 10 in the paper); x_hat is
    drawn per sample on the line between a real and a generated sample.
    """

    log_name = "gradient_penalty"

    def __init__(self, weight: float = 10.0, interval: int = 1) -> None:
        super().__init__(weight, interval)

    def penalty(self, phase: DiscriminatorPhase) -> Tensor:  # type: ignore[override]
        return gradient_penalty(lambda x: phase.discriminate(x, phase.real_labels), phase.real, phase.fake)


class R1(Regularizer):
    """R1 (Mescheder et al. 2018): ``gamma / 2 * E||grad D(x)||^2`` on real data.

    Args:
        gamma: the paper's gamma; the weight is ``gamma / 2``.
        interval: lazy R1: every this many discriminator steps, scaled by the interval
            (StyleGAN2 uses 16).
    """

    log_name = "r1"

    def __init__(self, gamma: float, interval: int = 1) -> None:
        if not (isinstance(gamma, (int, float)) and gamma >= 0):
            raise ValueError(f"R1(gamma={gamma!r}): expected a number >= 0")
        super().__init__(0.5 * gamma, interval)
        self.gamma = gamma

    def penalty(self, phase: DiscriminatorPhase) -> Tensor:  # type: ignore[override]
        return r1_penalty(lambda x: phase.discriminate(x, phase.real_labels), phase.real)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, interval={self.interval}"
