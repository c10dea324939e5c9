"""A W&B logger that never kills a run for want of a login or a network."""

from __future__ import annotations

import netrc
import os
import socket
from typing import Any
from urllib.parse import urlparse

from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_warn

__all__ = ["WandbLogger", "has_wandb_credentials", "wandb_reachable"]


def _wandb_url() -> str:
    return os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")


def wandb_reachable(timeout: float = 3.0) -> bool:
    """True if the W&B server accepts a TCP connection within ``timeout`` seconds.

    wandb itself waits about 90 s (and retries) before giving up on a machine without network.
    """
    url = urlparse(_wandb_url())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "api.wandb.ai", port), timeout=timeout):
            return True
    except OSError:
        return False


def has_wandb_credentials() -> bool:
    """True if W&B can find an API key: ``WANDB_API_KEY``, an identity token, or a ``wandb login`` netrc entry."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_IDENTITY_TOKEN_FILE"):
        return True
    host = urlparse(_wandb_url()).hostname or "api.wandb.ai"
    try:
        return netrc.netrc(os.environ.get("NETRC")).authenticators(host) is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandbLogger(_LightningWandbLogger):
    """Lightning's ``WandbLogger``, but a run without W&B credentials or network still runs.

    With no credentials it logs offline from the start; if going online fails (no network), it
    falls back to offline. Either way it says where the run is and how to upload it later with
    ``wandb sync``. ``WANDB_MODE`` (``online``, ``offline``, ``disabled``) and an explicit
    ``offline=True`` or ``mode=...`` are respected as they are.

    ``save_dir`` left at ``None`` is filled in with ``--trainer.default_root_dir`` by the
    ``lightning-gan`` command, so a run's files stay in one place.
    """

    def __init__(self, *args: Any, save_dir: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, save_dir=save_dir, **kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)  # wandb warns about the setting even when unset
        self._explicit_mode = bool(kwargs.get("offline") or kwargs.get("mode") or os.environ.get("WANDB_MODE"))

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        if self._experiment is not None:
            return self._experiment
        if not self._explicit_mode and not has_wandb_credentials():
            self._go_offline("no W&B credentials found (WANDB_API_KEY or `wandb login`)")
        elif not self._explicit_mode and not wandb_reachable():
            self._go_offline(f"the W&B server {_wandb_url()} cannot be reached")
        try:
            return super().experiment
        except Exception as err:  # wandb raises a range of errors for auth and network failures
            if self._wandb_init.get("mode") == "offline" or self._explicit_mode:
                raise
            self._go_offline(f"W&B could not start online ({type(err).__name__}: {err})")
            self._experiment = None
            return super().experiment

    def _go_offline(self, reason: str) -> None:
        self._wandb_init["mode"] = "offline"
        folder = os.path.join(self._save_dir or ".", "wandb")
        rank_zero_warn(
            f"{reason}: logging offline to {folder}. Upload the run later with `wandb sync {folder}/offline-run-*`; "
            "set WANDB_MODE=disabled to switch W&B off."
        )
