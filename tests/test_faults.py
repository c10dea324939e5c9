"""Faults: SIGTERM / Ctrl+C stop a run cleanly with a checkpoint; SIGKILL never leaves a broken checkpoint."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch

from lightning_gan.callbacks import SaveOnInterrupt
from lightning_gan.cli import run_cli
from tests.helpers import loader

RECIPE = Path(__file__).parents[1] / "recipes" / "gaussian1d.yaml"
COMMAND = [str(Path(sys.executable).with_name("lightning-gan")), "fit", "--config", str(RECIPE)]
QUIET = ["--trainer.logger", "false", "--trainer.callbacks", "[]", "--trainer.enable_progress_bar", "false"]


def start(root: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    args = [*COMMAND, "--trainer.default_root_dir", str(root), *QUIET, *extra]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(path_glob, root: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not list(root.rglob(path_glob)):
        assert process.poll() is None, process.communicate()[0][-3000:]
        assert time.monotonic() < deadline, f"no {path_glob} under {root} after {timeout} s"
        time.sleep(0.05)


def step_of(path: Path) -> int:
    return torch.load(path, weights_only=True, map_location="cpu")["global_step"]


def test_sigterm_finishes_the_iteration_saves_last_ckpt_and_the_run_resumes(tmp_path):
    # checkpoints every 50 iterations; the signal comes after the first, mid-way to the next
    run = start(tmp_path, "--trainer.max_steps", "100000", "--checkpoint.every_n_train_steps", "50")
    wait_for("last.ckpt", tmp_path, run)
    run.send_signal(signal.SIGTERM)
    output = run.communicate(timeout=120)[0]
    assert run.returncode == 0, output[-3000:]
    last = next(tmp_path.rglob("last.ckpt"))
    stopped_at = step_of(last)
    assert stopped_at > 0 and f"resume with --ckpt_path {last}" in output
    resumed = start(tmp_path / "resumed", "--trainer.max_steps", str(stopped_at + 3), "--ckpt_path", str(last))
    output = resumed.communicate(timeout=120)[0]
    assert resumed.returncode == 0, output[-3000:]
    assert step_of(next((tmp_path / "resumed").rglob("last.ckpt"))) == stopped_at + 3


def test_sigkill_at_any_moment_leaves_every_written_checkpoint_loadable(tmp_path):
    # a checkpoint every iteration, all kept: the kill lands during a write sooner or later
    every_step = [
        "--trainer.max_steps",
        "100000",
        "--checkpoint.every_n_train_steps",
        "1",
        "--checkpoint.save_top_k",
        "-1",
    ]
    for attempt, delay in enumerate((0.0, 0.37)):
        root = tmp_path / str(attempt)
        run = start(root, *every_step)
        wait_for("*.ckpt", root, run)
        time.sleep(delay)
        run.kill()
        run.communicate(timeout=60)
        files = [p for p in root.rglob("*") if p.is_file() and ".ckpt" in p.name]
        assert files
        for path in files:  # temporary files of an unfinished write are not left under a checkpoint's name
            assert path.suffix == ".ckpt", path
            step_of(path)  # loads


class _CtrlCAt(L.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            signal.raise_signal(signal.SIGINT)  # arrives mid-iteration, as a key press would


def test_ctrl_c_finishes_the_iteration_and_saves_last_ckpt(tmp_path, gan, tiny_trainer):
    saver = SaveOnInterrupt()
    fit = tiny_trainer(max_steps=100, callbacks=[_CtrlCAt(5), saver])
    # the handler the shell gave us: Python's default, or SIG_IGN in a job started with `nohup ... &`
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(SystemExit):  # Lightning's clean exit
        fit.fit(gan, loader(torch.randn(256, 2)))
    assert saver.saved == tmp_path / "last.ckpt"
    assert step_of(saver.saved) == 6  # the interrupted iteration completed, then the run stopped
    assert signal.getsignal(signal.SIGINT) is before  # Ctrl+C does again what it did before the fit


def test_the_command_always_saves_on_interrupt(tmp_path):
    cli = run_cli(["--config", str(RECIPE), "--trainer.default_root_dir", str(tmp_path), *QUIET], run=False)
    assert any(isinstance(c, SaveOnInterrupt) for c in cli.trainer.callbacks)
