"""Every recipe runs: a few generator iterations of each on stand-in data written in the on-disk
layout its data module reads, with its logger (W&B, offline without a login) and callbacks, unchanged
but for the budget and, for image recipes, the batch size and the networks' width (`width`, or StyleGAN2's `channel_max`; full-width networks are
built by test_cli's parse test)."""

from pathlib import Path

import pytest
import torch
import wandb
import yaml

from lightning_gan.callbacks import FidelityMetrics
from lightning_gan.cli import run_cli
from lightning_gan.runs import read_run
from tests.fake_data import write_celeba, write_cifar10, write_image_folder, write_mnist
from tests.helpers import SmallExtractor

RECIPES = sorted((Path(__file__).parents[2] / "recipes").glob("*.yaml"))
IMAGE_RECIPES = {
    "digits_dcgan", "digits_cgan", "mnist_dcgan", "cifar10_dcgan", "cifar10_wgan_gp", "cifar10_sngan",
    "cifar10_cgan_pd", "celeba64_dcgan", "folder_dcgan_ada", "cifar10_10pct_sngan_diffaug",
    "digits_stylegan2", "cifar10_stylegan2_ada", "folder_stylegan2_ada", "folder_stylegan2_ada_transfer",
}  # fmt: skip
CPU_DIGITS = {"digits_dcgan", "digits_cgan", "digits_stylegan2"}  # judged by the digits classifier, not FID
WIDTH = 16  # a full-width SN-ResNet takes ~10 s per iteration on one CPU thread
# the init_args that set a network's width: DCGAN and ResNet take `width`, StyleGAN2 caps its
# widths with `channel_max` (min(channel_base // resolution, channel_max) at each resolution)
WIDTH_ARGS = ("width", "channel_max")
# stand-in data: (writer, enough images for a few iterations of 5 D steps at batch 4)
STAND_INS = {
    "MNISTDataModule": lambda root: write_mnist(root, num=64),
    "CIFAR10DataModule": lambda root: write_cifar10(root, num_per_batch=16),
    "CelebADataModule": lambda root: write_celeba(root, num=60),
    "ImageFolderDataModule": lambda root: write_image_folder(root, classes=(), per_class=24, size=(80, 60)),
}


def test_the_issue_s_image_recipes_exist():
    assert IMAGE_RECIPES <= {p.stem for p in RECIPES}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_states_what_it_reproduces_its_anchor_and_budget(recipe):
    header = "\n".join(line for line in recipe.read_text().splitlines() if line.startswith("#"))
    assert "Budget" in header, f"{recipe.name}: the header comment should state the budget"
    if recipe.stem in IMAGE_RECIPES:
        assert "Anchor" in header, f"{recipe.name}: the header comment should state the anchor numbers"


