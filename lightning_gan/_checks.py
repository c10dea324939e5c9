"""Input checks: bad values get an error naming them and what was expected, before any compute."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import lightning as L
import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from lightning_gan.module import GANModule

__all__ = [
    "LATENT_DISTRIBUTIONS",
    "REMOVED_KEYWORDS",
    "check",
    "check_arguments",
    "check_checkpoint_writer",
    "check_enough_batches",
    "check_inputs",
    "check_labels",
    "check_num_classes",
    "check_removed_keywords",
]

LATENT_DISTRIBUTIONS = ("normal", "uniform")

# GANModule keywords that regularizer objects replaced, and what to write instead
REMOVED_KEYWORDS = {
    "gp_weight": "d_regularizers=[lightning_gan.regularizers.GradientPenalty(weight=...)]",
    "r1_gamma": "d_regularizers=[lightning_gan.regularizers.R1(gamma=..., interval=...)]",
    "r1_interval": "d_regularizers=[lightning_gan.regularizers.R1(gamma=..., interval=...)]",
}


def check(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition``."""
    if not condition:
        raise ValueError(message)


def check_removed_keywords(names: object) -> None:
    """A ``TypeError`` naming the replacement of any removed ``GANModule`` keyword in ``names``."""
    removed = [name for name in names if name in REMOVED_KEYWORDS]  # type: ignore[attr-defined]
    if removed:
        replacements = "; ".join(f"{name} -> {REMOVED_KEYWORDS[name]}" for name in removed)
        raise TypeError(
            f"GANModule no longer takes {', '.join(map(repr, removed))}: regularizers are objects now ({replacements}; "
            "in YAML a class_path/init_args list under d_regularizers, see docs/guide.md)"
        )
    unknown = [name for name in names if name not in REMOVED_KEYWORDS]  # type: ignore[attr-defined]
    if unknown:
        raise TypeError(f"GANModule got unexpected keyword argument(s) {', '.join(map(repr, unknown))}")


def check_arguments(
    *,
    latent_dim: int,
    d_steps: int,
    num_classes: int,
    latent_distribution: str,
    nonfinite: str,
    ema_decay: float | None,
    g_clip_norm: float | None,
    d_clip_norm: float | None,
    channels_last: bool,
    compile: bool | Mapping[str, Any],
) -> None:
    """``GANModule``'s scalar arguments, checked at construction."""
    from lightning_gan._compile import check_compile_options
    from lightning_gan._nonfinite import NONFINITE_POLICIES

    check(isinstance(latent_dim, int) and latent_dim >= 1, f"latent_dim={latent_dim!r}: expected an int >= 1")
    check(isinstance(d_steps, int) and d_steps >= 1, f"d_steps={d_steps!r}: expected an int >= 1")
    check(isinstance(num_classes, int) and num_classes >= 0, f"num_classes={num_classes!r}: expected an int >= 0")
    check(
        latent_distribution in LATENT_DISTRIBUTIONS,
        f"latent_distribution={latent_distribution!r}: expected one of {list(LATENT_DISTRIBUTIONS)}",
    )
    check(nonfinite in NONFINITE_POLICIES, f"nonfinite={nonfinite!r}: expected one of {list(NONFINITE_POLICIES)}")
    check(ema_decay is None or 0.0 < ema_decay < 1.0, f"ema_decay={ema_decay!r}: expected None or 0 < decay < 1")
    for name, value in (("g_clip_norm", g_clip_norm), ("d_clip_norm", d_clip_norm)):
        check(value is None or value > 0, f"{name}={value!r}: expected None or a positive number")
    check(isinstance(channels_last, bool), f"channels_last={channels_last!r}: expected True or False")
    check(
        isinstance(compile, (bool, Mapping)),
        f"compile={compile!r}: expected True, False or a dict of torch.compile options",
    )
    if isinstance(compile, Mapping):
        check_compile_options(compile)


def check_num_classes(generator: nn.Module, discriminator: nn.Module, num_classes: int) -> None:
    """Both networks built for the module's ``num_classes`` (where they record one)."""
    for role, net in (("generator", generator), ("discriminator", discriminator)):
        net_classes = getattr(net, "num_classes", num_classes)
        check(
            net_classes == num_classes,
            f"the {role} was built with num_classes={net_classes} but GANModule has num_classes={num_classes}; "
            "pass the same num_classes to both",
        )


