import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from PIL import Image

from lightning_gan.callbacks import ToyDistributionFigure
from lightning_gan.data import Gaussian1DDataModule, RingDataModule
from tests.helpers import loader, tiny_gan, trainer


def test_figure_1d_has_four_panels_at_the_requested_moments(tmp_path):
    figure = ToyDistributionFigure(at=(0.0, 0.1, 0.5, 1.0), num_samples=500)
    module = tiny_gan(data_dim=1, latent_dim=1, latent_distribution="uniform")
    fit = trainer(tmp_path, max_steps=20, callbacks=[figure], logger=CSVLogger(tmp_path, name="csv", version=0))
    fit.fit(module, Gaussian1DDataModule(mean=4.0, std=0.5, batch_size=64, num_samples=2048))
    assert [s.iteration for s in figure.snapshots] == [0, 2, 10, 20]
    assert figure.path == tmp_path / "csv" / "version_0" / "toy_distribution.png"
    image = np.asarray(Image.open(figure.path))
    assert image.shape[1] > 3 * image.shape[0]  # four panels side by side
    first, last = figure.snapshots[0], figure.snapshots[-1]
    assert first.samples.shape == (500, 1) and first.d_values.shape == first.grid.shape
    assert first.z.shape == first.gz.shape == (25,)  # the arrows from z to G(z)
    assert not np.allclose(first.gz, last.gz)  # G moved during training
    assert np.array_equal(first.grid, last.grid)  # all panels share one x axis


def test_figure_2d_draws_samples_over_the_modes(tmp_path):
    figure = ToyDistributionFigure(at=(0.5, 1.0), num_samples=300)
    fit = trainer(tmp_path, max_steps=6, callbacks=[figure])
    fit.fit(tiny_gan(), RingDataModule(batch_size=64, num_samples=1024))
    assert [s.iteration for s in figure.snapshots] == [3, 6]
    assert figure.snapshots[0].d_values.shape == (120, 120)
    assert (tmp_path / "toy_distribution.png").exists()


class PlainData(L.LightningDataModule):
    def train_dataloader(self):
        return loader(torch.randn(64, 2))


def test_figure_needs_toy_data(tmp_path):
    with pytest.raises(ValueError, match=r"ToyDistributionFigure needs a toy data module with `centers` and `std`"):
        trainer(tmp_path, max_steps=2, callbacks=[ToyDistributionFigure()]).fit(tiny_gan(), datamodule=PlainData())


def test_figure_rejects_bad_moments():
    with pytest.raises(
        ValueError, match=r"ToyDistributionFigure\(at=\[0.5, 2.0\]\): expected 1 to 10 fractions in \[0, 1\]"
    ):
        ToyDistributionFigure(at=(2.0, 0.5))


def test_the_figure_does_not_change_the_run(tmp_path):
    def train(callbacks):
        torch.manual_seed(0)
        module = tiny_gan(data_dim=1, latent_dim=1)
        trainer(tmp_path, max_steps=8, callbacks=callbacks).fit(
            module, Gaussian1DDataModule(batch_size=64, num_samples=1024)
        )
        return torch.nn.utils.parameters_to_vector(module.generator.parameters())

    watched = train([ToyDistributionFigure(at=(0.0, 0.5, 1.0), num_samples=100)])
    torch.testing.assert_close(watched, train([]), rtol=0, atol=0)


class _BarRecorder(L.Callback):
    """The bar's (n, total) at the end of each epoch."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        bar = trainer.progress_bar_callback.train_progress_bar
        self.seen.append((bar.n, bar.total))


@pytest.mark.parametrize("d_steps", [1, 3])
def test_the_progress_bar_counts_generator_iterations_in_every_epoch(tmp_path, d_steps):
    from lightning_gan.callbacks import IterationProgressBar

    recorder = _BarRecorder()
    fit = trainer(tmp_path, max_steps=10, enable_progress_bar=True, callbacks=[recorder])
    fit.fit(tiny_gan(d_steps=d_steps), loader(torch.randn(96, 2), batch_size=4))  # 24 batches per epoch
    assert type(fit.progress_bar_callback) is IterationProgressBar
    per_epoch = 24 // d_steps
    expected = [(per_epoch, per_epoch)] * (10 // per_epoch) + [(10 % per_epoch, 10 % per_epoch)] * (10 % per_epoch > 0)
    assert recorder.seen == expected  # the last epoch stops at max_steps, and its total says so


def test_a_bar_of_the_users_own_or_no_bar_is_left_alone(tmp_path):
    from lightning.pytorch.callbacks import TQDMProgressBar

    class MyBar(TQDMProgressBar):
        pass

    fit = trainer(tmp_path, max_steps=2, enable_progress_bar=True, callbacks=[MyBar()])
    fit.fit(tiny_gan(), loader(torch.randn(32, 2)))
    assert type(fit.progress_bar_callback) is MyBar
    fit = trainer(tmp_path, max_steps=2)  # enable_progress_bar=False
    fit.fit(tiny_gan(), loader(torch.randn(32, 2)))
    assert fit.progress_bar_callback is None
