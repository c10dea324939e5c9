"""Exact resume: N iterations, stop, resume from last.ckpt to 2N equals 2N in one run, bitwise on CPU."""

from functools import partial

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lightning_gan import GANModule
from lightning_gan.augment import AdaptiveAugment
from lightning_gan.data import DigitsDataModule, Gaussian1DDataModule
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator
from lightning_gan.regularizers import R1, LeCam

from .helpers import RealLogitEMA, tiny_gan, trainer

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
