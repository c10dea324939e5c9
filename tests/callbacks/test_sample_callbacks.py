import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from PIL import Image

from lightning_gan import GANModule
from lightning_gan.callbacks import LatentInterpolation, SampleGrid
from lightning_gan.callbacks import sample_grid as sample_grid_module
from lightning_gan.callbacks.latent_interpolation import interpolate
from lightning_gan.data import RingDataModule
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator
from tests.helpers import loader, tiny_gan, trainer

SHAPE = (1, 16, 16)
LATENT = 8


def image_gan(num_classes: int = 0, **kwargs) -> GANModule:
    return GANModule(
        DCGANGenerator(LATENT, SHAPE, width=8, num_classes=num_classes),
        DCGANDiscriminator(SHAPE, width=8, num_classes=num_classes),
        latent_dim=LATENT,
        num_classes=num_classes,
        **kwargs,
    )


def images(num_classes: int = 0, n: int = 64):
    data = torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(1)) * 2 - 1
    if num_classes:
        return loader(data, torch.arange(n) % num_classes)
    return loader(data)


def grid_size(n: int, nrow: int, side: int = 16, padding: int = 2) -> tuple[int, int]:
    """(width, height) of torchvision's grid of n images."""
    rows = -(-n // nrow)
    return nrow * (side + padding) + padding, rows * (side + padding) + padding


def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


@pytest.mark.parametrize(("max_steps", "expected"), [(5, [2, 4, 5]), (4, [2, 4])])
def test_grids_at_every_n_steps_and_at_the_end(tmp_path, max_steps, expected):
    grid = SampleGrid(num_samples=6, every_n_steps=2, nrow=3)
    walk = LatentInterpolation(num_rows=2, steps=4, every_n_steps=2)
    torch.manual_seed(0)
    trainer(tmp_path, max_steps=max_steps, callbacks=[grid, walk]).fit(image_gan(), images())
    names = [f"step_{step:06d}.png" for step in expected]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == names
    assert [p.name for p in grid.paths] == names
    assert sorted(p.name for p in (tmp_path / "interpolation").iterdir()) == names
    assert Image.open(grid.paths[0]).size == grid_size(6, 3)
    assert Image.open(walk.paths[0]).size == grid_size(8, 4)
    # the generator moved
    assert not np.array_equal(pixels(grid.paths[0]), pixels(grid.paths[1]))
    assert not np.array_equal(pixels(walk.paths[0]), pixels(walk.paths[1]))


def test_grids_go_to_the_loggers_folder_and_are_logged(tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr(
        sample_grid_module,
        "log_image",
        lambda t, key, path: logged.append((key, path.name, t.global_step)),
    )
    callbacks = [
        SampleGrid(num_samples=4, every_n_steps=3),
        LatentInterpolation(num_rows=1, steps=3, every_n_steps=2),
    ]
    fit = trainer(
        tmp_path,
        max_steps=3,
        callbacks=callbacks,
        logger=CSVLogger(tmp_path, name="csv", version=0),
    )
    fit.fit(image_gan(), images())
    assert sorted(logged) == [
        ("interpolation", "step_000002.png", 2),
        ("interpolation", "step_000003.png", 3),
        ("samples", "step_000003.png", 3),
    ]
    assert (tmp_path / "csv" / "version_0" / "samples" / "step_000003.png").exists()


def test_tensorboard_gets_the_images(tmp_path):
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    callbacks = [
        SampleGrid(num_samples=4, every_n_steps=2),
        LatentInterpolation(num_rows=2, steps=3, every_n_steps=2),
    ]
    logger = TensorBoardLogger(tmp_path, name="tb", version=0)
    trainer(tmp_path, max_steps=3, callbacks=callbacks, logger=logger).fit(image_gan(), images())
    logger.experiment.flush()
    events = EventAccumulator(str(tmp_path / "tb" / "version_0"), size_guidance={"images": 0})
    events.Reload()
    assert set(events.Tags()["images"]) == {"samples", "interpolation"}
    samples = events.Images("samples")
    assert [e.step for e in samples] == [2, 3]
    assert (samples[0].width, samples[0].height) == grid_size(4, 2)
    assert [e.step for e in events.Images("interpolation")] == [2, 3]
    assert (tmp_path / "tb" / "version_0" / "samples" / "step_000002.png").exists()


def test_the_callbacks_do_not_change_the_run(tmp_path):
    def train(callbacks):
        torch.manual_seed(0)
        module = image_gan(ema_decay=0.9)
        trainer(tmp_path, max_steps=5, callbacks=callbacks).fit(module, images())
        # the weights, and the global random stream after training
        return module.state_dict(), torch.rand(3)

    watched = train(
        [
            SampleGrid(num_samples=4, every_n_steps=1),
            LatentInterpolation(num_rows=2, steps=3, every_n_steps=2),
        ]
    )
    torch.testing.assert_close(watched, train([]), rtol=0, atol=0)


def test_the_noise_follows_the_modules_prior_and_seed():
    module = image_gan(latent_distribution="uniform")
    first, again, other = (
        SampleGrid(num_samples=200, seed=3),
        SampleGrid(num_samples=200, seed=3),
        SampleGrid(seed=4),
    )
    for callback in (first, again, other):
        callback.images(module)  # drawn at first use
    z = first.noise["z"]
    assert z.shape == (200, LATENT) and z.min() >= -1 and z.max() <= 1 and z.min() < -0.9
    assert torch.equal(z, again.noise["z"]) and not torch.equal(z[:64], other.noise["z"])
    assert first.noise.keys() == {"z"}  # unconditional: no labels
    # the same latents as GANModule.generate with that seed
    torch.testing.assert_close(first.images(module)[:5], module.generate(200, seed=3)[:5])


def test_a_conditional_model_gets_the_classes_in_order_one_per_column(tmp_path):
    grid = SampleGrid(num_samples=7, every_n_steps=10)
    walk = LatentInterpolation(num_rows=4, steps=3, every_n_steps=10)
    module = image_gan(num_classes=3)
    trainer(tmp_path, max_steps=2, callbacks=[grid, walk]).fit(module, images(num_classes=3))
    assert grid.noise["labels"].tolist() == [0, 1, 2, 0, 1, 2, 0]
    path = tmp_path / "samples" / "step_000002.png"
    assert Image.open(path).size == grid_size(7, 3)  # nrow = num_classes
    _, labels = walk.inputs()
    assert labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 0, 0, 0]  # one label per row
    expected = module.generate_from(grid.noise["z"], grid.noise["labels"]).float()
    torch.testing.assert_close(grid.images(module), expected)


def test_a_resumed_run_keeps_its_noise_whatever_the_seed(tmp_path):
    torch.manual_seed(0)
    first = [
        SampleGrid(num_samples=4, every_n_steps=1, seed=0),
        LatentInterpolation(num_rows=2, steps=3, seed=0),
    ]
    fit = trainer(tmp_path / "a", max_steps=2, callbacks=first)
    fit.fit(image_gan(num_classes=2), images(num_classes=2))
    fit.save_checkpoint(tmp_path / "step2.ckpt")
    again = [
        SampleGrid(num_samples=4, every_n_steps=1, seed=7),
        LatentInterpolation(num_rows=2, steps=3, seed=7),
    ]
    fresh = SampleGrid(num_samples=4, seed=7)
    fresh.images(image_gan(num_classes=2))
    # seed 7 alone would draw other noise
    assert not torch.equal(fresh.noise["z"], first[0].noise["z"])
    resumed = trainer(tmp_path / "b", max_steps=4, callbacks=again)
    resumed.fit(
        image_gan(num_classes=2),
        images(num_classes=2),
        ckpt_path=tmp_path / "step2.ckpt",
    )
    assert resumed.global_step == 4
    for before, after in zip(first, again):
        assert before.noise.keys() == after.noise.keys()
        for name in before.noise:
            assert torch.equal(before.noise[name], after.noise[name]), name
    assert [p.name for p in again[0].paths] == ["step_000003.png", "step_000004.png"]


def test_saved_noise_that_does_not_fit_is_drawn_anew(tmp_path):
    grid = SampleGrid(num_samples=4, every_n_steps=10)
    grid.load_state_dict({"noise": {"z": torch.zeros(9, 3)}, "seed": 0})
    with pytest.warns(
        UserWarning,
        match=r"SampleGrid: the saved fixed noise has shapes \{'z': \(9, 3\)\}",
    ):
        trainer(tmp_path, max_steps=1, callbacks=[grid]).fit(image_gan(), images())
    assert grid.noise["z"].shape == (4, LATENT)


def test_two_grids_keep_their_state_apart():
    assert SampleGrid(key="a").state_key != SampleGrid(key="b").state_key
    assert SampleGrid().state_dict() == {}  # nothing drawn yet


def test_interpolation_rows_run_from_one_endpoint_to_the_other():
    module = image_gan()
    walk = LatentInterpolation(num_rows=3, steps=5)
    grid = walk.images(module)
    assert grid.shape == (15, *SHAPE)
    start, end = walk.noise["z_start"], walk.noise["z_end"]
    torch.testing.assert_close(grid[0::5], module.generate_from(start).float())
    torch.testing.assert_close(grid[4::5], module.generate_from(end).float())
    # slerp keeps a normal latent's norm roughly where the endpoints have it; the straight line shrinks it
    z, _ = walk.inputs()
    middle = z.reshape(3, 5, LATENT)[:, 2]
    assert (middle.norm(dim=1) > ((start + end) / 2).norm(dim=1)).all()


def test_linear_and_spherical_interpolation():
    a, b = (
        torch.tensor([[1.0, 0.0], [2.0, 2.0]]),
        torch.tensor([[0.0, 1.0], [4.0, 0.0]]),
    )
    line = interpolate(a, b, 3, "linear")
    torch.testing.assert_close(line[:, 1], (a + b) / 2)
    torch.testing.assert_close(line[:, 0], a, rtol=0, atol=0)
    torch.testing.assert_close(line[:, -1], b, rtol=0, atol=0)
    arc = interpolate(a[:1], b[:1], 3, "slerp")
    # on the unit circle
    torch.testing.assert_close(arc[0, 1], torch.tensor([2**-0.5, 2**-0.5]))
    same = interpolate(a[:1], 2 * a[:1], 3, "slerp")  # parallel: the straight line
    torch.testing.assert_close(same[0, 1], torch.tensor([1.5, 0.0]))
    walk = LatentInterpolation(num_rows=2, steps=3, method="linear")
    walk.noise = {"z_start": a, "z_end": b}
    z, labels = walk.inputs()
    assert labels is None
    torch.testing.assert_close(z[1], (a[0] + b[0]) / 2)


def test_a_toy_model_gets_a_clear_error(tmp_path):
    message = r"SampleGrid draws images, \(N, C, H, W\), but this generator makes samples of shape \(1, 2\); .*ToyDistributionFigure"
    with pytest.raises(ValueError, match=message):
        trainer(tmp_path, max_steps=2, callbacks=[SampleGrid()]).fit(
            tiny_gan(), RingDataModule(batch_size=16, num_samples=64)
        )
    with pytest.raises(ValueError, match=r"LatentInterpolation draws images"):
        trainer(tmp_path, max_steps=2, callbacks=[LatentInterpolation()]).fit(
            tiny_gan(), RingDataModule(batch_size=16, num_samples=64)
        )


class NotAGAN(L.LightningModule):
    pass


def test_a_module_that_is_not_a_gan_gets_a_clear_error():
    with pytest.raises(
        TypeError,
        match=r"SampleGrid needs a lightning_gan.GANModule \(with `sample_latent`\); got NotAGAN",
    ):
        SampleGrid().on_fit_start(None, NotAGAN())


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: SampleGrid(num_samples=0),
            r"SampleGrid\(num_samples=0\): expected an int >= 1",
        ),
        (
            lambda: SampleGrid(every_n_steps=0),
            r"SampleGrid\(every_n_steps=0\): expected an int >= 1",
        ),
        (
            lambda: SampleGrid(every_n_steps=2.5),
            r"SampleGrid\(every_n_steps=2.5\): expected an int >= 1",
        ),
        (lambda: SampleGrid(nrow=0), r"SampleGrid\(nrow=0\): expected None or an int >= 1"),
        (
            lambda: SampleGrid(key=""),
            r"SampleGrid\(key=''\): expected a non-empty string",
        ),
        (
            lambda: LatentInterpolation(steps=1),
            r"LatentInterpolation\(steps=1\): expected an int >= 2",
        ),
        (
            lambda: LatentInterpolation(num_rows=0),
            r"LatentInterpolation\(num_rows=0\): expected an int >= 1",
        ),
        (
            lambda: LatentInterpolation(every_n_steps=-1),
            r"LatentInterpolation\(every_n_steps=-1\): expected an int >= 1",
        ),
        (
            lambda: LatentInterpolation(method="cubic"),
            r"LatentInterpolation\(method='cubic'\): expected one of \['slerp', 'linear'\]",
        ),
    ],
)
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_seed_that_is_not_an_int_is_named():
    with pytest.raises(TypeError, match=r"SampleGrid\(seed='x'\): expected an int"):
        SampleGrid(seed="x")
