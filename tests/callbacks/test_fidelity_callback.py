"""FidelityMetrics in a real Trainer: when it measures, what it logs, what it touches, what it keeps.

A small convolutional feature extractor stands in for InceptionV3 (the parity with torch-fidelity
is tested in test_fidelity_parity.py): these tests are about the callback, not the network.
"""

from __future__ import annotations

import csv
import math

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from torch import nn

from lightning_gan import GANModule
from lightning_gan.callbacks import FidelityMetrics
from lightning_gan.data import DigitsDataModule
from lightning_gan.evaluate import evaluate_checkpoint
from lightning_gan.metrics import FeatureExtractor, fidelity_metrics
from lightning_gan.metrics.features import generator_features
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator
from tests.helpers import SmallExtractor, trainer

pytestmark = pytest.mark.xdist_group("fidelity_run")  # one worker runs the module: its module fixtures run once

NUM_SAMPLES = 60
ALL_METRICS = "fid,is,kid,pr,dc"
OPTIONS = {"num_samples": NUM_SAMPLES, "batch_size": 32, "kid_subsets": 5, "kid_subset_size": 20, "progress": False}


def digits_gan(ema_decay: float | None = 0.9) -> GANModule:
    torch.manual_seed(0)
    return GANModule(
        DCGANGenerator(8, (1, 16, 16), width=4),
        DCGANDiscriminator((1, 16, 16), width=4),
        latent_dim=8,
        ema_decay=ema_decay,
    )


def logged(root) -> dict[str, dict[int, float]]:
    """``{metric: {step: value}}`` from a CSVLogger's metrics.csv."""
    out: dict[str, dict[int, float]] = {}
    with open(root / "csv" / "version_0" / "metrics.csv") as file:
        for row in csv.DictReader(file):
            for key, value in row.items():
                if key.startswith("val/") and value:
                    out.setdefault(key, {})[int(row["step"])] = float(value)
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Five generator iterations, measured at 2, 4 and 5 (the last); a checkpoint on val/fid."""
    root = tmp_path_factory.mktemp("fidelity_run")
    extractor = SmallExtractor()
    metrics = FidelityMetrics(
        ALL_METRICS, every_n_steps=2, feature_extractor=extractor, cache_dir=root / "cache", **OPTIONS
    )
    best = ModelCheckpoint(dirpath=root / "ckpt", monitor="val/fid", save_last=True, filename="best")
    gan = digits_gan()
    logger = CSVLogger(root, name="csv", version=0)
    fit = trainer(root, max_steps=5, callbacks=[metrics, best], logger=logger, enable_checkpointing=True)
    fit.fit(gan, DigitsDataModule(batch_size=16))
    return {"root": root, "metrics": metrics, "extractor": extractor, "gan": gan, "checkpoint": best}


def test_metrics_are_logged_at_the_measured_generator_iterations(run):
    values = logged(run["root"])
    names = ("fid", "is", "kid", "precision", "recall", "density", "coverage")
    assert set(values) == {f"val/{m}{s}" for m in names for s in ("", "_best")} | {"val/is_std", "val/kid_std"}
    assert sorted(values["val/fid"]) == sorted(values["val/recall"]) == [2, 4, 5]
    fids = [values["val/fid"][s] for s in (2, 4, 5)]
    assert values["val/fid_best"][5] == min(fids) and values["val/is_best"][5] == max(values["val/is"].values())
    for name in ("precision", "recall", "density", "coverage"):  # higher is better
        assert values[f"val/{name}_best"][5] == max(values[f"val/{name}"].values()), name
        assert values[f"val/{name}"][5] >= 0 and (values[f"val/{name}"][5] <= 1 or name == "density"), name
    assert run["metrics"].counts == {"fake": NUM_SAMPLES, "real": 1797}  # every digit once


def test_model_checkpoint_can_monitor_fid(run):
    assert run["checkpoint"].best_model_path.endswith("best.ckpt")
    assert run["checkpoint"].best_model_score == pytest.approx(run["metrics"].best["fid"])


def test_the_metric_network_stays_out_of_checkpoints_and_in_eval_mode(run):
    checkpoint = torch.load(run["root"] / "ckpt" / "last.ckpt", weights_only=True)
    assert all(k.startswith(("generator.", "discriminator.", "generator_ema.")) for k in checkpoint["state_dict"])
    state = next(v for k, v in checkpoint["callbacks"].items() if k.startswith("FidelityMetrics"))
    assert set(state) == {"best", "last_step"}
    extractor = run["extractor"]
    assert not extractor.saw_train_mode and not extractor.training
    assert run["gan"].generator.training and run["gan"].discriminator.training  # back in train mode after


def test_measuring_does_not_change_training(run, tmp_path):
    gan = digits_gan()
    trainer(tmp_path, max_steps=5).fit(gan, DigitsDataModule(batch_size=16))
    for name in ("generator", "discriminator", "generator_ema"):
        for mine, theirs in zip(
            getattr(gan, name).state_dict().values(), getattr(run["gan"], name).state_dict().values()
        ):
            assert torch.equal(mine, theirs), name


def test_the_ema_generator_is_measured_and_evaluate_reproduces_the_last_value(run):
    """``lightning-gan evaluate CKPT`` finds the data set in the checkpoint and draws the same images."""
    extractor = SmallExtractor()
    values = evaluate_checkpoint(
        run["root"] / "ckpt" / "last.ckpt",
        NUM_SAMPLES,
        ALL_METRICS,
        feature_extractor=extractor,
        cache_dir=run["root"] / "cache",
        batch_size=32,
        kid_subset_size=OPTIONS["kid_subset_size"],
    )
    assert extractor.images_seen == NUM_SAMPLES  # the real features came from the run's cache
    assert values["fid"] == pytest.approx(run["metrics"].last["val/fid"], rel=1e-6)
    for name in ("precision", "recall", "density", "coverage"):  # the same images: the same neighbours
        assert values[name] == pytest.approx(run["metrics"].last[f"val/{name}"], abs=1e-9), name
    # the raw generator's images measure differently: the EMA generator's were measured
    gan = run["gan"]
    real = run["metrics"]._real
    raw_generator = lambda count, seed: gan._generate_with(gan.generator.eval(), gan.sample_latent(count), None)
    raw = generator_features(raw_generator, FeatureExtractor(SmallExtractor()), NUM_SAMPLES, batch_size=32)
    gan.generator.train()
    raw_fid = fidelity_metrics(["fid"], raw, real)["fid"]
    assert raw_fid != pytest.approx(values["fid"], rel=1e-5)  # 1e-6 is what the two paths above agree to


def test_a_second_run_reads_the_real_features_from_the_cache(run, tmp_path):
    extractor = SmallExtractor()
    metrics = FidelityMetrics(
        every_n_steps=None, feature_extractor=extractor, cache_dir=run["root"] / "cache", **OPTIONS
    )
    trainer(tmp_path, max_steps=1, callbacks=[metrics]).fit(digits_gan(), DigitsDataModule(batch_size=16))
    assert extractor.images_seen == 2 + NUM_SAMPLES  # the dry run at fit start and the generated images only


class _BestAtTrainStart(L.Callback):
    """Copies a FidelityMetrics' best values when training starts (after a checkpoint is loaded)."""

    def __init__(self, metrics: FidelityMetrics) -> None:
        self.metrics, self.best = metrics, None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.best = dict(self.metrics.best)


