"""Warm start (``init_from``) from lightning-gan checkpoints and stylegan2-ada pickles, and FreezeD, with real Trainers."""

from __future__ import annotations

import warnings
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger

from lightning_gan import GANModule
from lightning_gan._warm_start import WarmStartError
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator, StyleGAN2Discriminator, StyleGAN2Generator
from lightning_gan.pretrained import load_stylegan2_ada
from lightning_gan.runs import read_run
from tests.helpers import loader, trainer
from tests.tiny_runs import csv_logger, offline_wandb, run_digits

GOLDEN = Path(__file__).parent / "golden"
PICKLE = GOLDEN / "stylegan2_ada_snapshot_uncond32_resnet.pkl"


def stylegan2_like_pickle(size: int = 32, **changes) -> GANModule:
    """A GAN built like the golden 32 px snapshot (or at another resolution / with changes)."""
    reference = load_stylegan2_ada(PICKLE)
    g_kwargs = {**reference.generator_kwargs, "image_shape": (3, size, size), **changes}
    d_kwargs = {**reference.discriminator_kwargs, "image_shape": (3, size, size)}
    return GANModule(
        StyleGAN2Generator(**g_kwargs),
        StyleGAN2Discriminator(**{**d_kwargs, "mbstd_group_size": 2}),
        latent_dim=g_kwargs["latent_dim"],
        ema_decay=0.99,
        init_from=str(PICKLE),
    )


class _Weights(L.Callback):
    """The networks' state when training starts, after the warm start and before any update."""

    def on_train_start(self, trainer, module):
        self.at_start = {
            role: {k: v.clone() for k, v in getattr(module, role).state_dict().items()}
            for role in ("generator", "discriminator", "generator_ema")
            if getattr(module, role) is not None
        }
        self.step_at_start = trainer.global_step


