import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lightning_gan import GANModule
from lightning_gan.cli import run_cli

RECIPES = sorted((Path(__file__).parents[1] / "recipes").glob("*.yaml"))
GAUSSIAN = Path(__file__).parents[1] / "recipes" / "gaussian1d.yaml"


def test_there_are_recipes():
    assert {"gaussian1d.yaml", "ring8.yaml", "grid25.yaml"} <= {p.name for p in RECIPES}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_every_recipe_parses_and_builds(recipe, tmp_path):
    cli = run_cli(["--config", str(recipe), "--trainer.default_root_dir", str(tmp_path)], run=False)
    assert isinstance(cli.model, GANModule)
    assert cli.trainer.max_steps > 0, "recipes state their budget in generator iterations"
    assert any(type(c).__name__ == "ModelCheckpoint" and c.save_last for c in cli.trainer.callbacks)


FAST = Path(__file__).parents[1] / "recipes" / "overlays" / "fast.yaml"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_the_fast_overlay_switches_the_fast_path_on_over_every_recipe(recipe, tmp_path):
    plain = run_cli(["--config", str(recipe), "--trainer.default_root_dir", str(tmp_path)], run=False)
    cli = run_cli(
        ["--config", str(recipe), "--config", str(FAST), "--trainer.default_root_dir", str(tmp_path)], run=False
    )
    assert cli.model.channels_last and cli.model.compile_options == {}
    for optimizer, fast_optimizer in zip(plain.model.configure_optimizers()[0], cli.model.configure_optimizers()[0]):
        assert fast_optimizer.defaults == {**optimizer.defaults, "fused": True}  # the recipe's settings, fused
    assert cli.trainer.max_steps == plain.trainer.max_steps


def test_checkpointing_can_be_switched_off(tmp_path):
    cli = run_cli(
        [
            "fit",
            "--config",
            str(GAUSSIAN),
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.max_steps",
            "3",
            "--trainer.logger",
            "false",
            "--trainer.callbacks",
            "[]",
            "--trainer.enable_checkpointing",
            "false",
        ]
    )
    assert cli.trainer.global_step == 3 and not list(tmp_path.glob("**/*.ckpt"))


def test_a_config_typo_is_an_error_naming_the_key(tmp_path, capsys):
    config = tmp_path / "typo.yaml"
    config.write_text(GAUSSIAN.read_text().replace("latent_distribution:", "latent_distributon:"))
    with pytest.raises(SystemExit):
        run_cli(["--config", str(config)], run=False)
    assert "latent_distributon" in capsys.readouterr().err


def test_an_unknown_loss_in_a_config_is_an_error_before_training(tmp_path, capsys):
    with pytest.raises((SystemExit, ValueError)) as error:
        run_cli(["--config", str(GAUSSIAN), "--model.init_args.loss", "hinj"], run=False)
    assert "hinj" in str(error.value) + capsys.readouterr().err


def test_cli_checkpoint_loads_weights_only_and_generates_what_the_run_did(tmp_path):
    recipe = Path(__file__).parents[1] / "recipes" / "gaussian1d.yaml"
    cli = run_cli(
        [
            "fit",
            "--config",
            str(recipe),
            "--trainer.default_root_dir",
            str(tmp_path),
            "--trainer.max_steps",
            "20",
            "--trainer.logger",
            "false",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.callbacks",
            "[]",
        ]
    )
    assert cli.trainer.global_step == 20
    (last,) = tmp_path.glob("**/last.ckpt")
    torch.load(last, weights_only=True)
    loaded = GANModule.load_from_checkpoint(last)
    torch.testing.assert_close(loaded.generate(64, seed=5), cli.model.generate(64, seed=5))


def test_a_run_without_wandb_credentials_or_network_goes_offline_and_keeps_everything_in_its_folder(
    tmp_path, no_wandb_credentials
):
    root, cwd = tmp_path / "run", tmp_path / "cwd"
    cwd.mkdir()
    recipe = Path(__file__).parents[1] / "recipes" / "gaussian1d.yaml"
    env = {**os.environ, "WANDB_SILENT": "false"}
    result = subprocess.run(
        [
            Path(sys.executable).with_name("lightning-gan"),
            "fit",
            "--config",
            recipe,
            "--trainer.default_root_dir",
            root,
            "--trainer.max_steps",
            "60",
            "--trainer.enable_progress_bar",
            "false",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "wandb sync" in result.stderr + result.stdout
    (run_file,) = root.glob("wandb/offline-run-*/run-*.wandb")
    assert run_file.stat().st_size > 0
    assert len(list(root.glob("**/last.ckpt"))) == 1
    assert (root / "toy_distribution.png").exists()
    assert list(cwd.iterdir()) == [], "nothing may land in the working directory"


NOISE = {
    "Lightning's note that the iteration bar overrides its own": "will override existing callbacks",
    "W&B's warning about a run folder not made yet": "git root",
    "torch's LeafSpec deprecation, raised inside Lightning": "LeafSpec",
    "Lightning's litlogger advertisement": "litlogger",
    "Lightning's dataloader_iter notices": "dataloader_iter",
}


def test_a_newcomer_s_first_run_prints_what_matters_and_no_noise(tmp_path, no_wandb_credentials):
    # the README's first command, as shipped (progress bar, W&B, summary), in a git checkout with a
    # run folder that does not exist yet
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    recipe = Path(__file__).parents[1] / "recipes" / "gaussian1d.yaml"
    result = subprocess.run(
        [Path(sys.executable).with_name("lightning-gan"), "fit", "--config", recipe,
         "--trainer.default_root_dir", "runs/gaussian1d", "--trainer.max_steps", "30"],
        cwd=tmp_path, env={**os.environ, "WANDB_SILENT": "false"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    for what, fragment in NOISE.items():
        assert fragment not in output, f"{what}: {fragment!r} in\n{output[-3000:]}"
    assert "logging offline to runs/gaussian1d/wandb" in output  # the W&B offline notice, and where
    assert "wandb sync runs/gaussian1d/wandb/offline-run-" in output
    assert "Total params" in output and "30/30" in output  # the summary; the bar counts iterations


def test_the_command_offers_fit_validate_and_test(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("fit", "validate", "test")) and "predict" not in out


@pytest.mark.parametrize("where", ["command line", "config"])
def test_an_old_regularizer_keyword_is_refused_naming_its_replacement(where, tmp_path):
    recipe = Path(__file__).parents[1] / "recipes" / "ring8.yaml"
    args = ["fit", "--config", str(recipe)]
    if where == "command line":
        args += ["--model.init_args.r1_gamma", "0.3"]
    else:
        old = tmp_path / "old.yaml"
        old.write_text("model:\n  init_args:\n    gp_weight: 10.0\n")
        args += ["--config", str(old)]
    with pytest.raises(TypeError, match=r"no longer takes '(r1_gamma|gp_weight)'.*lightning_gan.regularizers"):
        run_cli(args, run=False)
