import csv as csv_module
import math
import os
import sys
import warnings
from functools import partial

import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch import nn

from lightning_gan import GANModule
from lightning_gan.losses import LOSSES
from lightning_gan.nets import MLPDiscriminator, MLPGenerator, Recordable
from lightning_gan.regularizers import R1, GradientPenalty
from tests.helpers import NoisyGAN, loader, tiny_gan, trainer


class StepCounter:
    """Counts optimizer steps with torch's public step hooks, once the trainer has made the optimizers."""

    def __init__(self) -> None:
        self.g = self.d = 0

    def attach(self, module: GANModule) -> None:
        original = module.configure_optimizers

        def configure():
            optimizers, schedulers = original()
            g_opt, d_opt = optimizers
            g_opt.register_step_post_hook(lambda *_: setattr(self, "g", self.g + 1))
            d_opt.register_step_post_hook(lambda *_: setattr(self, "d", self.d + 1))
            return optimizers, schedulers

        module.configure_optimizers = configure


class RecordingDiscriminator(MLPDiscriminator):
    """Remembers which real batch (encoded in the data's values) each training forward saw."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seen_real: list[int] = []

    def forward(self, x, labels=None):
        if self.training and torch.is_grad_enabled() and bool((x >= 1000).all()):
            self.seen_real.append(int(x[0, 0].item()))
        return super().forward(x, labels)


def test_d_steps_k_gives_k_discriminator_updates_each_on_its_own_batch(tmp_path):
    k, iterations, batch = 3, 4, 8
    # batch i holds the value 1000 + i everywhere, so a forward pass tells which batch it got
    data = (1000 + torch.arange(k * iterations + 2).repeat_interleave(batch)).float()[:, None].repeat(1, 2)
    module = GANModule(
        MLPGenerator(2, 2, hidden_dim=8), RecordingDiscriminator(2, hidden_dim=8), latent_dim=2, d_steps=k
    )
    counter = StepCounter()
    counter.attach(module)
    fit = trainer(tmp_path, max_steps=iterations)
    fit.fit(module, loader(data, batch_size=batch))
    assert (counter.d, counter.g) == (k * iterations, iterations)
    assert fit.global_step == iterations  # max_steps counts generator iterations
    assert module.discriminator.seen_real == list(range(1000, 1000 + k * iterations))


def test_an_epoch_that_runs_out_mid_iteration_takes_no_partial_iteration(tmp_path):
    # 7 batches per epoch with k=3: two full iterations per epoch, the 7th batch is dropped
    data = torch.randn(7 * 4, 2)
    module = tiny_gan(d_steps=3)
    counter = StepCounter()
    counter.attach(module)
    fit = trainer(tmp_path, max_steps=-1, max_epochs=2)
    fit.fit(module, loader(data, batch_size=4))
    assert (counter.d, counter.g) == (12, 4)
    assert fit.global_step == 4


def test_logged_step_axis_is_the_generator_iteration(tmp_path):
    module = tiny_gan(d_steps=2)
    fit = trainer(tmp_path, max_steps=20, logger=CSVLogger(tmp_path, name="csv", version=0), log_every_n_steps=5)
    fit.fit(module, loader(torch.randn(400, 2)))
    lines = (tmp_path / "csv" / "version_0" / "metrics.csv").read_text().splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in lines[1:]]
    assert [int(row["step"]) for row in rows] == [4, 9, 14, 19]
    expected = {"train/d_loss", "train/g_loss", "train/D(x)", "train/D(G(z))"}
    assert expected <= set(header)
    for row in rows:
        d_x = float(row["train/D(x)"])
        assert 0 < d_x < 1 and math.isfinite(float(row["train/g_loss"]))


@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])  # 16-mixed needs a GPU
@pytest.mark.parametrize("loss", sorted(LOSSES))
@pytest.mark.parametrize(
    "regularizers",
    [list, lambda: [GradientPenalty(10.0)], lambda: [R1(1.0, interval=2)]],
    ids=["none", "gp", "lazy_r1"],
)
def test_every_loss_and_regularizer_trains_without_nan(tmp_path, loss, regularizers, precision):
    module = tiny_gan(loss=loss, d_regularizers=regularizers())  # nonfinite="error": a NaN loss would fail the fit
    before = [p.detach().clone() for p in module.parameters()]
    trainer(tmp_path, max_steps=4, precision=precision).fit(module, loader(torch.randn(64, 2)))
    after = list(module.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert all(not torch.equal(a, b) for a, b in zip(before, after) if a.requires_grad)


def test_regularizer_values_are_logged(tmp_path):
    module = tiny_gan(d_regularizers=[GradientPenalty(10.0), R1(1.0)])
    fit = trainer(tmp_path, max_steps=2, log_every_n_steps=1)
    fit.fit(module, loader(torch.randn(64, 2)))
    assert {"train/gradient_penalty", "train/r1"} <= set(fit.logged_metrics)


def test_gradient_clipping_bounds_each_networks_update(tmp_path):
    # with plain SGD at lr 1 an update is minus the gradient, so its norm is the clipped gradient norm
    torch.manual_seed(0)  # networks and noise whose raw gradients exceed the bounds, whatever ran before
    sgd = partial(torch.optim.SGD, lr=1.0)
    module = tiny_gan(g_clip_norm=1e-3, d_clip_norm=2e-3, g_optimizer=sgd, d_optimizer=sgd)
    g_before = torch.nn.utils.parameters_to_vector(module.generator.parameters()).detach().clone()
    d_before = torch.nn.utils.parameters_to_vector(module.discriminator.parameters()).detach().clone()
    trainer(tmp_path, max_steps=1).fit(module, loader(10 * torch.randn(64, 2)))
    g_step = torch.nn.utils.parameters_to_vector(module.generator.parameters()) - g_before
    d_step = torch.nn.utils.parameters_to_vector(module.discriminator.parameters()) - d_before
    assert 0.999e-3 <= g_step.norm() <= 1.001e-3  # the raw gradients are far larger than the bounds
    assert 1.998e-3 <= d_step.norm() <= 2.002e-3


def test_lr_schedulers_step_once_per_generator_iteration(tmp_path):
    halve = partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    module = tiny_gan(d_steps=2, g_lr_scheduler=halve, d_lr_scheduler=halve)
    fit = trainer(tmp_path, max_steps=3)
    fit.fit(module, loader(torch.randn(64, 2)))
    g_opt, d_opt = fit.optimizers
    assert g_opt.param_groups[0]["lr"] == pytest.approx(2e-4 / 8)
    assert d_opt.param_groups[0]["lr"] == pytest.approx(2e-4 / 8)


def test_generate_is_seeded_in_eval_mode_and_uses_the_ema_generator(tmp_path):
    module = tiny_gan(ema_decay=0.9)
    trainer(tmp_path, max_steps=5).fit(module, loader(torch.randn(64, 2)))
    assert module.generator.training
    a, b, c = module.generate(16, seed=3), module.generate(16, seed=3), module.generate(16, seed=4)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)
    assert not a.requires_grad and a.shape == (16, 2)
    assert module.generator.training and module.generator_ema.training  # modes restored
    with torch.random.fork_rng():
        torch.manual_seed(3)
        z = module.sample_latent(16)
    module.generator_ema.eval()
    torch.testing.assert_close(a, module.generator_ema(z))
    assert not torch.allclose(a, module.generator.eval()(z))  # the EMA differs from the live weights


def test_ema_averages_the_generator_weights(tmp_path):
    module = tiny_gan(ema_decay=0.5, ema_warmup=False)
    initial = [p.detach().clone() for p in module.generator.parameters()]
    trainer(tmp_path, max_steps=1).fit(module, loader(torch.randn(64, 2)))
    # one update from identical copies: ema = 0.5 * initial + 0.5 * updated
    for ema, start, live in zip(module.generator_ema.parameters(), initial, module.generator.parameters()):
        assert not torch.equal(start, live)
        torch.testing.assert_close(ema, 0.5 * start + 0.5 * live)
        assert not ema.requires_grad


def test_conditional_model_trains_and_its_labels_steer_generation(tmp_path):
    module = tiny_gan(num_classes=3)
    data, labels = torch.randn(64, 2), torch.randint(0, 3, (64,))
    trainer(tmp_path, max_steps=3).fit(module, loader(data, labels))
    samples = module.generate(6, seed=0, labels=torch.tensor([0, 1, 2, 0, 1, 2]))
    assert samples.shape == (6, 2)
    same_class = module.generate(6, seed=0, labels=torch.zeros(6, dtype=torch.long))
    assert not torch.allclose(samples, same_class)  # labels change the output


# --------------------------------------------------------------------- checkpoints


def checkpointing_trainer(tmp_path, max_steps=6):
    return trainer(
        tmp_path,
        max_steps=max_steps,
        enable_checkpointing=True,
        callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)],
    )


def test_checkpoint_of_package_networks_loads_weights_only_and_generates_the_same(tmp_path):
    module = tiny_gan(ema_decay=0.99, loss="hinge", latent_distribution="uniform")
    checkpointing_trainer(tmp_path).fit(module, loader(torch.randn(64, 2)))
    path = tmp_path / "ckpt" / "last.ckpt"
    torch.load(path, weights_only=True)  # no pickled objects inside
    loaded = GANModule.load_from_checkpoint(path)
    assert loaded.hparams.loss == "hinge" and loaded.latent_distribution == "uniform"
    torch.testing.assert_close(loaded.generate(32, seed=7), module.generate(32, seed=7))


class UserGenerator(Recordable):
    """A user's own network, made checkpoint-friendly by inheriting Recordable."""

    def __init__(self, latent_dim: int, width: int = 8) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent_dim, width), nn.ReLU(), nn.Linear(width, 2))

    def forward(self, z):
        return self.net(z)