class _RecordingCSVLogger(CSVLogger):
    """A CSVLogger that keeps what it was asked to log as hyperparameters."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.records = []

    def log_hyperparams(self, params, *args, **kwargs):
        self.records.append(dict(params))
        super().log_hyperparams(params, *args, **kwargs)


def fit(module: GANModule, images: torch.Tensor, tmp_path: Path, max_steps: int = 1, **kwargs) -> _Weights:
    weights = _Weights()
    trainer(tmp_path, max_steps=max_steps, callbacks=[weights], **kwargs).fit(module, loader(images, batch_size=4))
    return weights


def images(size: int, channels: int = 3, count: int = 8) -> torch.Tensor:
    return torch.rand(count, channels, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


def test_a_pickle_fills_g_d_and_the_ema_generator_and_the_run_starts_at_step_0(tmp_path):
    reference = load_stylegan2_ada(PICKLE)
    module = stylegan2_like_pickle()
    logger = _RecordingCSVLogger(tmp_path, name="csv", version=0)
    weights = fit(module, images(32), tmp_path, logger=logger)
    assert weights.step_at_start == 0
    for role, net in (
        ("generator", reference.generator),
        ("discriminator", reference.discriminator),
        ("generator_ema", reference.generator_ema),
    ):
        expected = net.state_dict()
        assert weights.at_start[role].keys() == expected.keys()
        for name, tensor in expected.items():
            assert torch.equal(weights.at_start[role][name], tensor), f"{role}.{name} was not loaded"
    assert torch.equal(weights.at_start["generator"]["w_avg"], reference.generator.w_avg)  # buffers too
    # the run trained from there: a new optimizer (step 1 done) and the weights moved
    assert module.global_step == 1
    assert not torch.equal(
        module.generator.state_dict()["blocks.0.conv1.weight"], weights.at_start["generator"]["blocks.0.conv1.weight"]
    )
    record = next(params["warm_start"] for params in logger.records if "warm_start" in params)
    assert record["source"] == str(PICKLE)
    assert record["generator"]["loaded"] == len(reference.generator.state_dict())
    assert record["discriminator"] == {
        "loaded": len(reference.discriminator.state_dict()),
        "skipped": {},
        "new": [],
        "unused": [],
    }


def test_another_resolution_loads_what_fits_matches_d_blocks_from_the_output_end_and_reports_the_rest(tmp_path, caplog):
    reference = load_stylegan2_ada(PICKLE)
    module = stylegan2_like_pickle(size=16)  # the 32 px snapshot into a 16 px model
    module.discriminator = StyleGAN2Discriminator(
        **{**load_stylegan2_ada(PICKLE).discriminator_kwargs, "image_shape": (3, 16, 16), "mbstd_group_size": 2}
    )
    weights = fit(module, images(16), tmp_path)
    source_d, source_g = reference.discriminator.state_dict(), reference.generator.state_dict()
    # G's blocks run from 4 px up: blocks 0-2 (4, 8, 16 px) are the snapshot's
    for name in ("blocks.0.const", "blocks.2.conv1.weight", "blocks.2.torgb.weight", "mapping_network.layers.1.weight"):
        assert torch.equal(weights.at_start["generator"][name], source_g[name])
    # D's run from the input down to 8 px: the 16 px model's blocks 0, 1 are the snapshot's blocks 1, 2 (16, 8 px)
    for ours, theirs in (
        ("blocks.0.conv0.weight", "blocks.1.conv0.weight"),
        ("blocks.1.conv1.weight", "blocks.2.conv1.weight"),
    ):
        assert torch.equal(weights.at_start["discriminator"][ours], source_d[theirs])
    assert torch.equal(weights.at_start["discriminator"]["fc.weight"], source_d["fc.weight"])
    out = caplog.text
    assert "Warm start from" in out
    assert "new (initialized) discriminator: blocks.0.fromrgb.* (2 tensors)" in out  # the 32 px block had it
    assert "unused from the file's generator: blocks.3.conv0.* (6 tensors), blocks.3.conv1.* (6 tensors)" in out


def test_a_mismatch_with_init_strict_is_an_error_naming_the_tensors(tmp_path):
    module = stylegan2_like_pickle(size=16)
    module.init_strict = True
    with pytest.raises(WarmStartError, match=r"init_strict=True.*generator: .*unused \['blocks\.3\."):
        fit(module, images(16), tmp_path)


def test_a_configuration_the_file_cannot_fill_names_both_and_the_recipe_flag(tmp_path):
    module = stylegan2_like_pickle(w_dim=8)
    with pytest.raises(
        WarmStartError, match=r"w_dim: file 16, model 8.*--model\.init_args\.generator\.init_args\.w_dim 16"
    ) as error:
        fit(module, images(32), tmp_path)
    assert "The file's generator: {" in str(error.value)


def dcgan(seed: int, **kwargs) -> GANModule:
    torch.manual_seed(seed)
    return GANModule(
        DCGANGenerator(latent_dim=8, image_shape=(1, 16, 16), width=8),
        DCGANDiscriminator(image_shape=(1, 16, 16), width=8),
        latent_dim=8,
        **kwargs,
    )


@pytest.fixture
def trained_checkpoint(tmp_path) -> tuple[Path, GANModule]:
    source = dcgan(0)
    trainer(tmp_path / "source", max_steps=3).fit(source, loader(images(16, 1), batch_size=4))
    path = tmp_path / "source.ckpt"
    source.trainer.save_checkpoint(path)
    return path, source


def test_a_lightning_checkpoint_starts_a_new_run_and_fills_the_ema_from_its_generator(tmp_path, trained_checkpoint):
    path, source = trained_checkpoint
    module = dcgan(1, init_from=str(path), ema_decay=0.9)  # the source had no EMA
    weights = fit(module, images(16, 1), tmp_path / "new")
    for role in ("generator", "generator_ema"):
        for name, tensor in source.generator.state_dict().items():
            assert torch.equal(weights.at_start[role][name], tensor), f"{role}.{name}"
    for name, tensor in source.discriminator.state_dict().items():  # BatchNorm's running statistics too
        assert torch.equal(weights.at_start["discriminator"][name], tensor), name
    assert weights.step_at_start == 0


def test_resuming_and_fitting_again_never_overwrite_the_run_s_weights_with_init_from(tmp_path, trained_checkpoint):
    path, source = trained_checkpoint
    module = dcgan(1, init_from=str(path))
    fit(module, images(16, 1), tmp_path / "a", max_steps=2)
    own = tmp_path / "own.ckpt"
    module.trainer.save_checkpoint(own)
    trained = {k: v.clone() for k, v in module.generator.state_dict().items()}
    again = fit(module, images(16, 1), tmp_path / "b", max_steps=3)  # a second fit of the same module
    assert all(torch.equal(again.at_start["generator"][k], v) for k, v in trained.items())
    resumed_module = dcgan(2, init_from=str(path))
    resumed = _Weights()
    trainer(tmp_path / "c", max_steps=3, callbacks=[resumed]).fit(
        resumed_module, loader(images(16, 1), batch_size=4), ckpt_path=own
    )
    assert resumed.step_at_start == 2
    assert all(torch.equal(resumed.at_start["generator"][k], v) for k, v in trained.items())


def test_a_file_of_another_network_class_is_an_error_naming_both(tmp_path, trained_checkpoint):
    path, _ = trained_checkpoint
    module = stylegan2_like_pickle()
    module.init_from = str(path)
    with pytest.raises(WarmStartError, match=r"its generator is a DCGANGenerator, the model's a StyleGAN2Generator"):
        fit(module, images(32), tmp_path)


def test_bad_init_from_arguments_are_errors_before_any_compute(tmp_path):
    with pytest.raises(ValueError, match=r"init_strict=True\) without init_from"):
        dcgan(0, init_strict=True)
    with pytest.raises(ValueError, match=r"init_from=3"):
        dcgan(0, init_from=3)
    module = dcgan(0, init_from=str(tmp_path / "missing.ckpt"))
    with pytest.raises(FileNotFoundError, match=r"missing\.ckpt.*does not exist"):
        fit(module, images(16, 1), tmp_path)
    assert module.global_step == 0


def test_the_recipe_flag_warm_starts_a_recipe_and_the_table_is_in_the_wandb_config(tmp_path):
    first = run_digits(tmp_path / "first", *csv_logger(tmp_path / "first"))
    path = Path(first.trainer.checkpoint_callback.last_model_path or first.trainer.checkpoint_callback.best_model_path)
    assert path.is_file()
    with offline_wandb(tmp_path), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no W&B credentials found: logging offline" is expected here
        second = run_digits(tmp_path / "second", "--model.init_args.init_from", str(path))
    run = read_run(tmp_path / "second")
    assert run.config["model.init_args.init_from"] == str(path)
    assert run.config["warm_start.source"] == str(path)
    assert run.config["warm_start.generator.loaded"] == len(second.model.generator.state_dict())
    assert run.config["warm_start.discriminator.skipped"] == {}


# ------------------------------------------------------------------ FreezeD
def test_freeze_d_leaves_the_first_blocks_out_of_the_optimizer_and_bitwise_unchanged(tmp_path):
    torch.manual_seed(0)
    discriminator = StyleGAN2Discriminator(image_shape=(1, 16, 16), channel_base=64, channel_max=16, mbstd_group_size=2)
    module = GANModule(
        StyleGAN2Generator(
            latent_dim=8, image_shape=(1, 16, 16), w_dim=8, channel_base=64, channel_max=16, mapping_layers=2
        ),
        discriminator,
        latent_dim=8,
        freeze_d_blocks=1,
    )
    before = {k: v.clone() for k, v in discriminator.state_dict().items()}
    fit(module, images(16, 1), tmp_path, max_steps=3)
    d_optimizer = module.optimizers()[1].optimizer
    optimized = {id(p) for group in d_optimizer.param_groups for p in group["params"]}
    assert not any(id(p) in optimized for p in discriminator.blocks[0].parameters())
    assert all(id(p) in optimized for p in discriminator.blocks[1].parameters())
    after = discriminator.state_dict()
    frozen = [k for k in before if k.startswith("blocks.0.")]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert not torch.equal(before["blocks.1.conv0.weight"], after["blocks.1.conv0.weight"])  # the rest trains


def test_freeze_d_on_a_discriminator_without_blocks_or_too_many_is_an_error():
    with pytest.raises(ValueError, match=r"freeze_d_blocks=2.*DCGANDiscriminator.*has no `blocks`"):
        dcgan(0, freeze_d_blocks=2)
    with pytest.raises(ValueError, match=r"freeze_d_blocks=3.*has 2 blocks"):
        GANModule(
            StyleGAN2Generator(latent_dim=8, image_shape=(1, 16, 16), w_dim=8, channel_base=64, channel_max=16),
            StyleGAN2Discriminator(image_shape=(1, 16, 16), channel_base=64, channel_max=16),
            latent_dim=8,
            freeze_d_blocks=3,
        )
