import pytest

from lightning_gan.loggers import WandbLogger, has_wandb_credentials


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
