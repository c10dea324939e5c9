"""Exact resume: N iterations, stop, resume from last.ckpt to 2N equals 2N in one run, bitwise on CPU."""

import signal
from functools import partial

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_gan import GANModule
from lightning_gan.augment import AdaptiveAugment
from lightning_gan.callbacks import SaveOnInterrupt
from lightning_gan.data import DigitsDataModule, Gaussian1DDataModule
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator
from lightning_gan.regularizers import R1, LeCam
from tests.helpers import RealLogitEMA, tiny_gan, trainer

TOTAL, STOP = 12, 7  # 5 iterations per epoch: the stop falls inside the second epoch


def toy_gan() -> GANModule:
    decay = partial(torch.optim.lr_scheduler.ExponentialLR, gamma=0.97)
    # a lazy regularizer with state: its running mean and its phase (every 3rd D step) continue across the stop
    return tiny_gan(data_dim=1, latent_dim=1, d_steps=2, d_regularizers=[R1(0.5), RealLogitEMA(interval=3), LeCam(0.1, start=4)],
                    ema_decay=0.9, g_lr_scheduler=decay, d_lr_scheduler=decay)  # fmt: skip


def toy_data() -> Gaussian1DDataModule:
    return Gaussian1DDataModule(mean=4.0, std=0.5, batch_size=32, num_samples=320)  # 10 batches per epoch


def run(make_gan, make_data, tmp_path, max_steps, ckpt_path=None, save=False):
    L.seed_everything(0)
    gan = make_gan()
    callbacks = [ModelCheckpoint(dirpath=tmp_path, save_last=True, every_n_train_steps=1)] if save else []
    fit_trainer = trainer(tmp_path, max_steps=max_steps, enable_checkpointing=save, callbacks=callbacks)
    fit_trainer.fit(gan, make_data(), ckpt_path=ckpt_path)
    return gan, fit_trainer


def assert_same_state(a: GANModule, a_trainer, b: GANModule, b_trainer):
    assert a_trainer.global_step == b_trainer.global_step == TOTAL
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        # weights, EMA weights, batch-norm statistics, data statistics, the parts' state (ADA's p, its counts)
        assert torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y, name
    for opt_a, opt_b in zip(a_trainer.optimizers, b_trainer.optimizers):
        for (key, state_a), state_b in zip(opt_a.state_dict()["state"].items(), opt_b.state_dict()["state"].values()):
            for field in state_a:
                assert torch.equal(torch.as_tensor(state_a[field]), torch.as_tensor(state_b[field])), (key, field)
    for config_a, config_b in zip(a_trainer.lr_scheduler_configs, b_trainer.lr_scheduler_configs):
        assert config_a.scheduler.state_dict() == config_b.scheduler.state_dict()


def test_resuming_mid_epoch_continues_exactly_where_the_run_stopped(tmp_path):
    straight, straight_trainer = run(toy_gan, toy_data, tmp_path / "straight", TOTAL)
    run(toy_gan, toy_data, tmp_path / "first", STOP, save=True)
    resumed, resumed_trainer = run(
        toy_gan, toy_data, tmp_path / "second", TOTAL, ckpt_path=tmp_path / "first" / "last.ckpt"
    )
    assert_same_state(straight, straight_trainer, resumed, resumed_trainer)
    assert "d_regularizers.1.ema" in resumed.state_dict() and resumed.d_regularizers[1].ema != 0
    assert resumed.d_regularizers[2].ema_real != 0  # LeCam's averages are in the state compared above


def test_resuming_an_image_gan_with_batch_norm_continues_exactly(tmp_path):
    def image_gan():
        # with adaptive augmentation: its p (moving fast here) and its interval counts resume bitwise
        ada = AdaptiveAugment(p=0.2, interval=2, speed_kimg=0.5)
        return GANModule(DCGANGenerator(8, (1, 16, 16), width=4), DCGANDiscriminator((1, 16, 16), width=4),
                         latent_dim=8, ema_decay=0.9, augment=ada)  # fmt: skip

    def digits():
        return DigitsDataModule(size=16, batch_size=256)  # 7 batches per epoch

    straight, straight_trainer = run(image_gan, digits, tmp_path / "straight", TOTAL)
    run(image_gan, digits, tmp_path / "first", STOP + 3, save=True)  # stops after 3 of the second epoch's 7
    resumed, resumed_trainer = run(
        image_gan, digits, tmp_path / "second", TOTAL, ckpt_path=tmp_path / "first" / "last.ckpt"
    )
    assert_same_state(straight, straight_trainer, resumed, resumed_trainer)
    assert resumed.augment.p == straight.augment.p != 0.2  # p moved during the run, and resumed exactly
    assert straight.augment.p == resumed.augment.p != 0.2  # p moved, and the resumed run holds the same


