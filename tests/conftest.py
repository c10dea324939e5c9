import os
from pathlib import Path

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


@pytest.fixture(scope="session")
def ddp_launch(tmp_path_factory) -> Path:
    """One torchrun launch of tests/ddp/worker.py (starting processes is the slow part), shared with
    test_prdc_ddp.py: both modules are in the "ddp" xdist group, so one worker runs them and this once."""
    out = tmp_path_factory.mktemp("ddp")
    from tests.ddp import torchrun, worker

    torchrun(str(Path(worker.__file__)), str(out), cwd=out)
    return out


# The longest tests, longest first (seconds in a CI run: grid25 ~300, digits_stylegan2 ~200
# per seed, augmentation ~130, ring8 ~100, the folder recipe ~90 (InceptionV3 on 200 images),
# digits_cgan and digits_dcgan ~80); the rest of the slow-marked ones follow them.
LONGEST_FIRST = (
    "test_grid25", "test_digits_stylegan2", "test_digits_dcgan_learns", "test_ring8", "test_the_folder_recipe",
    "test_digits_cgan", "test_augmentation_closes",
)  # fmt: skip
WORKERS = 3  # as in pyproject's addopts


def pytest_collection_modifyitems(config, items):
    """Order for three workers on two cores (``--dist loadgroup --no-loadscope-reorder``).

    xdist gives each worker one unit of work, then a second, and a new one each time a worker is
    down to two: a unit is a test, or a whole module marked ``xdist_group`` (modules whose module
    fixtures are expensive: a torchrun launch, InceptionV3 runs), so those fixtures run once. The
    three longest tests go first, one per worker, then three quick ones (the tests that wait
    behind them), then the other long ones, so none starts late: before this, test_toy_quality
    sorted last by name and the suite waited for the grid25 seeds.
    """

    def rank(item) -> int:
        for position, fragment in enumerate(LONGEST_FIRST):
            if fragment in item.name:
                return position
        return len(LONGEST_FIRST) if item.get_closest_marker("slow") else len(LONGEST_FIRST) + 1

    ordered = sorted(items, key=rank)  # stable: file order within each rank
    long_ones = [item for item in ordered if rank(item) <= len(LONGEST_FIRST)]
    quick = [item for item in ordered if rank(item) > len(LONGEST_FIRST) and not item.get_closest_marker("xdist_group")]
    grouped = [item for item in ordered if rank(item) > len(LONGEST_FIRST) and item.get_closest_marker("xdist_group")]
    items[:] = long_ones[:WORKERS] + quick[:WORKERS] + long_ones[WORKERS:] + grouped + quick[WORKERS:]
