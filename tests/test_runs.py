"""Runs read back from disk: an offline W&B run and a CSV log of the same tiny recipe, with lightning_gan.runs."""

import shutil
import struct
import warnings

import pytest
from PIL import Image

from lightning_gan.runs import find_runs, read_csv_run, read_run, read_wandb_records, read_wandb_run
from tests.tiny_runs import FID_EVERY, GRID_EVERY, LOG_EVERY, MAX_STEPS, csv_logger, offline_wandb, run_digits

pytestmark = pytest.mark.xdist_group("tiny_runs")  # one worker runs the module: its module fixtures run once

# Lightning logs the losses of generator iteration i (1-based) at step i - 1, every LOG_EVERY iterations;
# callbacks log what they draw after iteration i at trainer.global_step = i.
LOSS_STEPS = [i - 1 for i in range(1, MAX_STEPS + 1) if i % LOG_EVERY == 0]  # [1, 3, 5]
GRID_STEPS = [i for i in range(1, MAX_STEPS + 1) if i % GRID_EVERY == 0]  # [3, 6]
FID_STEPS = [i for i in range(1, MAX_STEPS + 1) if i % FID_EVERY == 0 or i == MAX_STEPS]  # [4, 6]
LOSSES = {"train/d_loss", "train/g_loss", "train/D(x)", "train/D(G(z))"}


@pytest.fixture(scope="module")
def wandb_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("wandb-run")
    with offline_wandb(root), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no W&B credentials found: logging offline" is expected here
        run_digits(root / "run")
    return root / "run"


@pytest.fixture(scope="module")
def csv_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("csv-run") / "run"
    run_digits(root, *csv_logger(root))
    return root


def test_an_offline_wandb_run_holds_the_resolved_cli_config(wandb_root):
    run = read_run(wandb_root)  # the run's root folder: the reader finds wandb/offline-run-*
    assert run.source == "wandb-offline" and "offline-run-" in run.path
    assert run.config["model.init_args.loss"] == "nonsaturating"
    assert run.config["model.init_args.generator.init_args.width"] == 8
    assert run.config["data.class_path"] == "lightning_gan.data.DigitsDataModule"
    assert run.config["trainer.max_steps"] == MAX_STEPS
    assert "loss" not in run.config, "the model's hyperparameters are not logged a second time"


def test_an_offline_wandb_run_has_the_group_tags_job_type_and_step_axis(wandb_root):
    run = read_run(wandb_root)
    assert run.project == "lightning-gan"  # the recipe's (WANDB_PROJECT is unset)
    assert run.group == "digits_dcgan" and run.job_type == "fit"
    assert run.tags == ("nonsaturating", "DCGANGenerator", "DCGANDiscriminator", "digits")
    assert run.step_metrics["*"] == "trainer/global_step"


def test_an_offline_wandb_run_logs_losses_on_the_generator_iteration_axis_and_the_images(wandb_root):
    run = read_run(wandb_root)
    assert LOSSES <= set(run.history)
    for key in LOSSES:
        assert [step for step, _ in run.history[key]] == LOSS_STEPS, key
    assert [step for step, _ in run.images["samples"]] == GRID_STEPS
    for key in ("val/fid", "val/fid_best", "val/is", "val/is_std", "val/kid", "val/kid_std"):
        assert [step for step, _ in run.history[key]] == FID_STEPS, key
    for _, path in run.images["samples"]:
        with Image.open(path) as image:
            image.verify()
    assert not any(key.startswith("samples") for key in run.history), "image fields are not scalar metrics"


def test_wandb_and_csv_runs_of_the_same_recipe_read_back_the_same_losses(wandb_root, csv_root):
    wandb_run, csv_run = read_run(wandb_root), read_run(csv_root)
    assert csv_run.source == "csv" and csv_run.path.endswith("version_0")
    for key in LOSSES:  # same seed, same recipe, on the CPU: the same numbers at the same steps
        (csv_steps, csv_values), (wandb_steps, wandb_values) = zip(*csv_run.history[key]), zip(*wandb_run.history[key])
        assert csv_steps == wandb_steps and csv_values == pytest.approx(wandb_values, rel=1e-6), key


def test_a_csv_run_holds_the_resolved_cli_config_and_the_grids(csv_root):
    run = read_csv_run(csv_root / "csv" / "version_0")
    assert run.config["model.init_args.loss"] == "nonsaturating"
    assert run.config["data.class_path"] == "lightning_gan.data.DigitsDataModule"
    assert run.config["trainer.logger.class_path"] == "lightning.pytorch.loggers.CSVLogger"
    assert [step for step, _ in run.history["train/g_loss"]] == LOSS_STEPS
    assert [step for step, _ in run.history["val/fid"]] == FID_STEPS
    grids = sorted(p.name for p in (csv_root / "csv" / "version_0" / "samples").glob("*.png"))
    assert grids == [f"step_{step:06d}.png" for step in GRID_STEPS]


def test_the_wandb_file_is_read_record_by_record_with_checksums(wandb_root, tmp_path):
    (run_file,) = wandb_root.glob("wandb/offline-run-*/run-*.wandb")
    kinds = [record.WhichOneof("record_type") for record in read_wandb_records(run_file)]
    assert kinds[0] == "header" and "run" in kinds and "history" in kinds and kinds[-1] == "exit"
    corrupt = bytearray(run_file.read_bytes())
    corrupt[7 + 7 + 2] ^= 0xFF  # a byte inside the first record
    (tmp_path / "run-x.wandb").write_bytes(bytes(corrupt))
    with pytest.raises(ValueError, match="checksum"):
        list(read_wandb_records(tmp_path / "run-x.wandb"))
    (tmp_path / "run-y.wandb").write_bytes(struct.pack("<4sHB", b"LOG!", 1, 0))
    with pytest.raises(ValueError, match="not a W&B run file"):
        read_wandb_run(tmp_path)  # takes the last run-*.wandb: run-y


def test_the_reader_says_what_is_wrong_with_a_path(tmp_path, wandb_root, csv_root, no_wandb_credentials):
    with pytest.raises(FileNotFoundError, match="no run folder or file at .*missing"):
        read_run(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no run"):
        read_run(tmp_path / "empty")
    both = tmp_path / "both"
    shutil.copytree(next(wandb_root.glob("wandb/offline-run-*")), both / "wandb-run")
    shutil.copytree(csv_root / "csv" / "version_0", both / "csv-run")
    assert [p.name for p in find_runs(both)] == ["csv-run", "wandb-run"]
    with pytest.raises(ValueError, match="holds 2 runs; pass one of them"):
        read_run(both)
    with pytest.raises(FileNotFoundError, match="needs a login"):
        read_run("someone/some-project/abc123")  # not a folder here: a W&B run path, and no login
