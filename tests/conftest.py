import os
import warnings

import pytest
import torch

# Tiny networks run fastest on one thread, and CI runs three test workers on two cores.
torch.set_num_threads(1)
os.environ.setdefault("WANDB_SILENT", "true")
warnings.filterwarnings("ignore", message=".*LeafSpec.*")


@pytest.fixture
def no_wandb_credentials(tmp_path, monkeypatch):
    """A machine where nobody ran `wandb login`: no API key, no netrc entry, no mode forced."""
    for name in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    yield
    import wandb

    wandb.teardown()  # wandb keeps process-wide settings; the next test starts clean


def pytest_collection_modifyitems(config, items):
    """The long quality checks first: xdist hands tests out in collection order, and a three-minute
    test that starts last makes the whole suite wait for it (test_toy_quality sorts late by name)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: file order otherwise
