"""``subset=`` of the image data modules (limited-data training), and sets too small for a batch."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from jsonargparse import ArgumentParser
from PIL import Image

from lightning_gan.data import (
    CelebADataModule,
    CIFAR10DataModule,
    DigitsDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
)
from lightning_gan.data._subset import class_shares
from lightning_gan.nets._recordable import import_class
from tests.fake_data import write_celeba, write_cifar10, write_mnist

DIGITS = 1797  # scikit-learn's digits


@pytest.fixture(scope="module")
def full_digits() -> DigitsDataModule:
    dm = DigitsDataModule(size=8)
    dm.setup()
    return dm


def digits(subset, seed=0, **kwargs) -> DigitsDataModule:
    dm = DigitsDataModule(size=8, batch_size=kwargs.pop("batch_size", 8), subset=subset, subset_seed=seed, **kwargs)
    dm.setup()
    return dm


def write_pngs(folder: Path, num: int, side: int = 6, seed: int = 0) -> list[Path]:
    """``num`` small random RGB PNGs in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(num):
        paths.append(folder / f"{i:03d}.png")
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8), "RGB").save(paths[-1])
    return paths


# ---------------------------------------------------------------------------------------------
# What a subset holds


def test_an_int_subset_takes_that_many_images_an_equal_share_per_class(full_digits):
    dm = digits(100)
    assert len(dm.train_dataset) == 100 and dm.images.shape == (100, 1, 8, 8) and len(dm.labels) == 100
    assert torch.bincount(dm.labels, minlength=10).tolist() == [10] * 10
    # the subset is the full split's images at subset_indices, pixels and labels unchanged
    assert dm.subset_indices.tolist() == sorted(set(dm.subset_indices.tolist()))
    assert torch.equal(dm.images, full_digits.images[dm.subset_indices])
    assert torch.equal(dm.labels, full_digits.labels[dm.subset_indices])
    assert full_digits.subset_indices is None and len(full_digits.train_dataset) == DIGITS


def test_a_fraction_rounds_down_and_the_remainder_goes_to_the_lowest_labels():
    dm = digits(0.05)  # 5% of 1,797 = 89.85: 89 images = 8 per class + 9 over
    assert len(dm.train_dataset) == 89
    assert torch.bincount(dm.labels, minlength=10).tolist() == [9] * 9 + [8]
    assert len(digits(0.29, batch_size=1).train_dataset) == 521  # 0.29 * 1797 = 521.13 (float error rounded away)


def test_the_whole_split_as_a_fraction_or_a_count_is_the_unsubsetted_set(full_digits):
    for subset in (1.0, DIGITS):
        dm = digits(subset)
        assert torch.equal(dm.images, full_digits.images) and torch.equal(dm.labels, full_digits.labels)


def test_same_seed_same_subset_other_seed_other_subset_and_the_global_rng_is_untouched():
    state = torch.get_rng_state()
    a, b, c = digits(50, seed=0), digits(50, seed=0), digits(50, seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.subset_indices, b.subset_indices) and torch.equal(a.images, b.images)
    assert not torch.equal(a.subset_indices, c.subset_indices)
    assert torch.bincount(c.labels, minlength=10).tolist() == [5] * 10
    # a smaller subset with the same seed lies inside a larger one
    assert set(a.subset_indices.tolist()) <= set(digits(100, seed=0).subset_indices.tolist())


def test_the_loader_serves_only_the_subset():
    dm = digits(40, batch_size=8)
    batches = list(dm.train_dataloader())
    assert len(batches) == 5
    seen = torch.cat([labels for _, labels in batches])
    assert sorted(seen.tolist()) == sorted(dm.labels.tolist())


def test_class_shares_give_a_small_class_all_it_has_and_the_rest_to_the_others():
    assert class_shares([10, 10, 10], 7) == [3, 2, 2]
    assert class_shares([2, 10, 10], 12) == [2, 5, 5]
    assert class_shares([2, 10, 10], 13) == [2, 6, 5]
    assert class_shares([1, 2, 3], 6) == [1, 2, 3]


