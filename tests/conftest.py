import json
import os
import random
import signal
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

# Tiny networks run fastest on one thread, and CI runs three test workers on two cores.
torch.set_num_threads(1)
os.environ.setdefault("WANDB_SILENT", "true")


@pytest.fixture
def no_wandb_credentials(tmp_path):
    """A machine where nobody ran `wandb login`: no API key, no netrc entry, no mode forced; the
    run a test leaves open is finished and W&B torn down after it, so the next test starts clean."""
    from tests.tiny_runs import offline_wandb

    with offline_wandb(tmp_path):
        yield


@pytest.fixture
def gan():
    """A fresh tiny GAN on 2-D points (an MLP generator and discriminator, 16 wide): ``tests.helpers.tiny_gan()``."""
    from tests.helpers import tiny_gan

    return tiny_gan()


@pytest.fixture
def tiny_trainer(tmp_path):
    """Makes CPU trainers that write under the test's tmp_path, without logger, checkpoints, bar or
    summary unless asked: ``tiny_trainer(max_steps=5, **trainer_options)``."""
    from tests.helpers import trainer

    return partial(trainer, tmp_path)


@pytest.fixture(scope="session")
def ddp_launch(tmp_path_factory) -> Path:
    """One torchrun launch of tests/ddp/worker.py (starting processes is the slow part), shared with
    test_prdc_ddp.py: both modules are in the "ddp" xdist group, so one worker runs them and this once."""
    out = tmp_path_factory.mktemp("ddp")
    from tests.ddp import torchrun, worker

    torchrun(str(Path(worker.__file__)), str(out), cwd=out)
    return out


DURATIONS = Path(__file__).with_name("durations.json")  # seconds per test id, written by --store-durations
LONG = 5.0  # seconds: a test that takes longer is scheduled among the long ones
WORKERS = 3  # as in pyproject's addopts


def pytest_addoption(parser):
    parser.addoption(
        "--store-durations", action="store_true",
        help=f"write each test's duration (setup + call + teardown) to {DURATIONS.name} for the suite's schedule",
    )  # fmt: skip


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Each test starts from the signal handlers and random states the one before it found."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    states = torch.get_rng_state(), random.getstate(), np.random.get_state()
    yield
    if threading.current_thread() is threading.main_thread():
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    torch.set_rng_state(states[0])
    random.setstate(states[1])
    np.random.set_state(states[2])


def _recorded() -> dict[str, float]:
    return json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}


def pytest_collection_modifyitems(config, items):
    """Order for three workers on two cores (``--dist loadgroup --no-loadscope-reorder``), by the
    durations the suite last recorded (``pytest --store-durations`` writes tests/durations.json).

    xdist gives each worker one unit of work, then a second, and a new one each time a worker is
    down to two: a unit is a test, or a whole module marked ``xdist_group`` (modules whose module
    fixtures are expensive: a torchrun launch, InceptionV3 runs), so those fixtures run once. The
    three longest tests go first, one per worker, then three quick ones (the tests that wait
    behind them), then the other long ones, longest first, so none starts late. A test with no
    recorded duration (new, or renamed) counts as long when it is marked ``slow``: it keeps its
    place among the long ones, and the summary names it so the next --store-durations records it.
    """
    recorded = _recorded()
    config._unrecorded_slow = [
        item.nodeid for item in items if item.nodeid not in recorded and item.get_closest_marker("slow")
    ]

    def seconds(item) -> float:
        if item.nodeid in recorded:
            return recorded[item.nodeid]
        return LONG if item.get_closest_marker("slow") else 0.0

    ordered = sorted(items, key=seconds, reverse=True)  # stable: file order among equals
    long_ones = [item for item in ordered if seconds(item) >= LONG]
    short = [item for item in items if seconds(item) < LONG]
    quick = [item for item in short if not item.get_closest_marker("xdist_group")]
    grouped = [item for item in short if item.get_closest_marker("xdist_group")]
    items[:] = long_ones[:WORKERS] + quick[:WORKERS] + long_ones[WORKERS:] + grouped + quick[WORKERS:]


_DURATIONS: dict[str, float] = {}  # this session's, per test id (under xdist: the controller's, from every worker)


def pytest_runtest_logreport(report):
    _DURATIONS[report.nodeid] = _DURATIONS.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    config = session.config
    if config.getoption("--store-durations") and not hasattr(config, "workerinput") and _DURATIONS:
        kept = _recorded()  # a partial run updates the tests it ran
        for nodeid, seconds in _DURATIONS.items():
            if seconds >= 1.0:
                kept[nodeid] = round(seconds, 1)
            else:
                kept.pop(nodeid, None)
        DURATIONS.write_text(json.dumps(dict(sorted(kept.items())), indent=1) + "\n")


def pytest_terminal_summary(terminalreporter, config):
    missing = getattr(config, "_unrecorded_slow", [])
    if missing:
        terminalreporter.write_line(
            f"{len(missing)} slow test(s) with no recorded duration, scheduled as {LONG:g} s "
            f"(run `pytest --store-durations` to record them): {', '.join(missing[:5])}"
        )
