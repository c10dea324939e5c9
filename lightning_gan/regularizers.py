"""Regularizers: penalties added to one network's loss on the steps they are due.

``GANModule(d_regularizers=[...], g_regularizers=[...])`` hands each regularizer, on every step of
its network, what that phase computed (:class:`DiscriminatorPhase` or :class:`GeneratorPhase`).
A regularizer owns its maths, its weight, its interval and its state; the module only schedules.

Lazy regularization (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN",
section 3.1): with ``interval = N`` the penalty runs every N steps of its network and is scaled by
N, so its average strength is that of an every-step penalty. Which steps are due is derived from
the step counters, so a resumed run keeps the phase. As in stylegan2-ada, a lazy regularizer with
``adjust_optimizer=True`` (R1's and PathLength's default) also makes its network's optimizer train
with ``lr * c`` and ``betas ** c``, ``c = N / (N + 1)`` (:func:`lazy_optimizer_ratio`), applied when
the optimizers are built.

Penalties run with autocast off: the gradient penalties differentiate twice, and a float16 input
gradient underflows easily while its square overflows. They call the eager networks, never the
compiled ones (compiled graphs do not support double backward).

Writing your own: subclass :class:`Regularizer`, implement :meth:`Regularizer.penalty`, keep any
state in buffers (``register_buffer``: saved in checkpoints, moved with the module) and reduce
batch statistics with :meth:`Regularizer.mean_over_ranks` so every DDP process holds the same state.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from lightning_gan._validate import check, check_flag, check_int, check_number
from lightning_gan.nets._recordable import Recordable

__all__ = [
    "R1",
    "DiscriminatorPhase",
    "GeneratorPhase",
    "GradientPenalty",
    "LeCam",
    "PathLength",
    "Regularizer",
    "adjust_optimizer",
    "gradient_penalty",
    "input_gradient",
    "lazy_optimizer_ratio",
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
        more_real_logits: logits of a regularizer's own passes over the real batch (detached, ``R1``
            appends its pass's): adaptive augmentation counts them in ``r_t`` with the main pass's,
            as stylegan2-ada counts its R1 pass's.
    """

    real: Tensor
    real_labels: Tensor | None
    fake: Tensor
    fake_labels: Tensor | None
    real_logits: Tensor
    fake_logits: Tensor
    discriminate: Callable[[Tensor, Tensor | None], Tensor]
    step: int
    more_real_logits: list[Tensor] = field(default_factory=list)


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
        adjust_optimizer: with ``interval > 1``, train the network with ``lr * c`` and
            ``betas ** c``, ``c = interval / (interval + 1)``, as stylegan2-ada does for its lazy
            regularizers (:func:`lazy_optimizer_ratio`). Off in the base class.

    Example, a zero-centred gradient penalty on fakes:
        >>> class FakeGradientPenalty(Regularizer):
        ...     def penalty(self, phase: DiscriminatorPhase) -> Tensor:
        ...         grad = input_gradient(lambda x: phase.discriminate(x, phase.fake_labels), phase.fake)
        ...         return grad.pow(2).sum(dim=1).mean()
        >>> FakeGradientPenalty(weight=1.0, interval=2).log_name
        'fake_gradient_penalty'
    """

    log_name: str = ""

    def __init__(self, weight: float, interval: int = 1, *, adjust_optimizer: bool = False) -> None:
        super().__init__()
        name = type(self).__name__
        check_number("weight", weight, low=0, owner=name)
        check_int("interval", interval, 1, owner=name)
        check_flag("adjust_optimizer", adjust_optimizer, owner=name)
        self.weight = float(weight)
        self.interval = interval
        self.adjust_optimizer = adjust_optimizer

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


def lazy_optimizer_ratio(regularizers: Iterable[Regularizer]) -> tuple[float, Regularizer | None]:
    """``(c, regularizer)``: the factor for the optimizer of the network these regularizers act on.

    stylegan2-ada (training_loop.py) trains a network whose regularizer runs every ``k`` of its
    steps with ``lr * c`` and ``betas ** c``, ``c = k / (k + 1)``. Here that holds for the one
    regularizer with ``interval > 1`` and ``adjust_optimizer=True``; ``(1.0, None)`` where there is
    none. Two such regularizers with different intervals are a ``ValueError`` (which ``k``?).
    """
    lazy = [r for r in regularizers if r.interval > 1 and r.adjust_optimizer]
    intervals = sorted({r.interval for r in lazy})
    check(
        len(intervals) <= 1,
        f"lazy regularizers {', '.join(f'{type(r).__name__}(interval={r.interval})' for r in lazy)} adjust one "
        f"optimizer: expected one interval among those with adjust_optimizer=True (set it False on the others)",
    )
    if not lazy:
        return 1.0, None
    return intervals[0] / (intervals[0] + 1), lazy[0]


def adjust_optimizer(optimizer: torch.optim.Optimizer, regularizers: Iterable[Regularizer], role: str) -> str | None:
    """Apply :func:`lazy_optimizer_ratio`'s ``c`` to ``optimizer`` (the ``role`` network's): every
    parameter group's ``lr`` times ``c``, its ``betas`` (where it has them) to the power ``c``.
    Returns the sentence to log, or None where no regularizer asks for it."""
    ratio, lazy = lazy_optimizer_ratio(regularizers)
    if lazy is None:
        return None
    for group in optimizer.param_groups:
        if isinstance(group["lr"], Tensor):
            group["lr"].mul_(ratio)
        else:
            group["lr"] *= ratio
        if "betas" in group:
            group["betas"] = tuple(float(beta) ** ratio for beta in group["betas"])
    group = optimizer.param_groups[0]
    betas = f" and betas {tuple(round(b, 5) for b in group['betas'])}" if "betas" in group else ""
    name, k = type(lazy).__name__, lazy.interval
    return (
        f"{name}(interval={k}) is lazy: the {role}'s optimizer trains with lr {float(group['lr']):.6g}{betas} "
        f"(lr * c, betas ** c, c = {k}/{k + 1}, as stylegan2-ada); {name}(adjust_optimizer=False) keeps them"
    )


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
        adjust_optimizer: with ``interval > 1``, D's optimizer trains with ``lr * c`` and
            ``betas ** c``, ``c = interval / (interval + 1)`` (stylegan2-ada's adjustment).
    """

    log_name = "r1"

    def __init__(self, gamma: float, interval: int = 1, *, adjust_optimizer: bool = True) -> None:
        if not (isinstance(gamma, (int, float)) and gamma >= 0):
            raise ValueError(f"R1(gamma={gamma!r}): expected a number >= 0")
        super().__init__(0.5 * gamma, interval, adjust_optimizer=adjust_optimizer)
        self.gamma = gamma

    def penalty(self, phase: DiscriminatorPhase) -> Tensor:  # type: ignore[override]
        def critic(x: Tensor) -> Tensor:
            logits = phase.discriminate(x, phase.real_labels)
            phase.more_real_logits.append(logits.detach())  # real images seen again: ADA's r_t counts them
            return logits

        return r1_penalty(critic, phase.real)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, interval={self.interval}"


