"""A W&B logger that never kills a run for want of a login or a network, and the run conventions
(tags, the run config) that let runs compare in W&B without set-up; docs/tracking.md describes them."""

from __future__ import annotations

import netrc
import os
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger
from lightning.pytorch.loggers.logger import rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_warn

__all__ = ["WandbLogger", "dataset_tag", "has_wandb_credentials", "log_run_config", "wandb_reachable", "wandb_run_tags"]


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


def dataset_tag(class_path: str) -> str:
    """A short tag for a data module's class: ``lightning_gan.data.DigitsDataModule`` -> ``digits``,
    ``CIFAR10DataModule`` -> ``cifar10`` (the class name without ``DataModule``, lower case)."""
    if not (isinstance(class_path, str) and class_path):
        raise ValueError(f"dataset_tag({class_path!r}): expected a class name or dotted class path")
    name = class_path.rsplit(".", 1)[-1]
    return (name.removesuffix("DataModule") or name).lower()


def _class_name(spec: Any) -> str | None:
    """The class name in a ``{"class_path": ..., "init_args": ...}`` spec or a dotted path; None otherwise."""
    if isinstance(spec, Mapping):
        spec = spec.get("class_path")
    return spec.rsplit(".", 1)[-1] if isinstance(spec, str) and spec else None


def wandb_run_tags(config: Mapping[str, Any]) -> list[str]:
    """W&B tags for a resolved ``lightning-gan`` configuration: the model's ``loss``, the generator's and the
    discriminator's class names and the data set (:func:`dataset_tag`), each only when the config names it.

    ``{"model": {"init_args": {"loss": "hinge", "generator": {"class_path": "lightning_gan.nets.DCGANGenerator"}}},
    "data": {"class_path": "lightning_gan.data.DigitsDataModule"}}`` gives ``["hinge", "DCGANGenerator", "digits"]``.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"wandb_run_tags(config={type(config).__name__}): expected a mapping (the resolved config)")
    model = config.get("model")
    init_args = model.get("init_args", model) if isinstance(model, Mapping) else {}
    tags: list[str] = []
    if isinstance(init_args, Mapping):
        if isinstance(init_args.get("loss"), str):
            tags.append(init_args["loss"])
        tags += [name for net in ("generator", "discriminator") if (name := _class_name(init_args.get(net)))]
    if data_class := _class_name(config.get("data")):
        tags.append(dataset_tag(data_class))
    return list(dict.fromkeys(tags))  # in order, once each


def log_run_config(logger: _LightningWandbLogger, config: Mapping[str, Any]) -> None:
    """Make ``config`` (the whole resolved configuration, nested dicts) the W&B run's config.

    With a ``lightning_gan.loggers.WandbLogger`` the model's hyperparameters are then not logged a second
    time at the top level: they are in ``config`` already, under ``model.init_args``.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"log_run_config(config={type(config).__name__}): expected a mapping")
    logger.experiment.config.update(dict(config), allow_val_change=True)
    if isinstance(logger, WandbLogger):
        logger._run_config_logged = True


class WandbLogger(_LightningWandbLogger):
    """Lightning's ``WandbLogger``, but a run without W&B credentials or network still runs.

    With no credentials it logs offline from the start; if going online fails (no network), it
    falls back to offline. Either way it says where the run is and how to upload it later with
    ``wandb sync``. ``WANDB_MODE`` (``online``, ``offline``, ``disabled``) and an explicit
    ``offline=True`` or ``mode=...`` are respected as they are.

    ``save_dir`` left at ``None`` is filled in with ``--trainer.default_root_dir`` by the
    ``lightning-gan`` command, so a run's files stay in one place. That command also fills in the run's
    group, job type and tags and logs its whole configuration as the run's config (docs/tracking.md).
    Every metric and image is plotted against ``trainer/global_step`` (Lightning's ``define_metric``).
    """

    _run_config_logged = False

    def log_hyperparams(self, params: Any) -> None:
        """Log hyperparameters to the run's config, unless the whole resolved configuration is there already."""
        if not self._run_config_logged:
            super().log_hyperparams(params)

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
        if self._save_dir:  # W&B looks for the code's git repository from here: it must exist
            os.makedirs(self._save_dir, exist_ok=True)
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
