"""Warm start: a new run's networks begin from another run's weights (``GANModule(init_from=...)``).

The source is a lightning-gan checkpoint (``.ckpt``) or a stylegan2-ada-pytorch pickle (a path,
URL or published name, read by :mod:`lightning_gan.pretrained` without running it). Tensors
(parameters and buffers, e.g. StyleGAN2's ``w_avg``) whose names and shapes match are copied in;
the others keep their initialization and are reported. Only weights carry over: the run starts at
step 0 with new optimizers and a new noise stream, as stylegan2-ada's ``--resume`` does.

A discriminator's blocks are matched from its output end: StyleGAN2's discriminator numbers its
blocks from the input resolution down to 8 px, so a 64 px model started from a 256 px one takes
the 256 px model's blocks at 64, 32, 16 and 8 px, not its 256, 128, ... px blocks.
"""

from __future__ import annotations

import inspect
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Match", "WarmStartError", "freeze_blocks", "read_source", "start_from", "warm_start"]

ROLES = ("generator", "discriminator", "generator_ema")

# Constructor arguments that the source must share with the model for its weights to mean anything
# in it (the mapping network's input and width; the discriminator's wiring). Other differences
# (resolution, channels, classes) leave the tensors they touch at their initialization.
MUST_MATCH = {
    "StyleGAN2Generator": ("latent_dim", "w_dim", "mapping_layers"),
    "StyleGAN2Discriminator": ("architecture", "mbstd_channels"),
    "DCGANGenerator": ("latent_dim",),
}


class WarmStartError(ValueError):
    """The source cannot fill the model's networks (or, with ``init_strict``, not exactly)."""


@dataclass
class Source:
    """What a file offers: state dicts and network records (``{"class_path", "init_args"}``) per role."""

    path: str
    states: dict[str, dict[str, Tensor]]
    specs: dict[str, dict[str, Any] | None]


@dataclass
class Match:
    """How one network's tensors met the file's: loaded, skipped (file shape, model shape), new, unused."""

    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=dict)
    new: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A plain record for loggers (W&B config, hparams.yaml)."""
        return {
            "loaded": len(self.loaded),
            "skipped": {name: f"file {list(a)} vs model {list(b)}" for name, (a, b) in self.skipped.items()},
            "new": list(self.new),
            "unused": list(self.unused),
        }


def read_source(source: str | Path) -> Source:
    """The networks a lightning-gan checkpoint or a stylegan2-ada pickle holds."""
    from lightning_gan import pretrained

    path = pretrained.resolve_model_file(source)
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives; the reference's snapshots are plain pickles
        data = pretrained.read_stylegan2_ada_pickle(path)
        states = pretrained.stylegan2_ada_state_dicts(data)
        specs: dict[str, dict[str, Any] | None] = {}
        for role, key, kwargs, cls in (
            ("generator", "G", pretrained.generator_kwargs, "StyleGAN2Generator"),
            ("generator_ema", "G_ema", pretrained.generator_kwargs, "StyleGAN2Generator"),
            ("discriminator", "D", pretrained.discriminator_kwargs, "StyleGAN2Discriminator"),
        ):
            if isinstance(data.get(key), pretrained.PersistentRecord):
                specs[role] = {"class_path": f"lightning_gan.nets.{cls}", "init_args": kwargs(data[key])}
        return Source(str(source), states, specs)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, Mapping) or "state_dict" not in checkpoint:
        raise WarmStartError(
            f"init_from={str(source)!r} is neither a Lightning checkpoint (no 'state_dict') nor a stylegan2-ada pickle"
        )
    states = {role: {} for role in ROLES}
    for name, tensor in checkpoint["state_dict"].items():
        role, _, rest = name.partition(".")
        if role in states:
            states[role][rest] = tensor
    hparams = checkpoint.get("hyper_parameters") or {}
    specs = {role: hparams.get(role) for role in ("generator", "discriminator")}
    specs["generator_ema"] = specs["generator"]
    return Source(str(source), {role: state for role, state in states.items() if state}, specs)


def _class_name(spec: Mapping[str, Any] | None) -> str | None:
    return str(spec["class_path"]).rpartition(".")[2] if isinstance(spec, Mapping) and "class_path" in spec else None


def _arguments(net: nn.Module, spec: Mapping[str, Any] | None) -> dict[str, Any]:
    """A record's constructor arguments with the class's defaults filled in (compared as JSON-like values)."""
    args = dict((spec or {}).get("init_args") or {})
    for name, parameter in inspect.signature(type(net).__init__).parameters.items():
        if parameter.default is not inspect.Parameter.empty:
            args.setdefault(name, parameter.default)
    return {name: list(value) if isinstance(value, tuple) else value for name, value in args.items()}


def check_structure(role: str, net: nn.Module, spec: Mapping[str, Any] | None, source: str) -> None:
    """An error naming both configurations when the file's network cannot fill ``net``."""
    ours = getattr(net, "init_spec", None)
    file_class, our_class = _class_name(spec), type(net).__name__
    if file_class is not None and file_class != our_class:
        raise WarmStartError(
            f"init_from={source!r}: its {role} is a {file_class}, the model's a {our_class}; "
            f"start from a file with a {our_class} {role} or build the model's {role} as the file's "
            f"(--model.init_args.{role}.class_path {spec['class_path']})"  # type: ignore[index]
        )
    if spec is None or file_class not in MUST_MATCH:
        return
    theirs, mine = _arguments(net, spec), _arguments(net, ours)
    differ = [name for name in MUST_MATCH[file_class] if theirs.get(name) != mine.get(name)]
    if differ:
        both = ", ".join(f"{name}: file {theirs.get(name)!r}, model {mine.get(name)!r}" for name in differ)
        flags = " ".join(f"--model.init_args.{role}.init_args.{name} {json.dumps(theirs[name])}" for name in differ)
        raise WarmStartError(
            f"init_from={source!r} cannot fill the model's {role} ({our_class}): {both}. "
            f"The file's {role}: {theirs}; the model's: {mine}. Build the model as the file's, e.g. {flags}"
        )


