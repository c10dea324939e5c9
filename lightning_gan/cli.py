"""The ``lightning-gan`` command: a LightningCLI for ``fit``/``validate``/``test`` with recipes, and ``sample``."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import Namespace
from lightning.pytorch import LightningDataModule, LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger

from lightning_gan._checks import REMOVED_KEYWORDS, check_removed_keywords
from lightning_gan.callbacks.save_on_interrupt import SaveOnInterrupt
from lightning_gan.loggers import log_run_config, wandb_run_tags
from lightning_gan.module import GANModule

__all__ = ["GANCLI", "GANSaveConfigCallback", "main", "run_cli"]

_RANK_ZERO_LOGGER = "lightning.pytorch.utilities.rank_zero"  # where Lightning's rank_zero_info logs
_LITLOGGER_TIP = "try installing [litlogger]"


@contextmanager
def _without_log_records(logger_name: str, fragment: str) -> Iterator[None]:
    """Drop the records of ``logger_name`` whose message contains ``fragment``, inside the block only."""

    def keep(record: logging.LogRecord) -> bool:
        return fragment not in record.getMessage()

    logger = logging.getLogger(logger_name)
    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)


class GANCLI(LightningCLI):
    """LightningCLI with GAN defaults.

    - a ``ModelCheckpoint`` that always keeps ``last.ckpt`` (configure it under ``checkpoint``);
    - ``SaveOnInterrupt``: SIGTERM or Ctrl+C finish the iteration, write ``last.ckpt`` and exit cleanly;
    - a ``lightning_gan.loggers.WandbLogger`` without ``save_dir`` writes under
      ``--trainer.default_root_dir``, so checkpoints and logger files stay in the run's folder;
    - W&B runs follow one convention (docs/tracking.md): project from ``WANDB_PROJECT`` (else the
      recipe's; ``--trainer.logger.init_args.project`` on the command line wins), group = the recipe's
      name, tags for loss, networks and data set, job type = the subcommand, and the whole resolved
      configuration as the run's config.
    """

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        self._command_line = [str(a) for a in args] if isinstance(args, (list, tuple)) else sys.argv[1:]
        removed = _model_keys(self._command_line) & REMOVED_KEYWORDS.keys()
        if removed:
            check_removed_keywords(removed)  # before jsonargparse's "not expected"
        super().parse_arguments(parser, args)

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        return {key: value for key, value in LightningCLI.subcommands().items() if key in ("fit", "validate", "test")}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True})

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Any]) -> Any:
        if config.get("enable_checkpointing") is False:  # then the always-on ModelCheckpoint steps aside
            callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
        elif not any(isinstance(c, SaveOnInterrupt) for c in [*callbacks, *(config.get("callbacks") or [])]):
            callbacks = [*callbacks, SaveOnInterrupt()]
        with _without_log_records(_RANK_ZERO_LOGGER, _LITLOGGER_TIP):  # an advertisement, printed by Trainer()
            return super()._instantiate_trainer(config, callbacks)

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        root = config.trainer.get("default_root_dir") or "."
        loggers = config.trainer.get("logger")
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            if not _is_wandb(logger):
                continue
            if logger.init_args.get("save_dir") is None:
                logger.init_args.save_dir = str(root)
            self._apply_wandb_conventions(logger.init_args, config)

    def _apply_wandb_conventions(self, init_args: Namespace, config: Namespace) -> None:
        """Fill in project, group, job type and tags of a W&B logger (docs/tracking.md); explicit values stay."""
        env_project = os.environ.get("WANDB_PROJECT")
        project_on_command_line = any(_PROJECT_OPTION.match(arg) for arg in getattr(self, "_command_line", []))
        if env_project and not project_on_command_line:
            init_args.project = env_project
        config_files = config.get("config") or []
        if init_args.get("group") is None and config_files:
            init_args.group = Path(str(config_files[0])).stem
        if init_args.get("job_type") is None and self.subcommand:
            init_args.job_type = self.subcommand
        tags = list(init_args.get("tags") or [])
        init_args.tags = tags + [tag for tag in wandb_run_tags(_to_dict(config)) if tag not in tags]


def _model_keys(command_line: list[str]) -> set[str]:
    """The model's init_args keys set on the command line or in its ``--config`` files."""
    keys = {m.group(1) for arg in command_line if (m := _MODEL_OPTION.match(arg))}
    for index, arg in enumerate(command_line):
        path = arg.split("=", 1)[1] if arg.startswith("--config=") else None
        if arg == "--config" and index + 1 < len(command_line):
            path = command_line[index + 1]
        if path and Path(path).is_file():
            model = (yaml.safe_load(Path(path).read_text()) or {}).get("model")
            if isinstance(model, dict):
                keys |= set(model.get("init_args", model) or {})
    return keys


_MODEL_OPTION = re.compile(r"^--model\.(?:init_args\.)?(\w+)")
# --trainer.logger.init_args.project X, --trainer.logger.project=X, ...
_PROJECT_OPTION = re.compile(r"^--trainer\.logger\.(init_args\.)?project(=|$)")


def _to_dict(value: Any) -> Any:
    if isinstance(value, Namespace):
        return {key: _to_dict(item) for key, item in vars(value).items()}
    if isinstance(value, (list, tuple)):
        return [_to_dict(item) for item in value]
    return value


def _is_wandb(logger: Any) -> bool:
    return isinstance(logger, Namespace) and str(logger.get("class_path", "")).endswith("WandbLogger")


class GANSaveConfigCallback(SaveConfigCallback):
    """Writes ``config.yaml`` as LightningCLI does, and sends the same resolved configuration to every
    W&B logger as the run's config (so runs compare in W&B by any argument, not only the model's)."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        for logger in trainer.loggers:
            if isinstance(logger, _LightningWandbLogger):
                log_run_config(logger, config)


def run_cli(args: list[str] | None = None, *, run: bool = True) -> GANCLI:
    """Run ``lightning-gan`` from Python with ``args`` as on the command line; returns the CLI
    (its ``model``, ``datamodule``, ``trainer``).

    ``run=False`` only parses the configuration and builds the model, data and trainer (no subcommand).
    """
    return GANCLI(
        GANModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_callback=GANSaveConfigCallback,
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def main() -> None:
    """Entry point of the ``lightning-gan`` console script."""
    if sys.argv[1:2] == ["sample"]:
        from lightning_gan.sampling import sample_main

        sample_main(sys.argv[2:])
    elif sys.argv[1:2] == ["evaluate"]:
        from lightning_gan.evaluate import evaluate_main

        evaluate_main(sys.argv[2:])
    elif sys.argv[1:2] == ["stats"]:
        from lightning_gan.evaluate import stats_main

        stats_main(sys.argv[2:])
    elif sys.argv[1:2] == ["neighbours"]:
        from lightning_gan.evaluate import neighbours_main

        neighbours_main(sys.argv[2:])
    elif sys.argv[1:2] == ["compare"]:
        from lightning_gan.compare import compare_main

        compare_main(sys.argv[2:])
    else:
        run_cli()


if __name__ == "__main__":
    main()