def digits_gan(ada: bool) -> GANModule:
    # ADA's p moves by 256 * 2 / 20,000 per update here: it moves during the run without reaching 0 or 1
    augment = AdaptiveAugment(p=0.2, interval=2, speed_kimg=20) if ada else None
    return GANModule(DCGANGenerator(8, (1, 16, 16), width=4), DCGANDiscriminator((1, 16, 16), width=4),
                     latent_dim=8, ema_decay=0.9, augment=augment)  # fmt: skip


def digits_data() -> DigitsDataModule:
    return DigitsDataModule(size=16, batch_size=256)  # 7 batches per epoch


def fit_digits(root, ada: bool, max_steps: int, ckpt_path=None, callbacks=()):
    """A digits run with Lightning's default checkpointing (ModelCheckpoint at each epoch's end)."""
    L.seed_everything(1)
    gan = digits_gan(ada)
    fit_trainer = trainer(root, max_steps=max_steps, enable_checkpointing=True, callbacks=[*callbacks])
    fit_trainer.fit(gan, digits_data(), ckpt_path=ckpt_path)
    return gan, fit_trainer


@pytest.mark.parametrize(
    ("ada", "stop"),
    [(True, 7), (False, 7), (True, 10)],
    ids=["epoch-end-ada", "epoch-end", "end-of-fit-mid-epoch-ada"],
)
def test_resuming_from_a_checkpoint_written_at_an_epoch_end_continues_exactly(tmp_path, ada, stop):
    # Lightning's ModelCheckpoint writes at on_train_epoch_end: after the 7 iterations of the first
    # epoch, or when max_steps ends a run 3 iterations into the second; the resumed run then starts a
    # new epoch (its shuffle drawn from the restored random state) or finishes the interrupted one
    straight, straight_trainer = fit_digits(tmp_path / "straight", ada, TOTAL)
    fit_digits(tmp_path / "first", ada, stop)
    (checkpoint,) = (tmp_path / "first").rglob("*.ckpt")
    assert torch.load(checkpoint, weights_only=True)["global_step"] == stop
    resumed, resumed_trainer = fit_digits(tmp_path / "second", ada, TOTAL, ckpt_path=checkpoint)
    assert_same_state(straight, straight_trainer, resumed, resumed_trainer)
    if ada:
        assert 0 < resumed.augment.p == straight.augment.p != 0.2  # p moved, and resumed exactly


def test_resuming_from_an_epoch_checkpoint_of_a_run_that_went_on_continues_exactly(tmp_path):
    # the usual case after a crash: every epoch's checkpoint kept, resume from the first one
    straight, straight_trainer = fit_digits(tmp_path / "straight", True, TOTAL)
    every_epoch = ModelCheckpoint(dirpath=tmp_path / "first", save_top_k=-1)
    fit_digits(tmp_path / "first", True, TOTAL, callbacks=[every_epoch])
    checkpoint = tmp_path / "first" / "epoch=0-step=7.ckpt"
    resumed, resumed_trainer = fit_digits(tmp_path / "second", True, TOTAL, ckpt_path=checkpoint)
    assert_same_state(straight, straight_trainer, resumed, resumed_trainer)


class _SigtermAt(L.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_start(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            signal.raise_signal(signal.SIGTERM)  # as a cluster's scheduler sends it, mid-iteration


def test_resuming_from_the_checkpoint_written_on_sigterm_continues_exactly(tmp_path):
    straight, straight_trainer = fit_digits(tmp_path / "straight", True, TOTAL)
    saver = SaveOnInterrupt()
    with pytest.raises(SystemExit):
        fit_digits(tmp_path / "first", True, TOTAL, callbacks=[_SigtermAt(9), saver])
    assert torch.load(saver.saved, weights_only=True)["global_step"] == 10  # the iteration finished first
    resumed, resumed_trainer = fit_digits(tmp_path / "second", True, TOTAL, ckpt_path=saver.saved)
    assert_same_state(straight, straight_trainer, resumed, resumed_trainer)