def fit_as_shipped(recipe: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *extra: str):
    """Two iterations of ``recipe`` as a user runs it (its logger and callbacks on), narrowed as the module
    docstring says, on stand-in data, with ``extra`` flags last. Returns the CLI, the recipe's config, the
    stand-in ``init_from`` checkpoint (or None) and the recipe's FidelityMetrics callbacks."""
    config = yaml.safe_load(recipe.read_text())
    data_class = config["data"]["class_path"].rsplit(".", 1)[-1]
    # the recipe's own logger, as a user without a W&B login runs it: offline, into the run folder
    overrides = ["--trainer.max_steps", "2", "--trainer.enable_progress_bar", "false"]
    if recipe.stem in IMAGE_RECIPES:
        overrides += ["--data.init_args.batch_size", "4"]
        for net in ("generator", "discriminator"):
            net_args = config["model"]["init_args"][net].get("init_args", {})
            width_args = [name for name in WIDTH_ARGS if name in net_args]
            assert width_args, f"{recipe.name}: the {net} states none of {WIDTH_ARGS}, which the test narrows"
            overrides += [f"--model.init_args.{net}.init_args.{name}={WIDTH}" for name in width_args]
    if data_class in STAND_INS:
        STAND_INS[data_class](tmp_path / "data")
        overrides += ["--data.init_args.root", str(tmp_path / "data")]
        if data_class != "ImageFolderDataModule":
            overrides += ["--data.init_args.download", "false"]
        if config["data"]["init_args"].get("subset"):  # 10% of the stand-in's 80 images is too few for 5 D steps
            overrides += ["--data.init_args.subset", "0.5"]
        overrides += ["--data.init_args.num_workers", "0"]  # worker start-up would dominate 2 iterations
    monkeypatch.setenv("LIGHTNING_GAN_CACHE", str(tmp_path / "cache"))
    source = config["model"]["init_args"].get("init_from")
    if source:  # a published model cannot be downloaded here: a checkpoint of the recipe's own networks stands in
        source = source_checkpoint(recipe, overrides, tmp_path / "source.ckpt")
        overrides += ["--model.init_args.init_from", str(source)]
    root = ["--trainer.default_root_dir", str(tmp_path / "run")]
    cli = run_cli(["--config", str(recipe), *root, *overrides, *extra], run=False)
    measured = [c for c in cli.trainer.callbacks if isinstance(c, FidelityMetrics)]
    for metrics in measured:  # InceptionV3 (a download, ~2 images/s here) makes way for a small stand-in
        metrics.feature_extractor = SmallExtractor()
        metrics.num_samples, metrics.every_n_steps, metrics.kid_subset_size, metrics.kid_subsets = 10, None, 4, 2
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return cli, config, source, measured


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.stem)
def test_recipe_runs_a_few_iterations(recipe, tmp_path, monkeypatch, no_wandb_credentials):
    cli, config, source, measured = fit_as_shipped(recipe, tmp_path, monkeypatch)
    assert cli.trainer.global_step == 2
    assert list((tmp_path / "run").rglob("last.ckpt"))
    if "logger" in config["trainer"]:  # one offline W&B run in the run folder
        wandb.finish()  # what the end of a `lightning-gan fit` process does
        run = read_run(tmp_path / "run")
        assert run.source == "wandb-offline"
        if source:  # the run started from the file, every tensor of it, and says so in its config
            assert run.config["warm_start.source"] == str(source)
            assert run.config["warm_start.generator.loaded"] == len(cli.model.generator.state_dict())
            assert run.config["warm_start.discriminator.skipped"] == {}
    samples = cli.model.generate(4, seed=0)
    assert samples.isfinite().all()
    if recipe.stem in IMAGE_RECIPES:
        generator_args = config["model"]["init_args"]["generator"]["init_args"]
        assert tuple(samples.shape[1:]) == tuple(generator_args["image_shape"])
        assert tuple(cli.datamodule.dims) == tuple(generator_args["image_shape"])
        if any(c["class_path"].endswith("SampleGrid") for c in config["trainer"].get("callbacks", [])):
            assert list((tmp_path / "run").rglob("samples/step_000002.png"))
    if recipe.stem in IMAGE_RECIPES - CPU_DIGITS:  # the GPU recipes measure FID as they go
        names = measured[0].metrics  # what the recipe asks for
        keys = {f"val/{n}{s}" for n in names for s in ("", "_best")} | {
            f"val/{n}_std" for n in names if n in ("is", "kid")
        }
        assert [set(m.last) for m in measured] == [keys]


def source_checkpoint(recipe: Path, overrides: list[str], path: Path) -> Path:
    """A checkpoint of a recipe's networks as ``overrides`` build them (a stand-in for its ``init_from``)."""
    cli = run_cli(["--config", str(recipe), *overrides, "--trainer.logger", "false"], run=False)
    cli.trainer.strategy.connect(cli.model)
    cli.trainer.save_checkpoint(path, weights_only=True)
    return path