def _blocks_from_the_end(state: Mapping[str, Tensor], shift: int) -> dict[str, Tensor]:
    """Renumber ``blocks.i.`` as ``blocks.(i - shift).``; blocks that fall below 0 keep a ``~`` name (unused)."""
    out = {}
    for name, tensor in state.items():
        found = re.match(r"blocks\.(\d+)\.(.*)", name)
        if found is None or shift == 0:
            out[name] = tensor
            continue
        index = int(found.group(1)) - shift
        out[f"blocks.{index}.{found.group(2)}" if index >= 0 else f"~{name}"] = tensor
    return out


def _block_count(names: Any) -> int:
    return 1 + max((int(m.group(1)) for n in names if (m := re.match(r"blocks\.(\d+)\.", n))), default=-1)


def load_matching(net: nn.Module, state: Mapping[str, Tensor], *, align_blocks_at_end: bool = False) -> Match:
    """Copy ``state``'s tensors into ``net`` where name and shape match; report the rest."""
    ours = net.state_dict()
    if align_blocks_at_end:
        state = _blocks_from_the_end(state, _block_count(state) - _block_count(ours))
    match = Match()
    with torch.no_grad():
        for name, target in ours.items():
            if name not in state:
                match.new.append(name)
            elif tuple(state[name].shape) != tuple(target.shape):
                match.skipped[name] = (tuple(state[name].shape), tuple(target.shape))
            else:
                target.copy_(state[name].to(dtype=target.dtype))  # in place: the optimizers keep their tensors
                match.loaded.append(name)
    match.unused = [name.lstrip("~") for name in state if name not in ours]
    return match


def warm_start(networks: Mapping[str, nn.Module | None], source: str | Path, *, strict: bool) -> dict[str, Match]:
    """Fill ``networks`` (``{"generator", "discriminator", "generator_ema"}``, EMA possibly ``None``)
    from ``source``; the EMA generator from the file's EMA, else from its generator."""
    found = read_source(source)
    where = str(source)
    matches: dict[str, Match] = {}
    for role, net in networks.items():
        if net is None:
            continue
        file_role = role if role in found.states or role != "generator_ema" else "generator"
        if file_role not in found.states:
            raise WarmStartError(f"init_from={where!r} holds no {role}; it holds {sorted(found.states)}")
        check_structure(role, net, found.specs.get(file_role), where)
        matches[role] = load_matching(net, found.states[file_role], align_blocks_at_end=role == "discriminator")
        if not matches[role].loaded:
            raise WarmStartError(
                f"init_from={where!r}: not one tensor of its {file_role} fits the model's {role} "
                f"(skipped: {list(matches[role].skipped)[:5]} ...); the file's {file_role}: "
                f"{found.specs.get(file_role)}; the model's: {getattr(net, 'init_spec', None)}"
            )
    if strict:
        problems = [
            f"{role}: {len(m.skipped)} skipped {list(m.skipped)[:3]}, {len(m.new)} new {m.new[:3]}, "
            f"{len(m.unused)} unused {m.unused[:3]}"
            for role, m in matches.items()
            if m.skipped or m.new or m.unused
        ]
        if problems:
            raise WarmStartError(
                f"init_from={where!r} with init_strict=True: the file does not match the model exactly: "
                + "; ".join(problems)
            )
    return matches