# ---------------------------------------------------------------------------------------------
# Recorded, rebuilt, parsed


def test_the_subset_is_recorded_in_init_spec_and_rebuilds_from_it():
    dm = digits(30, seed=3)
    assert dm.init_spec["init_args"]["subset"] == 30 and dm.init_spec["init_args"]["subset_seed"] == 3
    spec = dm.init_spec
    rebuilt = import_class(spec["class_path"], "data module")(**spec["init_args"])
    rebuilt.setup()
    assert torch.equal(rebuilt.images, dm.images)


def test_a_record_written_before_the_split_of_images_py_still_loads(full_digits):
    """Checkpoints made before subsets and before ``images.py`` was split record this."""
    old = {"class_path": "lightning_gan.data.images.DigitsDataModule", "init_args": {"size": 8, "batch_size": 8}}
    dm = import_class(old["class_path"], "data module")(**old["init_args"])
    dm.setup()
    assert isinstance(dm, DigitsDataModule) and dm.subset is None and torch.equal(dm.images, full_digits.images)


def test_the_command_line_reads_100_as_a_count_and_0_1_as_a_fraction():
    # jsonargparse may hand "100" over as 100 or as 100.0 (seen to differ with what ran before in the
    # process); a whole number above 1 is a count either way, since a fraction cannot exceed 1
    parser = ArgumentParser()
    parser.add_class_arguments(DigitsDataModule, "data")
    for value, images in (("100", 100), ("0.1", 179)):
        dm = DigitsDataModule(**vars(parser.parse_args(["--data.subset", value]).data))
        dm.setup()
        assert len(dm.train_dataset) == images, value
    for count in (100, 100.0):
        dm = DigitsDataModule(subset=count)
        dm.setup()
        assert len(dm.train_dataset) == 100


# ---------------------------------------------------------------------------------------------
# Bad values


@pytest.mark.parametrize("subset", [0, -3, 0.0, -0.5, float("nan")])
def test_a_subset_of_zero_or_less_is_refused_at_construction(subset):
    with pytest.raises(ValueError, match=rf"subset={subset!r}; expected an image count >= 1 or a fraction in \(0, 1\]"):
        DigitsDataModule(subset=subset)


def test_a_fraction_above_one_is_refused_at_construction():
    with pytest.raises(ValueError, match=r"subset=1.5 is a fraction > 1"):
        DigitsDataModule(subset=1.5)
    with pytest.raises(ValueError, match=r"subset=500.5 is a fraction > 1.*int image count \(subset=500\)"):
        ImageFolderDataModule("anywhere", subset=500.5)


@pytest.mark.parametrize("subset", [True, "10%", [10]])
def test_a_subset_that_is_no_number_is_a_type_error(subset):
    with pytest.raises(TypeError, match="subset="):
        DigitsDataModule(subset=subset)


@pytest.mark.parametrize("seed", [-1, 1.5, None])
def test_a_bad_subset_seed_is_refused(seed):
    with pytest.raises(ValueError, match=rf"subset_seed={seed!r}\): expected an int >= 0"):
        DigitsDataModule(subset=10, subset_seed=seed)


def test_a_subset_larger_than_the_split_names_both_numbers():
    dm = DigitsDataModule(subset=DIGITS + 1)
    with pytest.raises(
        ValueError, match=rf"subset={DIGITS + 1} is more than the {DIGITS} images of the training split"
    ):
        dm.setup()


def test_a_fraction_that_rounds_to_no_image_names_the_split_size():
    with pytest.raises(ValueError, match=rf"subset=0.0001 of the {DIGITS} images .* is 0 images"):
        DigitsDataModule(subset=0.0001).setup()


def test_a_subset_smaller_than_a_batch_names_the_subset_and_the_batch_size():
    with pytest.raises(ValueError, match=rf"subset=20 keeps 20 of the {DIGITS} images .* fewer than batch_size=64"):
        DigitsDataModule(subset=20).setup()


