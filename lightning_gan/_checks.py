"""Input checks: bad values get an error naming them and what was expected, before any compute."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import lightning as L
import torch
from torch import Tensor, nn

from lightning_gan._compile import check_compile_options
from lightning_gan._nonfinite import NONFINITE_POLICIES
from lightning_gan._validate import check, check_choice, check_flag, check_int, check_number

__all__ = [
    "LATENT_DISTRIBUTIONS",
    "REMOVED_KEYWORDS",
    "check_arguments",
    "check_checkpoint_writer",
    "check_enough_batches",
    "check_inputs",
    "check_labels",
    "check_num_classes",
    "check_removed_keywords",
]

LATENT_DISTRIBUTIONS = ("normal", "uniform")
OWNER = "GANModule"

# GANModule keywords that regularizer objects replaced, and what to write instead
REMOVED_KEYWORDS = {
    "gp_weight": "d_regularizers=[lightning_gan.regularizers.GradientPenalty(weight=...)]",
    "r1_gamma": "d_regularizers=[lightning_gan.regularizers.R1(gamma=..., interval=...)]",
    "r1_interval": "d_regularizers=[lightning_gan.regularizers.R1(gamma=..., interval=...)]",
}


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
    init_from: str | None,
    init_strict: bool,
    freeze_d_blocks: int,
) -> None:
    """``GANModule``'s scalar arguments, checked at construction."""
    check_int("latent_dim", latent_dim, 1, owner=OWNER)
    check_int("d_steps", d_steps, 1, owner=OWNER)
    check_int("num_classes", num_classes, 0, owner=OWNER)
    check_choice("latent_distribution", latent_distribution, LATENT_DISTRIBUTIONS, owner=OWNER)
    check_choice("nonfinite", nonfinite, NONFINITE_POLICIES, owner=OWNER)
    check_number("ema_decay", ema_decay, low=0, high=1, low_open=True, high_open=True, optional=True, owner=OWNER)
    for name, value in (("g_clip_norm", g_clip_norm), ("d_clip_norm", d_clip_norm)):
        check_number(name, value, low=0, low_open=True, optional=True, owner=OWNER)
    check_flag("channels_last", channels_last, owner=OWNER)
    check(
        isinstance(compile, (bool, Mapping)),
        f"GANModule(compile={compile!r}): expected True, False or a dict of torch.compile options",
    )
    if isinstance(compile, Mapping):
        check_compile_options(compile)
    check(
        init_from is None or (isinstance(init_from, (str, os.PathLike)) and str(init_from) != ""),
        f"GANModule(init_from={init_from!r}): expected the path of a checkpoint or a stylegan2-ada pickle, "
        "a URL or a published model name",
    )
    check_flag("init_strict", init_strict, owner=OWNER)
    check(
        not init_strict or init_from is not None,
        "GANModule(init_strict=True) without init_from: there is nothing to match; pass init_from too",
    )
    check_int("freeze_d_blocks", freeze_d_blocks, 0, owner=OWNER)


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


def check_inputs(
    real: Tensor,
    labels: Tensor | None,
    *,
    num_classes: int,
    latent_dim: int,
    sample_latent: Callable[[int], Tensor],
    sample_labels: Callable[[int], Tensor],
    generate: Callable[[Tensor, Tensor | None], Tensor],
    discriminate: Callable[[Tensor, Tensor | None], Tensor],
    networks: Sequence[nn.Module],
) -> None:
    """Fail with a clear message before the first optimizer step if the pieces do not fit.

    A dry run on the first real batch ``(real, labels)``: ``generate(sample_latent(B), labels)`` must
    make samples of the data's shape, and ``discriminate(real, labels)`` one score per sample; the
    ``networks`` run in eval mode for it (no batch-norm statistics from a dry run).
    """
    batch_size = real.shape[0]
    if labels is not None:
        check(
            labels.shape == (batch_size,),
            f"labels of shape {tuple(labels.shape)}: expected one label per sample, ({batch_size},)",
        )
        low, high = int(labels.min()), int(labels.max())
        check(
            0 <= low and high < num_classes,
            f"labels in [{low}, {high}] but num_classes={num_classes}: expected labels in [0, {num_classes})",
        )
    modes = [net.training for net in networks]
    for net in networks:
        net.eval()  # no batch-norm statistics or lazy data statistics from a dry run
    try:
        with torch.no_grad():
            z = sample_latent(batch_size)
            fake_labels = sample_labels(batch_size) if num_classes else None
            try:
                fake = generate(z, fake_labels)
            except Exception as err:
                raise ValueError(
                    f"the generator failed on latents of shape {tuple(z.shape)} (latent_dim={latent_dim}): "
                    f"{err}. Expected a generator that takes (batch, latent_dim) inputs"
                ) from err
            check(
                tuple(fake.shape[1:]) == tuple(real.shape[1:]),
                f"the generator makes samples of shape {tuple(fake.shape[1:])} but the data has shape "
                f"{tuple(real.shape[1:])}; expected the same shape",
            )
            try:
                logits = discriminate(real, labels)
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