class LeCam(Regularizer):
    """LeCam regularization (Tseng et al. 2021, "Regularizing Generative Adversarial Networks under
    Limited Data"): ``weight * (E[relu(D(x) - a_F)^2] + E[relu(a_R - D(G(z)))^2])``.

    ``a_R`` and ``a_F`` are exponential moving averages of the discriminator's mean output (logit)
    on real and on generated samples, ``a <- decay * a + (1 - decay) * mean``, updated at every D
    step from the main phase's logits (on augmented images when ``augment`` is on) and averaged
    over DDP processes, so every rank holds the same averages (google/lecam-gan). The penalty
    keeps D's outputs on real data from drifting above its recent outputs on fakes and vice
    versa, which bounds the LeCam divergence the game then minimizes. As in the reference, until
    the penalty starts the averages only follow: for the first ``start - 1`` D steps each is set to
    the step's mean (decay 0), then they decay; the penalty applies from D step ``start`` on
    (0-based; google/lecam-gan counts iterations from 1, its ``itr > start_itr``).

    Args:
        weight: the penalty's weight (the paper uses 0.3 on CIFAR-10 with BigGAN, 0.01 elsewhere).
        decay: the moving averages' decay, in [0, 1).
        start: D steps before the penalty applies.
    """

    log_name = "lecam"

    def __init__(self, weight: float, decay: float = 0.99, start: int = 1000) -> None:
        super().__init__(weight, interval=1)
        check_number("decay", decay, low=0, high=1, high_open=True, owner="LeCam")
        check_int("start", start, 0, owner="LeCam")
        self.decay, self.start = float(decay), start
        self.register_buffer("ema_real", torch.zeros(()))  # a_R
        self.register_buffer("ema_fake", torch.zeros(()))  # a_F

    def penalty(self, phase: DiscriminatorPhase) -> Tensor:  # type: ignore[override]
        real, fake = phase.real_logits.float(), phase.fake_logits.float()  # (B,) each
        decay = self.decay if phase.step >= self.start - 1 else 0.0  # the reference's warm-up: follow, then average
        self.ema_real.lerp_(self.mean_over_ranks(real.detach().mean()), 1.0 - decay)
        self.ema_fake.lerp_(self.mean_over_ranks(fake.detach().mean()), 1.0 - decay)
        if phase.step < self.start:
            return real.new_zeros(())
        return torch.relu(real - self.ema_fake).pow(2).mean() + torch.relu(self.ema_real - fake).pow(2).mean()

    def extra_logs(self) -> dict[str, Tensor]:
        return {"train/lecam_ema_real": self.ema_real.clone(), "train/lecam_ema_fake": self.ema_fake.clone()}

    def extra_repr(self) -> str:
        return f"weight={self.weight}, decay={self.decay}, start={self.start}"