def check_labels(labels: Any, num_samples: int, num_classes: int, device: torch.device) -> Tensor:
    """Class labels asked of ``generate``: one per sample, in ``[0, num_classes)``; as a long tensor."""
    check(num_classes > 0, "labels were given but this model is unconditional (num_classes=0)")
    labels = torch.as_tensor(labels, device=device).long()
    check(
        labels.shape == (num_samples,),
        f"labels of shape {tuple(labels.shape)}: expected one label per sample, ({num_samples},)",
    )
    check(
        bool(((labels >= 0) & (labels < num_classes)).all()),
        f"labels must lie in [0, {num_classes}); got min {int(labels.min())}, max {int(labels.max())}",
    )
    return labels


def check_enough_batches(trainer: L.Trainer, d_steps: int) -> None:
    """One generator iteration takes ``d_steps`` batches: an epoch must hold at least that many."""
    batches = trainer.num_training_batches  # per process, per epoch
    if batches < d_steps:
        loader = trainer.train_dataloader
        batch_size = getattr(loader, "batch_size", None)
        raise ValueError(
            f"the training data gives {batches} batch(es) per epoch on each of {trainer.world_size} "
            f"process(es) (batch_size={batch_size}), but one generator iteration needs d_steps={d_steps} "
            "batches; use more data, a smaller batch_size or fewer processes"
        )


def check_inputs(gan: GANModule, real: Tensor, labels: Tensor | None) -> None:
    """Fail with a clear message before the first optimizer step if the pieces do not fit."""
    batch_size = real.shape[0]
    if labels is not None:
        check(
            labels.shape == (batch_size,),
            f"labels of shape {tuple(labels.shape)}: expected one label per sample, ({batch_size},)",
        )
        low, high = int(labels.min()), int(labels.max())
        check(
            0 <= low and high < gan.num_classes,
            f"labels in [{low}, {high}] but num_classes={gan.num_classes}: expected labels in [0, {gan.num_classes})",
        )
    networks = (gan.generator, gan.discriminator)
    modes = [net.training for net in networks]
    for net in networks:
        net.eval()  # no batch-norm statistics or lazy data statistics from a dry run
    try:
        with torch.no_grad():
            z = gan.sample_latent(batch_size)
            fake_labels = gan.sample_labels(batch_size) if gan.num_classes else None
            try:
                fake = gan._generate_with(gan.generator, z, fake_labels)
            except Exception as err:
                raise ValueError(
                    f"the generator failed on latents of shape {tuple(z.shape)} (latent_dim={gan.latent_dim}): "
                    f"{err}. Expected a generator that takes (batch, latent_dim) inputs"
                ) from err
            check(
                tuple(fake.shape[1:]) == tuple(real.shape[1:]),
                f"the generator makes samples of shape {tuple(fake.shape[1:])} but the data has shape "
                f"{tuple(real.shape[1:])}; expected the same shape",
            )
            try:
                logits = gan._discriminate(real, labels, augmented=False)
            except Exception as err:
                raise ValueError(
                    f"the discriminator failed on a real batch of shape {tuple(real.shape)}: {err}. "
                    "Expected a discriminator that takes data of this shape"
                ) from err
            check(
                tuple(logits.shape) == (batch_size,),
                f"the discriminator returned shape {tuple(logits.shape)} for {batch_size} samples; "
                f"expected one raw score per sample, ({batch_size},)",
            )
    finally:
        for net, mode in zip(networks, modes):
            net.train(mode)


def check_checkpoint_writer(writer: str | None, cls: type) -> None:
    """A checkpoint loads into the (sub)class that wrote it (``writer``, its recorded class path)."""
    mine = f"{cls.__module__}.{cls.__qualname__}"
    if writer != mine:
        what = "not by a lightning_gan GANModule" if writer is None else f"by {writer}"
        raise ValueError(
            f"this checkpoint was written {what}, not by {mine}; load it with the class that wrote it "
            "(lightning_gan.sampling.load_gan(path) finds it for GANModule checkpoints)"
        )
