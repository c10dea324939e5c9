"""``lightning-gan neighbours`` and the ``NearestNeighbours`` callback: is the generator copying its training images?

One conditional DCGAN recipe trained twice for the same number of iterations: on 20 digits, each its
own class, it reproduces them (memorization is its optimum, and it gets there in a few hundred
iterations); on all 1,797 digits, classed by digit, it cannot. The neighbour distances tell the two apart.
"""

from __future__ import annotations

import functools
import re

import pytest
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

from lightning_gan import GANModule
from lightning_gan.callbacks import NearestNeighbours
from lightning_gan.data import DigitsDataModule
from lightning_gan.evaluate import checkpoint_neighbours, neighbours_main
from lightning_gan.metrics import Neighbours, PixelFeatures, nearest_neighbours
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator
from tests.helpers import SmallExtractor, tiny_gan, trainer

pytestmark = pytest.mark.xdist_group("neighbours")  # one worker runs the module: its module fixture runs once

STEPS = 300  # medians of the nearest distance measured at 300: 20 digits 0.13, all digits 0.25 (at 200: 0.21, 0.31)
NUM, K = 16, 3


class FirstDigits(DigitsDataModule):
    """The first ``count`` of scikit-learn's digits, each labelled as a class of its own."""

    def __init__(self, count: int = 20, size: int = 16, batch_size: int = 20) -> None:
        super().__init__(size=size, batch_size=batch_size)
        self.count = count

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        self.train_dataset = TensorDataset(self.images[: self.count], torch.arange(self.count))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_dataset, batch_size=self.batch_size, shuffle=True, drop_last=True)


def digits_gan(num_classes: int) -> GANModule:
    """A conditional DCGAN without normalization in the discriminator, which learns twice as fast."""
    torch.manual_seed(0)
    adam = functools.partial(torch.optim.Adam, betas=(0.5, 0.999))
    return GANModule(
        DCGANGenerator(2, (1, 16, 16), width=32, num_classes=num_classes),
        DCGANDiscriminator((1, 16, 16), width=32, norm="none", num_classes=num_classes),
        latent_dim=2,  # little noise to ignore: the 20-digit run memorizes in fewer iterations
        num_classes=num_classes,
        g_optimizer=functools.partial(adam, lr=4e-3),
        d_optimizer=functools.partial(adam, lr=8e-3),
    )