class PathLength(Regularizer):
    """StyleGAN2's path length regularization (Karras et al. 2020, section 3.2), on the generator.

    For per-layer latents ``ws = mapping(z)`` and images ``img = synthesis(ws)`` of H x W pixels,
    with ``y ~ N(0, I) / sqrt(H W)`` a random image direction,

        g = J_w^T y = d sum(img * y) / d ws                  (B, num_ws, w_dim)
        l = sqrt(mean_layers sum_w g^2)                      one length per sample
        a <- a + decay * (mean_over_ranks(mean(l)) - a)      the running mean (buffer ``mean``)
        penalty = mean((l - a)^2)

    so a fixed-size step in W changes the image by a fixed amount, whatever the direction. The
    running mean is updated before the penalty and used as a constant (stylegan2-ada also lets
    the penalty's gradient flow through its ``decay``-weighted new term; the difference is of
    order ``decay``). It is averaged over DDP processes, so every rank holds the same ``a``.

    Lazy, as in the paper: ``interval=4`` applies it every 4th generator step, scaled by 4; it
    runs on the first ``B // batch_shrink`` latents of the step (at least one), to save time.

    Needs a StyleGAN2-style generator: ``generator.mapping(z, labels) -> ws`` and
    ``generator.synthesis(ws) -> images`` (:class:`~lightning_gan.nets.StyleGAN2Generator`). Where
    the generator mixes styles in training (``style_mixing_prob > 0``, ``mix_styles``), the
    penalty's ``ws`` are mixed the same way, as in stylegan2-ada's path-length pass (loss.py), and
    the gradient is taken with respect to the mixed ``ws``.

    Args:
        weight: the penalty's weight (2 in StyleGAN2).
        interval: apply every this many generator steps (4).
        decay: the running mean's rate (0.01).
        batch_shrink: use ``B // batch_shrink`` samples (2).
        adjust_optimizer: with ``interval > 1``, G's optimizer trains with ``lr * c`` and
            ``betas ** c``, ``c = interval / (interval + 1)`` (stylegan2-ada's adjustment).
    """

    log_name = "path_length"

    def __init__(
        self,
        weight: float = 2.0,
        interval: int = 4,
        decay: float = 0.01,
        batch_shrink: int = 2,
        *,
        adjust_optimizer: bool = True,
    ) -> None:
        super().__init__(weight, interval, adjust_optimizer=adjust_optimizer)
        check_number("decay", decay, low=0, high=1, low_open=True, owner="PathLength")
        check_int("batch_shrink", batch_shrink, 1, owner="PathLength")
        self.decay, self.batch_shrink = float(decay), batch_shrink
        self.register_buffer("mean", torch.zeros(()))

    def path_lengths(self, generator: nn.Module, z: Tensor, labels: Tensor | None) -> Tensor:
        """``|J_w^T y|`` per sample, ``(B,)``, with a graph to the generator's parameters."""
        if not (callable(getattr(generator, "mapping", None)) and callable(getattr(generator, "synthesis", None))):
            raise TypeError(
                f"PathLength needs a StyleGAN2-style generator with mapping(z, labels) -> ws and synthesis(ws) -> "
                f"images; {type(generator).__name__} has no mapping/synthesis (use lightning_gan.nets.StyleGAN2Generator)"
            )
        ws = generator.mapping(z, labels)  # (B, num_ws, w_dim)
        if generator.training and getattr(generator, "style_mixing_prob", 0) > 0 and hasattr(generator, "mix_styles"):
            ws = generator.mix_styles(ws, z, labels)  # as the generator trains, and as stylegan2-ada's pass does
        if not ws.requires_grad:  # a generator without trainable mapping parameters still needs d img / d ws
            ws = ws.detach().requires_grad_(True)
        images = generator.synthesis(ws)  # (B, C, H, W)
        y = torch.randn_like(images) * (images.shape[2] * images.shape[3]) ** -0.5
        (grad,) = torch.autograd.grad((images * y).sum(), ws, create_graph=True)
        return grad.square().sum(dim=2).mean(dim=1).sqrt()

    def penalty(self, phase: GeneratorPhase) -> Tensor:  # type: ignore[override]
        count = max(1, phase.z.shape[0] // self.batch_shrink)
        labels = phase.labels[:count] if phase.labels is not None else None
        lengths = self.path_lengths(phase.generator, phase.z[:count].detach().float(), labels)
        with torch.no_grad():
            batch_mean = self.mean_over_ranks(lengths.detach().mean())
            self.mean.copy_(self.mean + self.decay * (batch_mean - self.mean))
        return (lengths - self.mean.clone()).square().mean()

    def extra_logs(self) -> dict[str, Tensor]:
        return {"train/path_length_mean": self.mean.detach().clone()}

    def extra_repr(self) -> str:
        return f"weight={self.weight}, interval={self.interval}, decay={self.decay}, batch_shrink={self.batch_shrink}"
