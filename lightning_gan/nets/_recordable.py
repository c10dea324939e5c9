"""Networks that remember how they were built, so a checkpoint can rebuild them.

torch >= 2.6 loads checkpoints weights-only: a pickled ``nn.Module`` in the hyper-parameters
does not load back. A :class:`Recordable` network records its class path and constructor
arguments instead; ``GANModule`` stores that record, and ``load_from_checkpoint`` rebuilds the
network from it.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import warnings
from collections.abc import Mapping
from typing import Any

from torch import nn

__all__ = ["Recordable", "RecordsInit", "build_network", "import_class", "network_spec"]

_PLAIN = (type(None), bool, int, float, str)


def _is_plain(value: Any) -> bool:
    """True for values a weights-only ``torch.load`` reads back (and YAML can show)."""
    if isinstance(value, _PLAIN):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


class RecordsInit:
    """A mixin that records the constructor's class path and arguments in ``init_spec``.

    ``init_spec`` is ``{"class_path": ..., "init_args": {...}}`` when every argument is a plain value
    (paths are recorded as strings). Otherwise it is None, and the constructor warns, naming the
    arguments that are not plain: a checkpoint then cannot rebuild the object.
    """

    init_spec: dict[str, Any] | None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" not in cls.__dict__:
            return  # the inherited (already wrapped) constructor records for this class too
        init = cls.__init__
        signature = inspect.signature(init)

        @functools.wraps(init)
        def __init__(self: RecordsInit, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            if type(self) is cls or cls.__init__ is type(self).__init__:  # the outermost constructor records
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                init_args = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in bound.arguments.items()}
                init_args.pop(next(iter(bound.arguments)))  # self
                name = f"{type(self).__module__}.{type(self).__qualname__}"
                self.init_spec = {"class_path": name, "init_args": init_args}
                not_plain = [key for key, value in init_args.items() if not _is_plain(value)]
                if not_plain:
                    self.init_spec = None
                    quoted = ", ".join(f"{key}={type(init_args[key]).__name__}" for key in not_plain)
                    warnings.warn(
                        f"{type(self).__qualname__}({quoted}): not a plain value (number, string, list, dict), so "
                        "this object records no init_spec and a checkpoint cannot rebuild it; pass plain values "
                        "(e.g. a name or a class path) to rebuild it from a checkpoint",
                        stacklevel=2,
                    )

        cls.__init__ = __init__  # type: ignore[method-assign]


class Recordable(RecordsInit, nn.Module):
    """An ``nn.Module`` that records its constructor arguments in ``init_spec``.

    Subclass it instead of ``nn.Module`` and a ``GANModule`` checkpoint can rebuild your network
    without pickling it. Arguments must be plain values (numbers, strings, lists, dicts).

    Example:
        >>> class Tiny(Recordable):
        ...     def __init__(self, width: int, *, depth: int = 2) -> None:
        ...         super().__init__()
        ...         self.width, self.depth = width, depth
        >>> Tiny(8).init_spec["init_args"]
        {'width': 8, 'depth': 2}
    """


def network_spec(network: nn.Module) -> dict[str, Any] | None:
    """The ``{"class_path", "init_args"}`` record of a network, or None if it has none."""
    spec = getattr(network, "init_spec", None)
    return dict(spec) if isinstance(spec, Mapping) else None


def import_class(class_path: str, role: str) -> Any:
    """Import ``package.module.Name``, with an error that names what was being loaded."""
    module_name, _, name = str(class_path).rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ImportError(f"cannot import the {role} class {class_path!r}: {err}") from err


def build_network(spec: Mapping[str, Any], *, role: str = "network") -> nn.Module:
    """Build a network from a ``{"class_path": ..., "init_args": {...}}`` record."""
    if not isinstance(spec, Mapping) or "class_path" not in spec:
        raise TypeError(
            f"{role}={spec!r} is neither an nn.Module nor a {{'class_path': ..., 'init_args': ...}} mapping"
        )
    class_path = spec["class_path"]
    cls = import_class(class_path, role)
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise TypeError(f"the {role} class_path {class_path!r} is not an nn.Module subclass")
    return cls(**dict(spec.get("init_args") or {}))
