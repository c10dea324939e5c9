"""Rectangular folders: ``ImageFolderDataModule(size=(H, W), fit="crop" | "pad" | "stretch")``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import wandb
from PIL import Image

from lightning_gan import GANModule
from lightning_gan.data import CIFAR10DataModule, ImageFolderDataModule
from lightning_gan.data._datasets import _fit
from lightning_gan.metrics.features import describe_real
from lightning_gan.nets import StyleGAN2Discriminator, StyleGAN2Generator
from lightning_gan.runs import read_run
from tests.fake_data import write_image_folder
from tests.helpers import trainer
from tests.recipes.test_recipes import RECIPES, fit_as_shipped


def folder(tmp_path, pixels: np.ndarray, **kwargs) -> ImageFolderDataModule:
    Image.fromarray(pixels).save(tmp_path / "image.png")
    dm = ImageFolderDataModule(tmp_path, batch_size=1, num_workers=0, **kwargs)
    dm.setup()
    return dm


def test_crop_takes_the_centred_crop_of_the_size_s_aspect_ratio(tmp_path):
    # 30 x 90: columns 0-14 and 75-89 black, 15-74 white; a 1:2 crop keeps the middle 60 columns
    pixels = np.zeros((30, 90, 3), dtype=np.uint8)
    pixels[:, 15:75] = 255
    dm = folder(tmp_path, pixels, size=(10, 20))
    assert dm.dims == (3, 10, 20) and dm.fit == "crop"
    assert dm.train_dataset[0].shape == (3, 10, 20) and (dm.train_dataset[0] == 1).all()
    # a tall target from the same image: the crop is 30 x 15 from the middle, white
    assert (folder(tmp_path, pixels, size=(20, 10)).train_dataset[0] == 1).all()


def test_pad_letterboxes_the_whole_image_on_black(tmp_path):
    pixels = np.full((30, 90, 3), 255, dtype=np.uint8)  # 3:1, white
    image = folder(tmp_path, pixels, size=(20, 20), fit="pad").train_dataset[0]
    # resized to 20 x 7 (90 -> 20, 30 -> 6.67 -> 7) and centred: rows 6-12 the image, the rest black
    assert (image[:, :6] == -1).all() and (image[:, 13:] == -1).all()
    assert (image[:, 6:13] == 1).all()
    # a size of the image's own aspect ratio pads nothing
    assert (folder(tmp_path, pixels, size=(10, 30), fit="pad").train_dataset[0] == 1).all()


def test_stretch_keeps_every_column(tmp_path):
    pixels = np.zeros((30, 90, 3), dtype=np.uint8)
    pixels[:, 45:] = 255  # left half black, right half white
    image = folder(tmp_path, pixels, size=(16, 16), fit="stretch").train_dataset[0]
    assert image.shape == (3, 16, 16)
    assert (image[:, :, :7] == -1).all() and (image[:, :, 9:] == 1).all()  # both halves survive, squeezed


@pytest.mark.parametrize("fit", ["crop", "pad", "stretch"])
def test_an_image_of_the_size_is_read_as_is_by_every_fit(tmp_path, fit):
    pixels = np.random.default_rng(0).integers(0, 256, (8, 16, 3), dtype=np.uint8)
    image = folder(tmp_path, pixels, size=(8, 16), fit=fit).train_dataset[0]
    torch.testing.assert_close(image, torch.from_numpy(pixels).permute(2, 0, 1).float() / 127.5 - 1, rtol=0, atol=0)


def test_a_square_size_crops_as_before_bitwise():
    """An int size is today's behaviour: the centred square of the shorter side, resized (bicubic);
    written here the way the package did it before sizes could be rectangles."""

    def square(image: Image.Image, size: int) -> Image.Image:
        width, height = image.size
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        image = image.crop((left, top, left + side, top + side)) if width != height else image
        return image.resize((size, size), Image.Resampling.BICUBIC) if side != size else image

    rng = np.random.default_rng(0)
    for width, height, size in [(40, 30, 16), (30, 41, 16), (17, 17, 8), (64, 63, 64), (9, 100, 5), (33, 20, 20)]:
        image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        assert np.array_equal(np.array(_fit(image, (size, size), "crop")), np.array(square(image, size)))


def test_bad_sizes_and_fits_are_named(tmp_path):
    for size in [(8,), (8, 0), (8, True), (8, 16, 3)]:
        with pytest.raises(ValueError, match=r"ImageFolderDataModule\(size=.*\): expected an int or \(H, W\)"):
            ImageFolderDataModule(tmp_path, size=size)
    with pytest.raises(ValueError, match=r"ImageFolderDataModule\(size='8'\): expected an int >= 1 or \(H, W\)"):
        ImageFolderDataModule(tmp_path, size="8")
    with pytest.raises(ValueError, match=r"fit='letterbox'\): expected one of \['crop', 'pad', 'stretch'\]"):
        ImageFolderDataModule(tmp_path, fit="letterbox")
    with pytest.raises(
        ValueError, match=r"CIFAR10DataModule\(size=\(8, 16\)\): expected an int .* ImageFolderDataModule"
    ):
        CIFAR10DataModule(tmp_path, size=(8, 16))


def test_the_fid_reference_set_is_told_apart_by_its_fit(tmp_path):
    write_image_folder(tmp_path, classes=(), per_class=4, size=(40, 20))
    described = {}
    for fit in ("crop", "pad"):
        dm = ImageFolderDataModule(tmp_path, size=(8, 16), fit=fit, batch_size=2, num_workers=0)
        dm.setup()
        described[fit] = describe_real(dm, dm.train_dataset)
    assert described["crop"]["dims"] == [3, 8, 16] and "fit" not in described["crop"]  # the cache key as before
    assert described["pad"] == {**described["crop"], "fit": "pad"}


def test_stylegan2_trains_on_a_folder_of_landscape_images(tmp_path):
    write_image_folder(tmp_path / "data", classes=(), per_class=8, size=(50, 20))  # 5:2, letterboxed to 1:2
    dm = ImageFolderDataModule(tmp_path / "data", size=(8, 16), fit="pad", batch_size=4, num_workers=0)
    small = dict(w_dim=16, channel_base=64, channel_max=16)
    gan = GANModule(
        StyleGAN2Generator(16, dm.dims, mapping_layers=1, **small),
        StyleGAN2Discriminator(dm.dims, channel_base=64, channel_max=16, mbstd_group_size=2),
        latent_dim=16,
    )
    trainer(tmp_path, max_steps=2).fit(gan, datamodule=dm)
    assert gan.global_step == 2 and gan.generate(3, seed=0).shape == (3, 3, 8, 16)


def test_the_folder_recipe_as_shipped_trains_on_landscape_images_with_the_documented_flags(
    tmp_path, monkeypatch, no_wandb_credentials
):
    """docs/data.md: 256 wide and 128 tall on folder_stylegan2_ada, its W&B logger, SampleGrid and
    FidelityMetrics on (narrowed and on stand-in data as tests/recipes/test_recipes.py runs every recipe)."""
    shape = "[3,128,256]"
    flags = ["--data.init_args.size", "[128,256]", "--data.init_args.fit", "pad"]
    flags += [f"--model.init_args.{net}.init_args.image_shape={shape}" for net in ("generator", "discriminator")]
    recipe = next(p for p in RECIPES if p.stem == "folder_stylegan2_ada")
    cli, _, _, measured = fit_as_shipped(recipe, tmp_path, monkeypatch, *flags)
    assert cli.trainer.global_step == 2 and measured and set(measured[0].last) >= {"val/fid", "val/kid"}
    assert cli.datamodule.dims == (3, 128, 256) and cli.datamodule.train_dataset[0].shape == (3, 128, 256)
    assert cli.model.generate(1, seed=0).shape == (1, 3, 128, 256)
    wandb.finish()
    assert read_run(tmp_path / "run").config["data.init_args.size"] == [128, 256]
    with Image.open(next((tmp_path / "run").rglob("samples/step_000002.png"))) as grid:
        assert grid.width > grid.height  # a grid of landscape samples
