"""``compile=True``: the training steps' networks through ``torch.compile``, eager where that fails."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from lightning_gan._internals import COMPILE_ERRORS, compile_backends, compile_modes, has_spectral_norm_hook
from lightning_gan._validate import check

__all__ = ["CompiledNetwork", "check_compile_options", "compile_networks", "compile_options"]


class CompiledNetwork:
    """``torch.compile(network)``, or the network itself where compiling fails (with one warning)."""

    def __init__(self, network: nn.Module, role: str, options: Mapping[str, Any]) -> None:
        self.network, self.role = network, role
        self.compiled: Callable[..., Tensor] | None = None
        if _has_spectral_norm(network):
            # Its power iteration updates u and v in place at every forward; a compiled backward
            # saves them uncloned, so the D step's two forwards (real, fake) before one backward
            # fail with "modified by an inplace operation" (torch 2.14).
            self._fall_back("spectral norm's in-place power iteration breaks compiled backward passes")
            return
        try:
            self.compiled = torch.compile(network, **options)
        except Exception as err:  # noqa: BLE001 - unsupported platform or Python, unknown option or backend
            self._fall_back(err)

    def _fall_back(self, err: BaseException | str) -> None:
        if isinstance(err, BaseException):
            cause = getattr(err, "inner_exception", None) or err  # a backend's own error, wrapped by dynamo
            first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
            err = f"{type(cause).__name__}: {first_line}"
        warnings.warn(
            f"torch.compile could not compile the {self.role} ({err}); it runs eagerly. "
            "compile=False silences this warning",
            stacklevel=3,
        )
        self.compiled = None

    def __call__(self, *args: Tensor) -> Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(*args)
            except COMPILE_ERRORS as err:  # e.g. no C++ compiler for the inductor backend
                self._fall_back(err)
        return self.network(*args)


def compile_options(compile: bool | Mapping[str, Any]) -> dict[str, Any] | None:
    """``GANModule``'s ``compile`` argument as ``torch.compile`` options; ``None`` when off."""
    return dict(compile) if isinstance(compile, Mapping) else ({} if compile else None)


def compile_networks(
    generator: nn.Module, discriminator: nn.Module, options: Mapping[str, Any]
) -> dict[str, CompiledNetwork]:
    """Both networks as the training steps call them, by role."""
    return {
        "generator": CompiledNetwork(generator, "generator", options),
        "discriminator": CompiledNetwork(discriminator, "discriminator", options),
    }


def _has_spectral_norm(network: nn.Module) -> bool:
    """Whether ``network`` uses spectral norm (torch's parametrization or its older hook)."""
    for module in network.modules():
        parametrizations = getattr(module, "parametrizations", {})
        if any(type(p).__name__ == "_SpectralNorm" for plist in parametrizations.values() for p in plist):
            return True
        if has_spectral_norm_hook(module):
            return True
    return False


def check_compile_options(options: Mapping[str, Any]) -> None:
    """Reject a typo in ``compile``'s options before any compute (torch.compile checks them lazily)."""
    known = [name for name in inspect.signature(torch.compile).parameters if name != "model"]
    for name in options:
        check(name in known, f"compile option {name!r}: expected one of {known}")
    mode, backend = options.get("mode"), options.get("backend")
    if mode is not None:
        modes = compile_modes()
        check(mode in modes, f"compile mode {mode!r}: expected one of {modes}")
    if isinstance(backend, str):
        backends = compile_backends()
        check(backend in backends, f"compile backend {backend!r}: expected one of {backends}")