class PlainDiscriminator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)


def test_user_networks_load_the_documented_way_and_otherwise_fail_clearly(tmp_path):
    module = GANModule(UserGenerator(3), PlainDiscriminator(), latent_dim=3)
    checkpointing_trainer(tmp_path).fit(module, loader(torch.randn(64, 2)))
    path = tmp_path / "ckpt" / "last.ckpt"
    # a Recordable generator comes back by itself; the plain nn.Module discriminator must be passed
    with pytest.raises(ValueError, match=r"the discriminator was not recorded.*discriminator=YourNet"):
        GANModule.load_from_checkpoint(path)
    loaded = GANModule.load_from_checkpoint(path, discriminator=PlainDiscriminator())
    assert isinstance(loaded.generator, UserGenerator)
    torch.testing.assert_close(loaded.generate(8, seed=1), module.generate(8, seed=1))


def test_subclass_checkpoint_loads_as_the_subclass(tmp_path):
    module = NoisyGAN(MLPGenerator(2, 2, hidden_dim=8), MLPDiscriminator(2, hidden_dim=8), latent_dim=2)
    checkpointing_trainer(tmp_path).fit(module, loader(torch.randn(64, 2)))
    loaded = NoisyGAN.load_from_checkpoint(tmp_path / "ckpt" / "last.ckpt")
    assert type(loaded) is NoisyGAN
    assert set(loaded.sample_latent(100).unique().tolist()) == {-1.0, 1.0}
    torch.testing.assert_close(loaded.generate(8, seed=2), module.generate(8, seed=2))


