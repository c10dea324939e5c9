"""``recipes/folder_dcgan_ada.yaml``, the one command a user runs on a folder of their own images:
end to end on 200 small pictures of odd sizes made here, offline, with its metric callback on
(InceptionV3 from a weights file this test writes), its sample grids and its W&B logger (offline)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lightning_gan.metrics import random_inception_weights
from tests.fake_data import write_image_folder

RECIPE = Path(__file__).parents[2] / "recipes" / "folder_dcgan_ada.yaml"


@pytest.mark.slow
def test_the_folder_recipe_trains_on_200_images_with_its_callbacks(tmp_path):
    folder = write_image_folder(tmp_path / "my_images", classes=(), per_class=200, size=(48, 40))
    weights = random_inception_weights(tmp_path / "inception.pth", torch.rand(8, 3, 64, 64) * 2 - 1)
    # the recipe unchanged but for the budget and the metric's sample count (InceptionV3 runs at ~4
    # images/s on these CPUs: the 200 real images and 16 generated ones)
    config = yaml.safe_load(RECIPE.read_text())
    config["trainer"]["max_steps"] = 4
    (metrics,) = [c for c in config["trainer"]["callbacks"] if c["class_path"].endswith("FidelityMetrics")]
    metrics["init_args"].update(num_samples=16, kid_subset_size=16, batch_size=50)
    recipe = tmp_path / "folder_dcgan_ada.yaml"
    recipe.write_text(yaml.safe_dump(config))
    env = {
        **os.environ, "WANDB_MODE": "offline", "LIGHTNING_GAN_INCEPTION_WEIGHTS": str(weights),
        "LIGHTNING_GAN_CACHE": str(tmp_path / "cache"), "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
        "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"), "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
    }  # fmt: skip
    command = [
        str(Path(sys.executable).with_name("lightning-gan")), "fit", "--config", str(recipe),
        "--data.init_args.root", str(folder), "--trainer.default_root_dir", str(tmp_path / "run"),
        "--trainer.enable_progress_bar", "false",
    ]  # fmt: skip
    result = subprocess.run(command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-6000:]
    (checkpoint,) = (tmp_path / "run").rglob("last.ckpt")
    state = torch.load(checkpoint, weights_only=True)
    assert state["global_step"] == 4 and "augment._p" in state["state_dict"]
    assert list((tmp_path / "run").rglob("samples/step_000004.png"))
    # the metrics were measured and logged against the folder: FidelityMetrics keeps them in its state
    (fidelity,) = [v for k, v in state["callbacks"].items() if "FidelityMetrics" in k]
    assert {"fid", "kid"} <= set(fidelity["best"]) and all(v == v for v in fidelity["best"].values())
