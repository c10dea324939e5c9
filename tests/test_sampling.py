import sys
from pathlib import Path

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


def test_sample_draws_from_a_stylegan2_ada_pickle_s_g_ema(tmp_path):
    golden_dir = Path(__file__).parent / "golden"
    pickle_path = golden_dir / "stylegan2_ada_snapshot_cond32_orig.pkl"
    golden = torch.load(golden_dir / "stylegan2_ada_snapshots.pt", weights_only=True)["cond32_orig"]
    gan = load_gan(pickle_path)
    assert gan.num_classes == 3 and gan.latent_dim == 16
    # the module samples with the pickle's G_ema: the reference's G_ema images for the same z, c, psi
    images = gan.generate_from(golden["z"], golden["labels"], truncation_psi=0.7, noise_mode="const")
    torch.testing.assert_close(images, golden["G_ema psi=0.7"], rtol=0, atol=1e-4)
    (grid,) = sample_main([str(pickle_path), "--num", "4", "--out", str(tmp_path / "s.png"), "--truncation-psi", "0.7"])
    assert Image.open(grid).size == (2 + 2 * 34, 2 + 2 * 34)  # 2 x 2 images of 32 px with torchvision's 2 px padding