# --------------------------------------------------------------------- bad input


def assert_no_optimizer_step(module, tmp_path, data, match):
    counter = StepCounter()
    counter.attach(module)
    with pytest.raises(ValueError, match=match):
        trainer(tmp_path, max_steps=2).fit(module, data)
    assert counter.d == counter.g == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": "wgan"}, r"loss='wgan' is not a known loss; expected one of"),
        ({"d_steps": 0}, r"GANModule\(d_steps=0\): expected an int >= 1"),
        ({"d_steps": True}, r"GANModule\(d_steps=True\): expected an int >= 1"),  # True is no D step count
        ({"latent_distribution": "cauchy"}, r"latent_distribution='cauchy'\): expected one of \['normal', 'uniform'\]"),
        ({"ema_decay": 1.5}, r"GANModule\(ema_decay=1.5\): expected None or a number > 0 and < 1"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_gan(**kwargs)


def test_networks_and_module_must_agree_on_num_classes():
    with pytest.raises(
        ValueError, match=r"the generator was built with num_classes=0 but GANModule has num_classes=10"
    ):
        GANModule(MLPGenerator(2, 2), MLPDiscriminator(2), latent_dim=2, num_classes=10)


def test_generator_that_does_not_take_latent_dim_inputs_fails_before_any_step(tmp_path):
    module = GANModule(MLPGenerator(5, 2), MLPDiscriminator(2), latent_dim=3)
    assert_no_optimizer_step(
        module,
        tmp_path,
        loader(torch.randn(64, 2)),
        r"the generator failed on latents of shape \(8, 3\) \(latent_dim=3\).*takes \(batch, latent_dim\) inputs",
    )


def test_data_the_networks_do_not_fit_fails_before_any_step(tmp_path):
    assert_no_optimizer_step(
        tiny_gan(data_dim=2),
        tmp_path,
        loader(torch.randn(64, 3)),
        r"the generator makes samples of shape \(2,\) but the data has shape \(3,\)",
    )
    module = GANModule(MLPGenerator(2, 3), MLPDiscriminator(2), latent_dim=2)
    assert_no_optimizer_step(
        module,
        tmp_path,
        loader(torch.randn(64, 3)),
        r"the discriminator failed on a real batch of shape \(8, 3\)",
    )


def test_labels_without_num_classes_are_a_clear_error(tmp_path):
    unconditional = tiny_gan()
    with pytest.raises(ValueError, match=r"labels were given but this model is unconditional \(num_classes=0\)"):
        unconditional.generate(4, labels=torch.zeros(4, dtype=torch.long))
    conditional = tiny_gan(num_classes=3)
    assert_no_optimizer_step(
        conditional,
        tmp_path,
        loader(torch.randn(64, 2)),
        r"num_classes=3 \(a conditional model\) but the batch carries no labels",
    )
    assert_no_optimizer_step(
        tiny_gan(num_classes=3),
        tmp_path,
        loader(torch.randn(64, 2), torch.full((64,), 5)),
        r"labels in \[5, 5\] but num_classes=3",
    )
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        conditional.generate(2, labels=torch.tensor([0, 3]))


def test_unconditional_model_ignores_labels_in_the_data(gan, tiny_trainer):
    tiny_trainer(max_steps=2).fit(gan, loader(torch.randn(64, 2), torch.randint(0, 4, (64,))))
    assert gan.global_step == 2


@pytest.mark.parametrize("make", [lambda: GradientPenalty(10.0), lambda: R1(1.0)], ids=["gp", "r1"])
def test_bf16_mixed_precision_trains_with_penalties(tmp_path, make):
    regularizer = make()
    module = tiny_gan(g_clip_norm=1.0, d_clip_norm=1.0, d_regularizers=[regularizer])
    fit = trainer(tmp_path, max_steps=3, precision="bf16-mixed", log_every_n_steps=1)
    fit.fit(module, loader(torch.randn(64, 2)))
    assert all(torch.isfinite(p).all() and p.dtype == torch.float32 for p in module.parameters())
    assert torch.isfinite(fit.logged_metrics[f"train/{regularizer.log_name}"])


class _NaNAt(GANModule):
    """A GAN whose `role` loss is NaN once, at generator iteration `at` (a stand-in for a diverging run)."""

    def __init__(self, *args, role: str = "discriminator", at: int = 3, **kwargs):
        super().__init__(*args, **kwargs)
        self.role, self.at, self.fired = role, at, False

    def _maybe_nan(self, role, loss):
        if role == self.role and self.global_step == self.at and not self.fired:
            self.fired = True
            return loss * float("nan")
        return loss

    def discriminator_loss(self, real_logits, fake_logits):
        return self._maybe_nan("discriminator", super().discriminator_loss(real_logits, fake_logits))

    def generator_loss(self, fake_logits):
        return self._maybe_nan("generator", super().generator_loss(fake_logits))


def _nan_gan(role: str, **kwargs) -> _NaNAt:
    torch.manual_seed(0)
    return _NaNAt(
        MLPGenerator(2, 2, hidden_dim=16), MLPDiscriminator(2, hidden_dim=16), latent_dim=2, role=role, **kwargs
    )


@pytest.mark.parametrize("role", ["discriminator", "generator"])
def test_a_nan_loss_stops_the_run_naming_the_iteration_and_network_before_any_nan_update(role, tmp_path):
    gan = _nan_gan(role)
    with pytest.raises(FloatingPointError, match=rf"the {role} loss is nan at generator iteration 3"):
        trainer(tmp_path, max_steps=6).fit(gan, loader(torch.randn(64, 2)))
    assert all(torch.isfinite(p).all() for p in gan.parameters())


@pytest.mark.parametrize("role", ["discriminator", "generator"])
def test_nonfinite_skip_skips_that_update_counts_it_and_goes_on(role, tmp_path):
    gan = _nan_gan(role, nonfinite="skip")
    csv = CSVLogger(tmp_path, name="csv", version=0)
    fit = trainer(tmp_path, max_steps=6, logger=csv, log_every_n_steps=1)
    fit.fit(gan, loader(torch.randn(128, 2)))
    assert all(torch.isfinite(p).all() for p in gan.parameters())
    assert gan.skipped_steps == {"discriminator": int(role == "discriminator"), "generator": int(role == "generator")}
    assert fit.global_step == 6  # a skipped generator update is not an iteration: one more was run
    rows = list(csv_module.DictReader((tmp_path / "csv" / "version_0" / "metrics.csv").read_text().splitlines()))
    key = "train/skipped_d_steps" if role == "discriminator" else "train/skipped_g_steps"
    assert float(rows[-1][key]) == 1.0


def test_nonfinite_policy_is_checked():
    with pytest.raises(ValueError, match="nonfinite='warn'"):
        tiny_gan(nonfinite="warn")


def test_a_dataset_with_fewer_batches_than_d_steps_is_an_error_before_training(tmp_path):
    gan = tiny_gan(d_steps=3)
    with pytest.raises(ValueError, match=r"gives 2 batch\(es\) per epoch on each of 1 process.*d_steps=3"):
        trainer(tmp_path, max_steps=2).fit(gan, loader(torch.randn(16, 2), batch_size=8))
    assert gan._inputs_checked is False  # nothing ran


class _OtherGAN(GANModule):
    pass


def test_a_checkpoint_of_another_model_class_is_a_clear_error(tmp_path):
    other = _OtherGAN(MLPGenerator(2, 2, hidden_dim=8), MLPDiscriminator(2, hidden_dim=8), latent_dim=2)
    fit = trainer(tmp_path, max_steps=1, enable_checkpointing=True)
    fit.fit(other, loader(torch.randn(64, 2)))
    path = tmp_path / "other.ckpt"
    fit.save_checkpoint(path)
    with pytest.raises(ValueError, match=r"written by .*_OtherGAN, not by lightning_gan.module.GANModule.*load_gan"):
        GANModule.load_from_checkpoint(path)
    with pytest.raises(ValueError, match=r"written by .*_OtherGAN"):  # resuming into the wrong class, too
        trainer(tmp_path, max_steps=2).fit(tiny_gan(), loader(torch.randn(64, 2)), ckpt_path=path)


fused_adam = partial(torch.optim.Adam, lr=1e-3, betas=(0.5, 0.999), fused=True)


@pytest.mark.parametrize("role", ["discriminator", "generator"])
def test_with_a_fused_optimizer_a_nan_update_is_skipped_on_the_device_and_the_run_then_stops(role, tmp_path):
    gan = _nan_gan(role, g_optimizer=fused_adam, d_optimizer=fused_adam)
    with pytest.raises(FloatingPointError) as raised:
        trainer(tmp_path, max_steps=8, log_every_n_steps=3).fit(gan, loader(torch.randn(128, 2)))
    message = str(raised.value)
    assert f"the {role} loss is nan at generator iteration 3" in message
    # read at the second logging iteration (iterations 2, 5, 8 log), once it had run
    assert "skipped on the device" in message and "after 6 generator iterations" in message
    assert all(torch.isfinite(p).all() for p in gan.parameters())


@pytest.mark.parametrize("role", ["discriminator", "generator"])
def test_with_a_fused_optimizer_skip_counts_the_update_skipped_on_the_device(role, tmp_path):
    gan = _nan_gan(role, nonfinite="skip", g_optimizer=fused_adam, d_optimizer=fused_adam)
    csv = CSVLogger(tmp_path, name="csv", version=0)
    fit = trainer(tmp_path, max_steps=6, logger=csv, log_every_n_steps=1)
    fit.fit(gan, loader(torch.randn(128, 2)))
    assert all(torch.isfinite(p).all() for p in gan.parameters())
    assert gan.skipped_steps == {"discriminator": int(role == "discriminator"), "generator": int(role == "generator")}
    assert fit.global_step == 6  # on the device a skipped generator update still counts as an iteration
    rows = list(csv_module.DictReader((tmp_path / "csv" / "version_0" / "metrics.csv").read_text().splitlines()))
    key = "train/skipped_d_steps" if role == "discriminator" else "train/skipped_g_steps"
    assert float(rows[-1][key]) == 1.0


class _CountsHostReads(GANModule):
    """Counts the reads of a tensor's value by Python (the host syncs of a GPU run) in training_step."""

    READS = ("__bool__", "__float__", "__int__", "__index__", "item", "tolist")

    def __init__(self, *args, monkeypatch, **kwargs):
        super().__init__(*args, **kwargs)
        self.reads, self.counting = 0, False
        for name in self.READS:
            original = getattr(torch.Tensor, name)
            monkeypatch.setattr(torch.Tensor, name, self._counted(original))

    def _counted(self, original):
        def read(tensor, *args, **kwargs):
            # torch's non-fused optimizers read their step counts, which they keep on the CPU on purpose
            in_torch_optim = f"torch{os.sep}optim{os.sep}" in sys._getframe(1).f_code.co_filename
            self.reads += self.counting and not in_torch_optim
            return original(tensor, *args, **kwargs)

        return read

    def training_step(self, dataloader_iter):
        self.counting = self._inputs_checked and not self._should_log()  # the first step checks inputs
        try:
            return super().training_step(dataloader_iter)
        finally:
            self.counting = False


@pytest.mark.parametrize(("optimizer", "reads_per_iteration"), [(fused_adam, 0), (partial(torch.optim.Adam), 2)])
def test_the_step_reads_no_tensor_on_the_host_with_a_fused_optimizer(optimizer, reads_per_iteration, monkeypatch):
    torch.manual_seed(0)
    gan = _CountsHostReads(
        MLPGenerator(2, 2, hidden_dim=16), MLPDiscriminator(2, hidden_dim=16), latent_dim=2, ema_decay=0.9,
        g_optimizer=optimizer, d_optimizer=optimizer, monkeypatch=monkeypatch,
    )  # fmt: skip
    trainer(max_steps=12, log_every_n_steps=5).fit(gan, loader(torch.randn(256, 2)))
    counted_iterations = 12 - 1 - 2  # not the first (input check), not the two logging ones
    assert gan.reads == reads_per_iteration * counted_iterations  # plain Adam: the NaN check, once per update


class _Shift(nn.Module):
    """A stand-in augmentation: x + 100, so the discriminator's inputs show whether they went through it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x + 100.0


class _InputRecordingDiscriminator(MLPDiscriminator):
    def forward(self, x):
        self.__dict__.setdefault("inputs", []).append(x.detach().clone())
        return super().forward(x)


def test_the_augmentation_sees_every_discriminator_input_and_regularizers_see_the_images_before_it(tmp_path):
    seen_by_r1 = []

    class RecordingR1(R1):
        def penalty(self, phase):
            seen_by_r1.append(phase.real.detach().clone())
            return super().penalty(phase)

    data = torch.randn(64, 2)
    discriminator = _InputRecordingDiscriminator(2, hidden_dim=16, num_layers=2)
    gan = GANModule(MLPGenerator(2, 2, hidden_dim=16, num_layers=2), discriminator, latent_dim=2, d_steps=2,
                    augment=_Shift(), d_regularizers=[RecordingR1(1.0, interval=2)])  # fmt: skip
    trainer(tmp_path, max_steps=3).fit(gan, loader(data))
    # per iteration: 2 D steps x (real, fake) + the G step's fakes + R1 on every other D step (3 of the 6)
    assert gan.augment.calls == 3 * (2 * 2 + 1) + 3
    training_inputs = discriminator.inputs[1:]  # after the input check's dry run on one real batch
    assert len(training_inputs) == gan.augment.calls and all(x.min() > 50 for x in training_inputs)
    assert len(seen_by_r1) == 3 and all(x.abs().max() < 50 for x in seen_by_r1)  # un-augmented real batches
    assert any(torch.equal(seen_by_r1[0], data[i : i + 8]) for i in range(0, 64, 8))


def test_the_generator_learns_through_a_differentiable_augmentation(tmp_path):
    class Scale(nn.Module):  # the generator's gradient passes through it (and is doubled)
        def forward(self, x):
            return 2.0 * x

    gan = tiny_gan(augment=Scale())
    before = [p.detach().clone() for p in gan.generator.parameters()]
    trainer(tmp_path, max_steps=2).fit(gan, loader(torch.randn(64, 2)))
    assert all(not torch.equal(a, b) for a, b in zip(before, gan.generator.parameters()))


def test_truncation_is_refused_for_a_generator_without_an_average_w(gan):
    assert torch.equal(gan.generate(4, seed=0, truncation_psi=1.0), gan.generate(4, seed=0))
    with pytest.raises(ValueError, match=r"truncation_psi=0.7: MLPGenerator does not support the truncation trick"):
        gan.generate(4, seed=0, truncation_psi=0.7)
    with pytest.raises(TypeError, match="truncation_psi='0.7': expected a number"):
        gan.generate(4, truncation_psi="0.7")


def test_a_sample_grid_with_truncation_fails_at_fit_start_for_a_generator_without_it(tmp_path):
    from lightning_gan.callbacks import SampleGrid
    from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator

    gan = GANModule(DCGANGenerator(8, (1, 8, 8), width=2), DCGANDiscriminator((1, 8, 8), width=2), latent_dim=8)
    grid = SampleGrid(num_samples=4, every_n_steps=1, truncation_psi=0.5)
    with pytest.raises(ValueError, match="DCGANGenerator does not support the truncation trick"):
        trainer(tmp_path, max_steps=1, callbacks=[grid]).fit(gan, loader(torch.rand(16, 1, 8, 8)))
    assert gan.global_step == 0


def test_a_fit_shows_none_of_lightnings_setup_notices_and_leaves_the_warning_filters_as_it_found_them(
    gan, tiny_trainer
):
    before = list(warnings.filters)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inside = list(warnings.filters)
        tiny_trainer(max_steps=2).fit(gan, loader(torch.randn(64, 2)))
        assert warnings.filters == inside
    assert warnings.filters == before
    shown = [str(w.message) for w in caught]
    assert not [m for m in shown if "dataloader_iter" in m or "LeafSpec" in m], shown
