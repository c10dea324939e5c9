"""Hyper-parameters a weights-only ``torch.load`` reads back: networks and parts as their records.

torch >= 2.6 loads checkpoints weights-only, so a pickled ``nn.Module`` or ``functools.partial``
in the hyper-parameters does not load back. Networks, regularizers, the augmentation and the
optimizer callables are recorded as ``{"class_path", "init_args"}`` and rebuilt from it.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from types import FrameType
from typing import Any

import lightning as L
from torch import nn

from lightning_gan.nets._recordable import build_network, import_class, network_spec

__all__ = [
    "UNRECORDED",
    "build_callable",
    "callable_spec",
    "record_parts",
    "resolve_network",
    "resolve_part",
    "resolve_parts",
    "save_records",
]

UNRECORDED = "unrecorded"  # the record of a part whose class records no constructor arguments


def callable_spec(fn: Any) -> dict[str, Any] | None:
    """Record an optimizer/scheduler callable as ``{"class_path", "init_args"}`` when possible."""
    if isinstance(fn, Mapping):
        return dict(fn)
    if isinstance(fn, functools.partial) and isinstance(fn.func, type) and not fn.args:
        spec = callable_spec(fn.func)
        if spec is not None:
            spec["init_args"] = dict(fn.keywords)
        return spec
    if isinstance(fn, type):
        return {"class_path": f"{fn.__module__}.{fn.__qualname__}", "init_args": {}}
    return None


def build_callable(spec: Any, role: str) -> Callable[..., Any]:
    """The inverse of :func:`callable_spec`; callables pass through."""
    if callable(spec) and not isinstance(spec, Mapping):
        return spec
    if not isinstance(spec, Mapping) or "class_path" not in spec:
        raise TypeError(f"{role}={spec!r} is neither a callable nor a {{'class_path': ..., 'init_args': ...}} mapping")
    cls = import_class(spec["class_path"], role)
    return functools.partial(cls, **dict(spec.get("init_args") or {}))


def resolve_network(network: nn.Module | Mapping[str, Any] | None, role: str) -> nn.Module:
    if isinstance(network, nn.Module):
        return network
    if network is None:
        raise ValueError(
            f"the {role} was not recorded in this checkpoint (its class records no constructor arguments). "
            f"Pass it when loading: GANModule.load_from_checkpoint(path, {role}=YourNet(...)), or make the "
            "class inherit lightning_gan.nets.Recordable so checkpoints rebuild it."
        )
    return build_network(network, role=role)


def part_spec(part: nn.Module) -> dict[str, Any]:
    """The record of a regularizer or augmentation module; ``{"unrecorded": class}`` when it has none."""
    return network_spec(part) or {UNRECORDED: f"{type(part).__module__}.{type(part).__qualname__}"}


def resolve_part(part: nn.Module | Mapping[str, Any] | None, role: str) -> nn.Module | None:
    """A module, or the module a record describes; a clear error for a part a checkpoint could not record."""
    if part is None or isinstance(part, nn.Module):
        return part
    if isinstance(part, Mapping) and UNRECORDED in part:
        raise ValueError(
            f"the {role} ({part[UNRECORDED]}) was not recorded in this checkpoint (its class records no "
            f"constructor arguments). Pass it when loading: GANModule.load_from_checkpoint(path, {role}=...), "
            "or make the class inherit lightning_gan.nets.Recordable so checkpoints rebuild it."
        )
    return build_network(part, role=role)


def resolve_parts(parts: Sequence[nn.Module | Mapping[str, Any]] | None, role: str) -> list[nn.Module]:
    """:func:`resolve_part` for each of a list (``None`` is an empty list)."""
    if parts is None:
        return []
    if isinstance(parts, (nn.Module, Mapping)) or not isinstance(parts, Sequence):
        raise TypeError(f"{role}={parts!r}: expected a list of regularizers")
    return [resolve_part(part, f"{role}[{index}]") for index, part in enumerate(parts)]  # type: ignore[misc]


def record_parts(hparams: MutableMapping[str, Any]) -> None:
    """Replace the modules and callables among ``GANModule``'s hyper-parameters by their records, in place.

    The LightningCLI already hands over records. Networks that cannot be recorded are stored as
    ``None``, parts as ``{"unrecorded": class}`` (loading then asks for them); optimizer and
    scheduler callables that cannot be recorded as ``None``.
    """
    for key in ("generator", "discriminator"):
        if isinstance(hparams.get(key), nn.Module):
            hparams[key] = network_spec(hparams[key])
    for key in ("d_regularizers", "g_regularizers"):
        hparams[key] = [part_spec(p) if isinstance(p, nn.Module) else p for p in hparams.get(key) or ()]
    if isinstance(hparams.get("augment"), nn.Module):
        hparams["augment"] = part_spec(hparams["augment"])
    for key in ("g_optimizer", "d_optimizer", "g_lr_scheduler", "d_lr_scheduler"):
        value = hparams.get(key)
        if value is not None and not isinstance(value, Mapping):
            hparams[key] = callable_spec(value)


def save_records(module: L.LightningModule, frame: FrameType | None) -> None:
    """``save_hyperparameters`` from the constructor's ``frame``, then :func:`record_parts`."""
    with warnings.catch_warnings():  # modules are replaced by their records just below
        warnings.filterwarnings("ignore", message=r"Attribute '(generator|discriminator|augment)' is an instance of")
        module.save_hyperparameters(frame=frame)
    record_parts(module.hparams)
