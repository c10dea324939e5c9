"""The ``lightning-gan`` command: a LightningCLI for ``fit``/``validate``/``test`` with recipes, and ``sample``."""

from __future__ import annotations

import sys
from typing import Any

from jsonargparse import Namespace
from lightning.pytorch import LightningDataModule
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lightning_gan.callbacks.save_on_interrupt import SaveOnInterrupt
from lightning_gan.module import GANModule

__all__ = ["GANCLI", "main", "run_cli"]


class GANCLI(LightningCLI):
    """LightningCLI with GAN defaults.

    - a ``ModelCheckpoint`` that always keeps ``last.ckpt`` (configure it under ``checkpoint``);
    - ``SaveOnInterrupt``: SIGTERM or Ctrl+C finish the iteration, write ``last.ckpt`` and exit cleanly;
    - a ``lightning_gan.loggers.WandbLogger`` without ``save_dir`` writes under
      ``--trainer.default_root_dir``, so checkpoints and logger files stay in the run's folder.
    """

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
        return super()._instantiate_trainer(config, callbacks)

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        root = config.trainer.get("default_root_dir") or "."
        loggers = config.trainer.get("logger")
        for logger in loggers if isinstance(loggers, list) else [loggers]:
            if _is_wandb(logger) and logger.init_args.get("save_dir") is None:
                logger.init_args.save_dir = str(root)


def _is_wandb(logger: Any) -> bool:
    return isinstance(logger, Namespace) and str(logger.get("class_path", "")).endswith("WandbLogger")


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
        save_config_kwargs={"overwrite": True},
        args=args,
        run=run,
    )


def main() -> None:
    """Entry point of the ``lightning-gan`` console script."""
    if sys.argv[1:2] == ["sample"]:
        from lightning_gan.sampling import sample_main

        sample_main(sys.argv[2:])
    else:
        run_cli()


if __name__ == "__main__":
    main()