def test_best_values_survive_a_resume(run, tmp_path):
    extractor = SmallExtractor()
    metrics = FidelityMetrics(every_n_steps=2, feature_extractor=extractor, cache_dir=run["root"] / "cache", **OPTIONS)
    metrics_before = dict(run["metrics"].best)
    probe = _BestAtTrainStart(metrics)
    logger = CSVLogger(tmp_path, name="csv", version=0)
    fit = trainer(tmp_path, max_steps=6, callbacks=[metrics, probe], logger=logger)
    fit.fit(digits_gan(), DigitsDataModule(batch_size=16), ckpt_path=run["root"] / "ckpt" / "last.ckpt")
    assert probe.best == metrics_before  # restored from the checkpoint, before any new measurement
    values = logged(tmp_path)
    assert sorted(values["val/fid"]) == [6]
    assert values["val/fid_best"][6] == min(metrics_before["fid"], values["val/fid"][6])
    assert values["val/is_best"][6] == max(metrics_before["is"], values["val/is"][6])


def test_no_autocast_and_float32_under_bf16_mixed(tmp_path):
    extractor = SmallExtractor()
    metrics = FidelityMetrics(every_n_steps=None, feature_extractor=extractor, cache_dir=tmp_path, **OPTIONS)
    fit = trainer(tmp_path, max_steps=2, precision="bf16-mixed", callbacks=[metrics])
    fit.fit(digits_gan(ema_decay=None), DigitsDataModule(batch_size=16))
    assert not extractor.saw_autocast and extractor.dtypes == {torch.float32}
    assert sorted(metrics.last) == sorted(["val/fid", "val/fid_best", "val/is", "val/is_std", "val/is_best", "val/kid",
                                           "val/kid_std", "val/kid_best"])  # fmt: skip


class FeaturesOnly(nn.Module):
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)