# ---------------------------------------------------------------------------------------------
# The other data sets, and image folders


def test_mnist_cifar10_and_celeba_take_subsets(tmp_path):
    write_mnist(tmp_path, num=64)
    mnist = MNISTDataModule(tmp_path, batch_size=4, subset=20, download=False)
    mnist.setup()
    assert mnist.images.dtype == torch.uint8 and torch.bincount(mnist.labels).tolist() == [2] * 10

    write_cifar10(tmp_path, num_per_batch=16)  # 80 images, labels i % 10 per batch
    cifar = CIFAR10DataModule(tmp_path, batch_size=4, subset=0.25, download=False)
    cifar.setup()
    assert len(cifar.train_dataset) == 20 and torch.bincount(cifar.labels).tolist() == [2] * 10

    write_celeba(tmp_path, num=10)  # no labels; partitions 0, 0, 0, 1, 2 repeating: 6 training faces
    celeba = CelebADataModule(tmp_path, batch_size=2, num_workers=0, subset=0.5, download=False)
    celeba.setup()
    assert len(celeba.train_dataset) == 3 and celeba.train_dataset[0].shape == (3, 64, 64)
    with pytest.raises(ValueError, match="subset=7 is more than the 6 images of the training split"):
        CelebADataModule(tmp_path, num_workers=0, subset=7, download=False).setup()


def test_an_image_folder_subset_balances_its_class_folders(tmp_path):
    write_pngs(tmp_path / "cats", 3)
    write_pngs(tmp_path / "dogs", 7, seed=1)
    dm = ImageFolderDataModule(tmp_path, size=4, batch_size=2, num_workers=0, subset=6)
    dm.setup()
    assert dm.train_dataset.labels == [0, 0, 0, 1, 1, 1]
    larger = ImageFolderDataModule(tmp_path, size=4, batch_size=2, num_workers=0, subset=8)
    larger.setup()
    assert larger.train_dataset.labels == [0] * 3 + [1] * 5  # cats gives all 3 it has; dogs the rest
    images, labels = next(iter(dm.train_dataloader()))
    assert images.shape == (2, 3, 4, 4) and labels.shape == (2,)


def test_an_image_folder_without_classes_takes_a_seeded_subset_of_its_files(tmp_path):
    files = write_pngs(tmp_path, 10)
    picked = []
    for seed in (0, 0, 5):
        dm = ImageFolderDataModule(tmp_path, size=4, batch_size=2, num_workers=0, subset=0.5, subset_seed=seed)
        dm.setup()
        assert len(dm.train_dataset) == 5 and dm.train_dataset.labels is None
        assert set(dm.train_dataset.files) <= set(files) and dm.train_dataset.files == sorted(dm.train_dataset.files)
        picked.append(dm.train_dataset.files)
    assert picked[0] == picked[1] and picked[0] != picked[2]


def test_a_folder_smaller_than_the_default_batch_fails_in_setup_naming_both_sizes(tmp_path):
    write_pngs(tmp_path, 20)
    dm = ImageFolderDataModule(tmp_path, num_workers=0)  # batch_size=64, the default
    with pytest.raises(ValueError, match=r"20 images in .*, fewer than batch_size=64: every batch would be dropped"):
        dm.setup()


def test_a_set_too_small_for_a_batch_on_every_process_fails_before_training():
    dm = digits(100, batch_size=64)  # enough for one batch on one process
    assert len(dm.train_dataloader()) == 1
    dm.trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False)  # 50 for each of 2 processes
    with pytest.raises(ValueError, match=r"100 training images shared by 2 processes is 50 per process, fewer than "):
        dm.train_dataloader()
    dm.trainer = L.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, use_distributed_sampler=False)
    assert len(dm.train_dataloader()) == 1  # without a distributed sampler every process sees all 100
