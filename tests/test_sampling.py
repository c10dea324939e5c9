import sys

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from PIL import Image

from lightning_gan import GANModule
from lightning_gan.cli import main
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from lightning_gan.sampling import load_gan, sample_main, save_samples
from tests.helpers import NoisyGAN, loader, tiny_gan, trainer


def train_and_checkpoint(module, data, tmp_path):
    fit = trainer(
        tmp_path,
        max_steps=2,
        enable_checkpointing=True,
        callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)],
    )
    fit.fit(module, data)
    return tmp_path / "ckpt" / "last.ckpt"


@pytest.fixture(scope="module")
def image_checkpoint(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("images")
    module = GANModule(
        DCGANGenerator(8, (1, 16, 16), width=8), DCGANDiscriminator((1, 16, 16), width=8), latent_dim=8, ema_decay=0.9
    )
    path = train_and_checkpoint(module, loader(torch.rand(32, 1, 16, 16) * 2 - 1), tmp_path)
    return path, module


def test_sample_writes_a_grid_of_the_ema_generators_images(image_checkpoint, tmp_path):
    path, module = image_checkpoint
    (grid,) = sample_main(
        [str(path), "--num", "9", "--out", str(tmp_path / "grid.png"), "--seed", "3", "--device", "cpu"]
    )
    image = np.asarray(Image.open(grid).convert("L"), dtype=np.float32) / 255
    assert image.shape == (3 * 18 + 2, 3 * 18 + 2)  # 3 x 3 tiles of 16 px with 2 px padding
    expected = (module.generate(9, seed=3)[0, 0] + 1) / 2  # the first tile is the first sample
    assert np.abs(image[2:18, 2:18] - expected.numpy()).max() < 1.5 / 255


def test_sample_writes_one_file_per_image_into_a_folder(image_checkpoint, tmp_path):
    path, _ = image_checkpoint
    paths = sample_main([str(path), "--num", "5", "--out", str(tmp_path / "many")])
    assert (
        sorted(p.name for p in (tmp_path / "many").iterdir())
        == [f"{i:06d}.png" for i in range(5)]
        == [p.name for p in paths]
    )


def test_sample_plots_toy_samples_and_loads_the_subclass(tmp_path):
    module = NoisyGAN(MLPGenerator(2, 2, hidden_dim=8), MLPDiscriminator(2, hidden_dim=8), latent_dim=2)
    path = train_and_checkpoint(module, loader(torch.randn(64, 2)), tmp_path)
    assert type(load_gan(path)) is NoisyGAN
    (plot,) = sample_main([str(path), "--num", "100", "--out", str(tmp_path / "scatter.png")])
    assert Image.open(plot).size == (500, 500)


def test_the_console_command_dispatches_sample(image_checkpoint, tmp_path, monkeypatch):
    path, _ = image_checkpoint
    monkeypatch.setattr(
        sys, "argv", ["lightning-gan", "sample", str(path), "--num", "4", "--out", str(tmp_path / "g.png")]
    )
    main()
    assert (tmp_path / "g.png").exists()


def test_sample_errors_name_the_problem(image_checkpoint, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"checkpoint '.*missing.ckpt' does not exist"):
        load_gan(tmp_path / "missing.ckpt")
    with pytest.raises(ValueError, match=r"samples of shape \(3, 2\) with --out '.*dir'.*1-D/2-D samples with a .png"):
        save_samples(tiny_gan().generate(3), tmp_path / "dir")
    with pytest.raises(SystemExit):
        sample_main([str(image_checkpoint[0]), "--num", "0", "--out", str(tmp_path / "g.png")])
