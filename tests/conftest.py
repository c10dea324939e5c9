import os
import warnings

import pytest
import torch

# Tiny networks run fastest on one thread, and CI runs two test workers on two cores.
torch.set_num_threads(1)
os.environ.setdefault("WANDB_SILENT", "true")
warnings.filterwarnings("ignore", message=".*LeafSpec.*")

# The long quality runs (minutes each on one CPU core) in two groups of about equal length, run
# with `--dist loadgroup`: each group stays on one worker and the short tests fill in around them.
# Left to xdist's default, two grid25 seeds could land on one worker after everything else and
# make the suite ~2 minutes longer. Measured on 2 cores: A = grid25 seeds 0 and 2 + gaussian1d
# (~480 s), B = grid25 seed 1 + ring8 + the digits recipes (~425 s).
LONG_A = pytest.mark.xdist_group("long_a")
LONG_B = pytest.mark.xdist_group("long_b")


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
