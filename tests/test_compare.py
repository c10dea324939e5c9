"""`lightning-gan compare` over two tiny runs of digits_dcgan: an offline W&B run and a CSV run with another loss."""

import csv
import sys
import warnings

import pytest
from PIL import Image

from lightning_gan.cli import main
from lightning_gan.compare import MISSING, compare_runs, format_table, higher_is_better
from lightning_gan.runs import Run
from tests.tiny_runs import csv_logger, offline_wandb, run_digits

pytestmark = pytest.mark.xdist_group("tiny_runs_compare")  # one worker runs the module: its module fixtures run once


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """(W&B run root, nonsaturating loss), (CSV run root, least-squares loss)."""
    wandb_root = tmp_path_factory.mktemp("compare") / "nonsaturating"
    with offline_wandb(wandb_root.parent), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no W&B credentials found: logging offline" is expected here
        run_digits(wandb_root)
    csv_root = wandb_root.parent / "least_squares"
    run_digits(csv_root, *csv_logger(csv_root), "--model.init_args.loss", "least_squares")
    return wandb_root, csv_root


def csv_column(path, key):
    """(step, value) pairs of one metric, read straight from a metrics.csv."""
    with open(path, newline="") as handle:
        return [(int(row["step"]), float(row[key])) for row in csv.DictReader(handle) if row[key]]


def lightning_gan(*args, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["lightning-gan", *args])
    return main()


def test_compare_prints_the_differing_config_and_best_and_last_values_and_draws_the_curves(
    two_runs, tmp_path, capsys, monkeypatch
):
    wandb_root, csv_root = two_runs
    out = tmp_path / "curves.png"
    lightning_gan(
        "compare",
        str(wandb_root),
        str(csv_root),
        "--metric",
        "train/g_loss",
        "--out",
        str(out),
        monkeypatch=monkeypatch,
    )
    table = capsys.readouterr().out
    (loss_row,) = [line for line in table.splitlines() if line.startswith("model.init_args.loss ")]
    assert loss_row.split()[1:] == ["nonsaturating", "least_squares"]
    assert "trainer.default_root_dir" not in table and "max_steps" not in table  # per-run paths; equal values
    csv_points = csv_column(csv_root / "csv" / "version_0" / "metrics.csv", "train/g_loss")
    best, last = min(csv_points, key=lambda p: p[1]), csv_points[-1]
    (best_row,) = [line for line in table.splitlines() if line.startswith("train/g_loss best (min)")]
    (last_row,) = [line for line in table.splitlines() if line.startswith("train/g_loss last")]
    assert best_row.endswith(f"{best[1]:.6g} @ {best[0]}") and last_row.endswith(f"{last[1]:.6g} @ {last[0]}")
    with Image.open(out) as image:
        image.verify()
        assert image.format == "PNG" and image.size[0] > 300
    lightning_gan("compare", str(wandb_root), str(csv_root), monkeypatch=monkeypatch)  # the default: val/fid
    fids = csv_column(csv_root / "csv" / "version_0" / "metrics.csv", "val/fid")
    best = min(fids, key=lambda p: p[1])
    (best_row,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("val/fid best (min)")]
    assert best_row.endswith(f"{best[1]:.6g} @ {best[0]}")


def test_compare_best_follows_the_rule_and_its_override():
    run = Run("r", {}, {"val/fid": [(1, 5.0), (2, 3.0), (3, 4.0)], "val/is": [(1, 2.0), (2, 6.0), (3, 5.0)]}, "csv")
    assert compare_runs([run], "val/fid").best == [(2, 3.0)] and compare_runs([run], "val/fid").last == [(3, 4.0)]
    assert compare_runs([run], "val/is").best == [(2, 6.0)]
    assert compare_runs([run], "val/fid", higher=True).best == [(1, 5.0)]  # --higher-is-better: the max
    other = Run("s", {"model.init_args.loss": "hinge"}, {"train/g_loss": [(0, 1.0)]}, "csv")
    comparison = compare_runs([run, other], "val/fid")
    assert comparison.best == [(2, 3.0), None] and comparison.config_diff == {
        "model.init_args.loss": [MISSING, "hinge"]
    }
    assert "not logged" in format_table(comparison).splitlines()[-3]
    assert [higher_is_better(m) for m in ("val/fid", "val/kid", "train/g_loss", "val/is", "IS")] == [
        False,
        False,
        False,
        True,
        True,
    ]


def test_compare_names_the_metrics_that_exist_and_a_missing_run(two_runs, tmp_path, capsys, monkeypatch):
    wandb_root, csv_root = two_runs
    with pytest.raises(SystemExit) as exit_info:
        lightning_gan("compare", str(wandb_root), str(csv_root), "--metric", "val/psnr", monkeypatch=monkeypatch)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "no run logged the metric 'val/psnr'" in error and "train/g_loss" in error and "val/fid" in error
    with pytest.raises(SystemExit):
        lightning_gan("compare", str(wandb_root), str(tmp_path / "nope"), monkeypatch=monkeypatch)
    assert "no run folder or file at" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        lightning_gan("compare", str(wandb_root), "--out", str(tmp_path / "curves.jpg"), monkeypatch=monkeypatch)
    assert "expected a .png file" in capsys.readouterr().err
