"""Tiny recipe runs for the tracking tests: digits_dcgan for a few iterations at width 8, batch 8."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from lightning_gan.cli import run_cli

RECIPE = Path(__file__).parents[1] / "recipes" / "digits_dcgan.yaml"
MAX_STEPS = 6
LOG_EVERY = 2
GRID_EVERY = 3
FID_EVERY = 4  # and at the last iteration


def run_digits(root: Path, *overrides: str) -> Any:
    """``lightning-gan fit`` of digits_dcgan, tiny: 6 generator iterations, losses every 2, a sample grid every 3,
    FID / IS / KID at 4 and 6."""
    return run_cli(
        [
            "fit",
            "--config",
            str(RECIPE),
            "--trainer.default_root_dir",
            str(root),
            "--trainer.max_steps",
            str(MAX_STEPS),
            "--trainer.log_every_n_steps",
            str(LOG_EVERY),
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.enable_model_summary",
            "false",
            "--data.init_args.batch_size",
            "8",
            "--model.init_args.generator.init_args.width=8",
            "--model.init_args.discriminator.init_args.width=8",
            "--trainer.callbacks+=lightning_gan.callbacks.SampleGrid",
            "--trainer.callbacks.num_samples=16",
            f"--trainer.callbacks.every_n_steps={GRID_EVERY}",
            "--trainer.callbacks+=lightning_gan.callbacks.FidelityMetrics",  # with a small stand-in for InceptionV3
            "--trainer.callbacks.feature_extractor=tests.helpers.SmallExtractor",
            "--trainer.callbacks.num_samples=40",
            f"--trainer.callbacks.every_n_steps={FID_EVERY}",
            "--trainer.callbacks.kid_subset_size=20",
            "--trainer.callbacks.kid_subsets=3",
            "--trainer.callbacks.progress=false",
            f"--trainer.callbacks.cache_dir={root / 'cache'}",
            *overrides,
        ]
    )


def csv_logger(root: Path) -> list[str]:
    """Overrides that swap the recipe's W&B logger for a CSVLogger writing to ``root/csv/version_0``."""
    return [
        "--trainer.logger=lightning.pytorch.loggers.CSVLogger",
        f"--trainer.logger.save_dir={root}",
        "--trainer.logger.name=csv",
        "--trainer.logger.version=0",
    ]


@contextmanager
def offline_wandb(folder: Path) -> Iterator[None]:
    """Like the ``no_wandb_credentials`` fixture, for module-scoped fixtures: no login, W&B logs offline."""
    with pytest.MonkeyPatch.context() as patch:
        for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_BASE_URL", "WANDB_PROJECT"):
            patch.delenv(name, raising=False)
        patch.setenv("NETRC", str(folder / "no-netrc"))
        for name in ("CONFIG", "CACHE", "DATA"):
            patch.setenv(f"WANDB_{name}_DIR", str(folder / f"wandb-{name.lower()}"))
        import wandb

        if wandb.run is not None:  # a run an earlier test left open: Lightning's logger would log into it
            wandb.finish()
        try:
            yield
        finally:
            wandb.finish()  # ends the run (and W&B's capture of the console) before the next run in this process
            wandb.teardown()
