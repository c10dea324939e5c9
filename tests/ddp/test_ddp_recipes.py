"""Every CPU recipe exactly as shipped (its W&B logger, offline; its callbacks; its figure) on 2
processes under torchrun: it exits 0, writes ``last.ckpt`` once and each picture once."""

import os
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tests.ddp import LAUNCH, run_launch

RECIPES = Path(__file__).parents[2] / "recipes"
CPU_RECIPES = sorted(
    p.stem for p in RECIPES.glob("*.yaml") if yaml.safe_load(p.read_text())["trainer"].get("accelerator") == "cpu"
)
STEPS = 4


def test_the_cpu_recipes_are_the_ones_users_can_run_here():
    assert {"gaussian1d", "ring8", "grid25", "digits_dcgan", "digits_cgan"} <= set(CPU_RECIPES)


@pytest.mark.slow
@pytest.mark.parametrize("recipe", CPU_RECIPES)
def test_a_cpu_recipe_as_shipped_runs_under_torchrun_on_two_processes(recipe, tmp_path):
    env = {
        **os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "offline", "WANDB_SILENT": "true",
        "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"), "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
        "WANDB_DATA_DIR": str(tmp_path / "wandb-data"), "PYTHONPATH": str(Path(__file__).parents[2]),
    }  # fmt: skip
    root = tmp_path / "run"
    command = [
        *LAUNCH, "--no-python", str(Path(sys.executable).with_name("lightning-gan")), "fit", "--config", str(RECIPES / f"{recipe}.yaml"),
        "--trainer.default_root_dir", str(root), "--trainer.devices", "2", "--trainer.strategy", "ddp",
        "--trainer.max_steps", str(STEPS),
    ]  # fmt: skip
    result = run_launch(command, cwd=tmp_path, env=env, timeout=300, what=recipe)
    # the bar counts generator iterations: min(iterations per epoch and process, max_steps)
    assert f" {STEPS}/{STEPS} [" in result.stdout and f" {2 * STEPS}/" not in result.stdout
    (checkpoint,) = root.rglob("last.ckpt")  # once
    assert torch.load(checkpoint, weights_only=True)["global_step"] == STEPS
    pictures = sorted(p.relative_to(root) for p in root.rglob("*.png") if "wandb" not in p.parts)
    if yaml.safe_load((RECIPES / f"{recipe}.yaml").read_text())["trainer"].get("callbacks"):
        assert pictures, "the recipe's callbacks wrote no picture"
    assert len({p.name for p in pictures}) == len(pictures), f"a picture written twice: {pictures}"
    assert len(list((root / "wandb").glob("offline-run-*"))) == 1  # one W&B run, from rank zero