def test_bad_settings_fail_before_training(tmp_path):
    with pytest.raises(ValueError, match="psnr"):
        FidelityMetrics(metrics=["fid", "psnr"])
    with pytest.raises(ValueError, match="kid_subset_size"):
        FidelityMetrics(metrics="kid", num_samples=100, kid_subset_size=1000)
    with pytest.raises(TypeError, match="feature_extractor"):
        FidelityMetrics(feature_extractor="inception")
    with pytest.raises(ValueError, match="pr_k=0"):
        FidelityMetrics(metrics="pr", pr_k=0)
    with pytest.raises(ValueError, match="num_samples=3, pr_k=3"):
        FidelityMetrics(metrics="pr", num_samples=3)
    no_logits = FidelityMetrics(metrics="fid,is", feature_extractor=FeaturesOnly(), cache_dir=tmp_path, **OPTIONS)
    gan = digits_gan()
    with pytest.raises(ValueError, match="Inception Score needs class logits"):
        trainer(tmp_path, max_steps=2, callbacks=[no_logits]).fit(gan, DigitsDataModule(batch_size=16))
    assert gan.global_step == 0


def test_a_real_set_smaller_than_the_kid_subset_uses_the_whole_set_with_a_warning(tmp_path):
    small = FidelityMetrics(
        metrics="kid", num_samples=2000, kid_subset_size=1800, kid_subsets=2, feature_extractor=FeaturesOnly(),
        cache_dir=tmp_path, progress=False,
    )  # fmt: skip
    with pytest.warns(
        UserWarning, match="real set has 1797 images, fewer than kid_subset_size=1800; KID uses subsets of 1797"
    ):
        trainer(tmp_path, max_steps=2, callbacks=[small]).fit(digits_gan(), DigitsDataModule(batch_size=16))
    assert small._kid_subset == 1797 and math.isfinite(small.last["val/kid"])


def test_evaluating_a_checkpoint_without_a_recorded_data_set_says_to_pass_real_images(tmp_path):
    images = torch.rand(32, 1, 16, 16) * 2 - 1
    fit = trainer(tmp_path, max_steps=2, enable_checkpointing=True)
    fit.fit(digits_gan(), torch.utils.data.DataLoader(images, batch_size=8))  # a plain loader: nothing recorded
    (checkpoint,) = tmp_path.rglob("*.ckpt")
    with pytest.raises(ValueError, match="does not record its data set.*--real DIR"):
        evaluate_checkpoint(checkpoint, 10, "fid", feature_extractor=SmallExtractor(), cache_dir=tmp_path)


def test_stylegan2_is_measured_with_fresh_noise_per_image_in_training_and_in_evaluate(tmp_path):
    """stylegan2-ada's metrics draw per-layer noise for every image (metric_utils.py); eval mode's
    default is one constant noise image shared by all samples, which would narrow their variety."""
    from lightning_gan.nets import StyleGAN2Discriminator, StyleGAN2Generator

    torch.manual_seed(0)
    sizes = {"channel_base": 64, "channel_max": 8, "mapping_layers": 1}
    generator = StyleGAN2Generator(8, (1, 16, 16), w_dim=8, output="tanh", **sizes)
    with torch.no_grad():
        for name, parameter in generator.named_parameters():
            if name.endswith("noise_strength"):
                parameter.fill_(1.0)  # noise that shows (its learned strength starts at 0)
    gan = GANModule(generator, StyleGAN2Discriminator((1, 16, 16), **sizes), latent_dim=8)
    options = {**OPTIONS, "num_samples": 40}
    metrics = FidelityMetrics(
        "fid", every_n_steps=None, feature_extractor=SmallExtractor(), cache_dir=tmp_path, **options
    )
    last = ModelCheckpoint(dirpath=tmp_path / "ckpt", save_last=True)
    trainer(tmp_path, max_steps=1, callbacks=[metrics, last], enable_checkpointing=True).fit(
        gan, DigitsDataModule(batch_size=16)
    )

    def fid(noise_mode: str) -> float:
        draw = lambda count, seed: gan.generate(count, seed=seed, noise_mode=noise_mode)
        fake = generator_features(draw, FeatureExtractor(SmallExtractor()), 40, batch_size=32, seed=metrics.seed)
        return fidelity_metrics(["fid"], fake, metrics._real)["fid"]

    measured = metrics.last["val/fid"]
    assert measured == pytest.approx(fid("random"), rel=1e-6)
    assert measured != pytest.approx(fid("const"), rel=1e-3)
    values = evaluate_checkpoint(
        tmp_path / "ckpt" / "last.ckpt",
        40,
        "fid",
        feature_extractor=SmallExtractor(),
        cache_dir=tmp_path,
        batch_size=32,
    )
    assert values["fid"] == pytest.approx(measured, rel=1e-6)
