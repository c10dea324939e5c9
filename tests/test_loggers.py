from pathlib import Path

import pytest

from lightning_gan.cli import run_cli
from lightning_gan.loggers import WandbLogger, dataset_tag, has_wandb_credentials, wandb_run_tags


def test_without_credentials_the_logger_goes_offline_and_says_how_to_sync(tmp_path, no_wandb_credentials):
    assert not has_wandb_credentials()
    logger = WandbLogger(project="test", save_dir=str(tmp_path))
    with pytest.warns(UserWarning, match=r"no W&B credentials found.*wandb sync"):
        run = logger.experiment
    run.log({"x": 1.0})
    run.finish()
    assert list(tmp_path.glob("wandb/offline-run-*/run-*.wandb"))


def test_with_credentials_but_no_network_the_logger_goes_offline_at_once(tmp_path, no_wandb_credentials, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "a" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    assert has_wandb_credentials()
    logger = WandbLogger(project="test", save_dir=str(tmp_path))
    with pytest.warns(UserWarning, match=r"cannot be reached.*wandb sync"):
        run = logger.experiment
    run.finish()
    assert list(tmp_path.glob("wandb/offline-run-*/run-*.wandb"))


def test_an_explicit_mode_is_respected(tmp_path, no_wandb_credentials):
    logger = WandbLogger(project="test", save_dir=str(tmp_path), mode="disabled")
    logger.experiment.log({"x": 1.0})
    assert logger._wandb_init["mode"] == "disabled"
    assert not list(tmp_path.glob("wandb/offline-run-*"))
    logger.experiment.finish()  # else the next WandbLogger in this process would log into this disabled run


RECIPE = str(Path(__file__).parents[1] / "recipes" / "digits_dcgan.yaml")


def wandb_init(*args):
    """The W&B init arguments the lightning-gan command gives the recipe's logger (nothing is trained or started)."""
    return run_cli(
        ["--config", RECIPE, "--trainer.default_root_dir", "unused", *args], run=False
    ).trainer.logger._wandb_init


def test_the_project_comes_from_wandb_project_else_the_recipe_and_the_command_line_wins(monkeypatch):
    monkeypatch.delenv("WANDB_PROJECT", raising=False)
    assert wandb_init()["project"] == "lightning-gan"
    monkeypatch.setenv("WANDB_PROJECT", "from-env")
    assert wandb_init()["project"] == "from-env"
    assert wandb_init("--trainer.logger.init_args.project", "mine")["project"] == "mine"
    assert wandb_init("--trainer.logger.init_args.project=mine")["project"] == "mine"


def test_the_group_is_the_recipe_name_and_the_tags_name_loss_networks_and_data(monkeypatch):
    init = wandb_init("--model.init_args.loss", "hinge")
    assert init["group"] == "digits_dcgan"
    assert init["tags"] == ["hinge", "DCGANGenerator", "DCGANDiscriminator", "digits"]
    init = wandb_init("--trainer.logger.init_args.group", "sweep-1", "--trainer.logger.init_args.tags", "[mine]")
    assert init["group"] == "sweep-1"  # explicit values stay; the package's tags are added to the given ones
    assert init["tags"] == ["mine", "nonsaturating", "DCGANGenerator", "DCGANDiscriminator", "digits"]


def test_run_tags_from_a_config():
    config = {
        "model": {"init_args": {"loss": "wasserstein", "generator": {"class_path": "a.ResNetGenerator"}}},
        "data": {"class_path": "lightning_gan.data.CIFAR10DataModule"},
    }
    assert wandb_run_tags(config) == ["wasserstein", "ResNetGenerator", "cifar10"]
    assert wandb_run_tags({}) == []
    assert [dataset_tag(name) for name in ("DigitsDataModule", "x.Gaussian1DDataModule", "MyData")] == [
        "digits",
        "gaussian1d",
        "mydata",
    ]
    with pytest.raises(ValueError, match=r"dataset_tag\(''\): expected a class name"):
        dataset_tag("")
    with pytest.raises(TypeError, match="expected a mapping"):
        wandb_run_tags(["model"])