def fit(root, data, num_classes: int, logger: bool = False) -> tuple[str, NearestNeighbours]:
    callback = NearestNeighbours(num_samples=8, k=K, every_n_steps=STEPS // 2, space="pixels")
    tensorboard = TensorBoardLogger(root, name="tb", version=0) if logger else False
    run = trainer(root, max_steps=STEPS, callbacks=[callback], logger=tensorboard)
    run.fit(digits_gan(num_classes), data)
    run.save_checkpoint(root / "last.ckpt")
    return str(root / "last.ckpt"), callback


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("neighbours")
    few = fit(root / "twenty", FirstDigits(count=20), num_classes=20, logger=True)
    every = fit(root / "all", DigitsDataModule(size=16, batch_size=20), num_classes=10)
    return {"root": root, "twenty": few, "all": every}


def median_nearest(result: Neighbours) -> float:
    return result.distances[:, 0].median().item()


@pytest.mark.slow
def test_a_generator_trained_on_20_digits_copies_them_and_one_trained_on_all_does_not(runs, capsys):
    out = runs["root"] / "twenty.png"
    args = ["--num", str(NUM), "--k", str(K), "--space", "pixels", "--device", "cpu"]
    copies = neighbours_main([runs["twenty"][0], *args, "--out", str(out)])
    printed = capsys.readouterr().out
    new = neighbours_main([runs["all"][0], *args, "--out", str(runs["root"] / "all.png")])
    # how far apart the 20 training digits are from each other: the scale of "near zero"
    data = FirstDigits(count=20)
    data.setup()
    twenty = PixelFeatures()(data.train_dataset.tensors[0])
    spacing = nearest_neighbours(twenty, twenty, 2)[0][:, 1].median().item()
    assert median_nearest(copies) < 0.35 * spacing, (median_nearest(copies), spacing)  # measured 0.13 vs 0.47
    nearest_copy, nearest_new = copies.distances[:, 0], new.distances[:, 0]
    assert nearest_new.quantile(0.1) > nearest_copy.quantile(0.9), (nearest_new, nearest_copy)  # all but the tails
    # a copy is much nearer its original than any other training digit; a new digit has several about as near
    gap_copy = (copies.distances[:, 0] / copies.distances[:, 1]).median().item()
    gap_new = (new.distances[:, 0] / new.distances[:, 1]).median().item()
    assert gap_copy < 0.5 and gap_new > 0.8, (gap_copy, gap_new)  # measured 0.35 and 0.95
    assert copies.indices.max() < 20 <= new.indices.max()  # the neighbours come from each run's own data
    # the table holds every distance, and the picture has one row per sample and k + 1 columns
    first_row = printed.splitlines()[1]
    cells = re.findall(r"([-\d.e+]+) \(#(\d+)\)", first_row)
    assert [float(d) for d, _ in cells] == pytest.approx(copies.distances[0].tolist(), rel=1e-3)
    assert [int(i) for _, i in cells] == copies.indices[0].tolist()
    assert f"wrote {out}" in printed
    with Image.open(out) as picture:
        assert picture.size == (2 + (K + 1) * (64 + 2) + 8, 2 + NUM * (64 + 12 + 2))  # 16 px digits drawn at 64 px


@pytest.mark.slow
def test_the_callback_logs_the_pictures_the_command_draws(runs):
    path, callback = runs["twenty"]
    assert [p.name for p in callback.paths] == [f"step_{STEPS // 2:06d}.png", f"step_{STEPS:06d}.png"]
    again = checkpoint_neighbours(path, 8, K, space="pixels")  # the same seed and count: the same samples
    assert torch.equal(again.indices, callback.last.indices)
    assert torch.allclose(again.distances, callback.last.distances, atol=1e-6)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(runs["root"] / "twenty" / "tb" / "version_0"), size_guidance={"images": 0})
    events.Reload()
    assert [event.step for event in events.Images("neighbours")] == [STEPS // 2, STEPS]


@pytest.mark.slow
def test_feature_space_finds_the_copied_digits_too_and_caches_the_real_features(runs, tmp_path):
    path = runs["twenty"][0]
    pixels = checkpoint_neighbours(path, NUM, K, space="pixels")
    extractor = SmallExtractor()
    features = checkpoint_neighbours(path, NUM, K, feature_extractor=extractor, cache_dir=tmp_path)
    assert extractor.images_seen == 20 + NUM
    agree = (features.indices[:, 0] == pixels.indices[:, 0]).float().mean().item()
    assert agree >= 0.75, agree  # a copy of a training digit is nearest to that digit in either space
    extractor = SmallExtractor()
    checkpoint_neighbours(path, NUM, K, feature_extractor=extractor, cache_dir=tmp_path)
    assert extractor.images_seen == NUM  # the real features came from the cache


def test_the_console_script_runs_the_neighbours_command(monkeypatch, capsys):
    from lightning_gan.cli import main

    monkeypatch.setattr("sys.argv", ["lightning-gan", "neighbours", "m.ckpt", "--out", "x.png", "--k", "0"])
    with pytest.raises(SystemExit):
        main()
    assert "lightning-gan neighbours: error: --k 0: expected at least 1" in capsys.readouterr().err


def test_bad_arguments_are_named(tmp_path, capsys):
    for args, message in [
        (["m.ckpt", "--out", "x.png", "--k", "0"], "--k 0: expected at least 1"),
        (["m.ckpt", "--out", "x.png", "--num", "0"], "--num 0: expected at least 1"),
        (["m.ckpt", "--out", "x.jpg"], "expected a .png file"),
        (["m.ckpt", "--out", "x.png", "--space", "latent"], "invalid choice: 'latent'"),
        (["m.ckpt", "--out", "x.png", "--space", "pixels", "--weights", "w.pth"], "--weights"),
    ]:
        with pytest.raises(SystemExit):
            neighbours_main(args)
        assert message in capsys.readouterr().err
    for kwargs, message in [
        ({"space": "latent"}, "space='latent'"),
        ({"k": 0}, "k=0"),
        ({"space": "pixels", "feature_extractor": SmallExtractor()}, "space='pixels'"),
        ({"feature_extractor": "inception"}, "feature_extractor='inception'"),
    ]:
        with pytest.raises((ValueError, TypeError), match=message):
            NearestNeighbours(**kwargs)
    with pytest.raises(ValueError, match="for 1-D or 2-D data"):
        points = DataLoader(torch.randn(64, 2), batch_size=8)
        trainer(tmp_path, max_steps=1, callbacks=[NearestNeighbours(space="pixels")]).fit(tiny_gan(), points)
    with pytest.raises(ValueError, match="k=30.*only 20 images"):
        callback = NearestNeighbours(k=30, space="pixels")
        trainer(tmp_path, max_steps=1, callbacks=[callback]).fit(digits_gan(20), FirstDigits(count=20))


def test_the_picture_shows_the_sample_and_its_neighbours_in_order(tmp_path):
    samples = torch.full((2, 1, 8, 8), 1.0)  # white
    images = torch.stack([torch.full((3, 1, 8, 8), -1.0), torch.full((3, 1, 8, 8), 0.0)])  # black, grey rows
    result = Neighbours(samples, images, torch.tensor([[0.0, 0.5, 1.0], [0.25, 0.5, 0.75]]), torch.zeros(2, 3).long())
    with Image.open(result.picture(tmp_path / "p.png")) as picture:
        pixels = picture.convert("RGB").load()
        assert pixels[2 + 10, 2 + 10] == (255, 255, 255)  # row 0, the sample (64 px tiles from 8 px images)
        assert pixels[2 + 8 + 66 + 10, 2 + 10] == (0, 0, 0)  # row 0, first neighbour
        assert pixels[2 + 8 + 66 + 10, 2 + 78 + 10] == (128, 128, 128)  # row 1, first neighbour
    assert result.table().splitlines()[1].split()[1:3] == ["0", "(#0)"]