def report(matches: Mapping[str, Match], source: str) -> str:
    """The table printed at the start of fit."""
    lines = [f"Warm start from {source}:", f"  {'network':<14} {'loaded':>7} {'skipped':>8} {'new':>5} {'unused':>7}"]
    for role, m in matches.items():
        lines.append(f"  {role:<14} {len(m.loaded):>7} {len(m.skipped):>8} {len(m.new):>5} {len(m.unused):>7}")
    for role, m in matches.items():
        for name, (file_shape, model_shape) in m.skipped.items():
            lines.append(f"  skipped {role}.{name}: file {list(file_shape)}, model {list(model_shape)}")
        if m.new:
            lines.append(f"  new (initialized) {role}: {_grouped(m.new)}")
        if m.unused:
            lines.append(f"  unused from the file's {role}: {_grouped(m.unused)}")
    return "\n".join(lines)


def _grouped(names: list[str]) -> str:
    """``blocks.3.conv0.weight, blocks.3.conv0.bias`` -> ``blocks.3.conv0.* (2 tensors)``: one entry per layer (three name levels at most)."""
    groups: dict[str, list[str]] = {}
    for name in names:
        parts = name.split(".")
        groups.setdefault(".".join(parts[: min(3, len(parts) - 1)]), []).append(name)
    return ", ".join(
        members[0] if len(members) == 1 else f"{prefix}.* ({len(members)} tensors)"
        for prefix, members in groups.items()
    )


def start_from(trainer: Any, networks: Mapping[str, nn.Module | None], source: str | Path, *, strict: bool) -> None:
    """:func:`warm_start`, then the table printed once and recorded as ``warm_start`` in every logger's config."""
    from lightning.pytorch.loggers import WandbLogger
    from lightning.pytorch.utilities import rank_zero_info

    matches = warm_start(networks, source, strict=strict)
    rank_zero_info(report(matches, str(source)))
    record = {"warm_start": {"source": str(source), **{role: m.summary() for role, m in matches.items()}}}
    for logger in trainer.loggers:
        if isinstance(logger, WandbLogger):  # its config may be the whole run's already: add to it
            logger.experiment.config.update(record, allow_val_change=True)
        else:
            logger.log_hyperparams(record)


def freeze_blocks(discriminator: nn.Module, count: int) -> None:
    """FreezeD (Mo et al. 2020): ``requires_grad=False`` on the first ``count`` of ``discriminator.blocks``
    (input side first), so the optimizer, made from the parameters that require gradients, leaves them out.

    stylegan2-ada-pytorch's ``--freezed`` counts layers (fromrgb, conv0, conv1, ...) rather than blocks;
    StudioGAN's ``freeze_layers`` counts blocks, as here.
    """
    if count == 0:
        return
    blocks = getattr(discriminator, "blocks", None)
    if not isinstance(blocks, (nn.ModuleList, nn.Sequential)):
        raise ValueError(
            f"GANModule(freeze_d_blocks={count}): the discriminator ({type(discriminator).__name__}) has no "
            "`blocks` list (nn.ModuleList or nn.Sequential, input side first) to freeze; StyleGAN2Discriminator "
            "and ResNetDiscriminator have one"
        )
    if count > len(blocks):
        raise ValueError(
            f"GANModule(freeze_d_blocks={count}): the discriminator ({type(discriminator).__name__}) has "
            f"{len(blocks)} blocks; expected at most {len(blocks)}"
        )
    for block in blocks[:count]:
        block.requires_grad_(False)