def test_the_cifar_stylegan2_ada_recipe_has_the_reference_s_cifar_config(tmp_path, monkeypatch):
    """stylegan2-ada-pytorch @d72cc7d, train.py: cfg_specs['cifar'] = dict(ref_gpus=2, kimg=100000,
    mb=64, mbstd=32, fmaps=1, lrate=0.0025, gamma=0.01, ema=500, ramp=0.05, map=2), then pl_weight 0,
    style_mixing_prob 0 and D architecture 'orig' (lines 195-198); Adam betas (0, 0.99); G_reg_interval
    4, D_reg_interval 16; the lazy optimizer adjustment lr * c, betas ** c, c = k / (k + 1)
    (training_loop.py lines 202-205); ADA target 0.6, interval 4, 500 kimg."""
    from lightning_gan.regularizers import adjust_optimizer

    monkeypatch.chdir(tmp_path)  # the trainer's callbacks may make folders
    cli = run_cli(
        ["--config", str(RECIPES[0].parent / "cifar10_stylegan2_ada.yaml"), "--trainer.logger", "false"], run=False
    )
    model, data = cli.model, cli.datamodule
    g, d = model.generator, model.discriminator
    assert data.batch_size == 64
    assert d.mbstd_group_size == 32 and d.architecture == "orig"
    assert g.blocks[0].conv1.weight.shape[0] == min(32768 // 4, 512) and d.conv.weight.shape[0] == 512  # fmaps 1
    assert len(g.mapping_network.layers) == 2 and len(d.mapping_network.layers) == 8  # map=2 is G's only
    assert g.style_mixing_prob == 0.0 and not model.g_regularizers  # no style mixing, no path length
    (r1,) = model.d_regularizers
    assert r1.gamma == 0.01 and r1.interval == 16 and r1.adjust_optimizer
    assert model.ema_decay == pytest.approx(0.5 ** (64 / 500_000), rel=1e-4)  # 500 kimg half-life at batch 64
    assert model.augment.target == 0.6 and model.augment.interval == 4 and model.augment.speed_kimg == 500
    g_opt, d_opt = (
        model._optimizer_factories[role](torch.nn.Linear(1, 1).parameters()) for role in ("generator", "discriminator")
    )
    adjust_optimizer(d_opt, model.d_regularizers, "discriminator")
    for optimizer, k in ((g_opt, 4), (d_opt, 16)):  # the reference's effective values
        c = k / (k + 1)
        group = optimizer.param_groups[0]
        assert group["lr"] == pytest.approx(0.0025 * c) and group["betas"] == pytest.approx((0.0, 0.99**c), abs=1e-5)


def test_the_transfer_recipe_builds_the_published_ffhq256_model_with_train_py_s_resume_settings(tmp_path, monkeypatch):
    """stylegan2-ada-pytorch @d72cc7d, train.py: `--resume ffhq256` is
    transfer-learning-source-nets/ffhq-res256-mirror-paper256-noaug.pkl, trained with cfg_specs['paper256'] =
    dict(mb=64, mbstd=8, fmaps=0.5, lrate=0.0025, gamma=1, ema=20, ramp=None, map=8), z and w 512, conv_clamp
    256 (lines 157, 175-183); resuming sets ada_kimg = 100 and ema_rampup = None (lines 313-315). The networks
    built are the ones the pickle's configuration gives (lightning_gan.pretrained), so every tensor fits."""
    from lightning_gan.pretrained import PUBLISHED

    monkeypatch.chdir(tmp_path)
    recipe = RECIPES[0].parent / "folder_stylegan2_ada_transfer.yaml"
    cli = run_cli(["--config", str(recipe), "--trainer.logger", "false"], run=False)
    model = cli.model
    assert PUBLISHED[model.init_from].endswith("transfer-learning-source-nets/ffhq-res256-mirror-paper256-noaug.pkl")
    g, d = model.generator.init_spec["init_args"], model.discriminator.init_spec["init_args"]
    published = {"latent_dim": 512, "w_dim": 512, "mapping_layers": 8, "channel_base": 16384, "channel_max": 512}
    assert {k: g[k] for k in published} == published and g["conv_clamp"] == 256
    assert d["channel_base"] == 16384 and d["channel_max"] == 512 and d["conv_clamp"] == 256
    assert d["mbstd_group_size"] == 8 and d.get("architecture", "resnet") == "resnet"
    (r1,) = model.d_regularizers
    assert r1.gamma == 1.0
    assert model.augment.speed_kimg == 100 and model.augment.target == 0.6
    assert model.ema_warmup is False
    assert model.ema_decay == pytest.approx(0.5 ** (cli.datamodule.batch_size / 20_000), abs=1e-6)  # 20 kimg
