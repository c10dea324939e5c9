"""Image data modules on fake files in the real on-disk layouts; nothing is downloaded."""

from __future__ import annotations

import os
import pickle
import urllib.error
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from lightning_gan import GANModule
from lightning_gan.data import (
    CelebADataModule,
    CIFAR10DataModule,
    DigitsDataModule,
    FashionMNISTDataModule,
    ImageFolderDataModule,
    MNISTDataModule,
    ResumableRandomSampler,
)
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator
from tests.fake_data import write_celeba, write_cifar10, write_image_folder, write_mnist
from tests.helpers import trainer

DOWNLOADERS = {
    MNISTDataModule: torchvision.datasets.MNIST,
    FashionMNISTDataModule: torchvision.datasets.FashionMNIST,
    CIFAR10DataModule: torchvision.datasets.CIFAR10,
    CelebADataModule: torchvision.datasets.CelebA,
}


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    """Any download attempt fails the test: they all go through these torchvision methods."""

    def refuse(self):
        raise AssertionError(f"a test tried to download {type(self).__name__}")

    for dataset in DOWNLOADERS.values():
        monkeypatch.setattr(dataset, "download", refuse)


def epoch(dm):
    return list(dm.train_dataloader())


def check_batches(batches, dm, num, labelled=True):
    """Full, shuffled batches of float images in [-1, 1] whose shape is ``dm.dims``."""
    assert len(batches) == num // dm.batch_size
    for batch in batches:
        images, labels = batch if labelled else (batch, None)
        assert isinstance(images, torch.Tensor) and images.dtype == torch.float32
        assert images.shape == (dm.batch_size, *dm.dims)
        assert images.min() >= -1 and images.max() <= 1
        if labelled:
            assert labels.dtype == torch.int64 and labels.shape == (dm.batch_size,)
            assert 0 <= labels.min() and labels.max() < dm.num_classes


# ---------------------------------------------------------------------------------------------
# In-memory sets


@pytest.mark.parametrize("cls", [MNISTDataModule, FashionMNISTDataModule])
def test_mnist_reads_the_raw_idx_files_into_uint8_and_batches_floats(tmp_path, cls):
    folder = write_mnist(tmp_path, num=64, fashion=cls is FashionMNISTDataModule)
    assert folder == tmp_path / ("FashionMNIST" if cls is FashionMNISTDataModule else "MNIST") / "raw"
    dm = cls(tmp_path, batch_size=16)
    assert dm.dims == (1, 28, 28) and dm.num_classes == 10 and dm.num_workers == 0
    dm.prepare_data()  # the files are there: no download
    dm.setup("fit")
    assert dm.images.dtype == torch.uint8 and dm.images.shape == (64, 1, 28, 28)
    assert dm.labels.tolist() == [i % 10 for i in range(64)]
    batches = epoch(dm)
    check_batches(batches, dm, 64)
    everything = torch.cat([images for images, _ in batches])
    assert everything.min() == -1 and everything.max() == 1  # 0 and 255 map to the ends
    # the round trip: byte k of image 3 in the file is that pixel, mapped to v / 127.5 - 1
    pixels = (folder / "train-images-idx3-ubyte").read_bytes()[16:]
    images, labels = dm.train_dataset.__getitems__([3])
    assert labels.tolist() == [3]
    for k in (0, 100, 400):
        value = pixels[3 * 784 + k]
        assert images[0, 0].flatten()[k].item() == pytest.approx(value / 127.5 - 1, abs=1e-6)


def test_mnist_resizes_once_in_setup_and_reads_gzipped_files(tmp_path):
    import gzip

    folder = write_mnist(tmp_path, num=32)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (folder / f"{name}.gz").write_bytes(gzip.compress((folder / name).read_bytes()))
        (folder / name).unlink()
    dm = MNISTDataModule(tmp_path, size=32, batch_size=8)
    dm.setup()
    assert dm.dims == (1, 32, 32) and dm.images.shape == (32, 1, 32, 32) and dm.images.dtype == torch.uint8
    check_batches(epoch(dm), dm, 32)


def test_mnist_rejects_a_file_with_the_wrong_magic_number(tmp_path):
    folder = write_mnist(tmp_path, num=16)
    (folder / "train-labels-idx1-ubyte").write_bytes((folder / "train-images-idx3-ubyte").read_bytes())
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: not the expected idx file.*0x00000801"):
        MNISTDataModule(tmp_path, batch_size=8).setup()


def test_cifar10_reads_the_five_pickled_batches(tmp_path):
    folder = write_cifar10(tmp_path, num_per_batch=8)
    dm = CIFAR10DataModule(tmp_path, batch_size=8)
    assert dm.dims == (3, 32, 32) and dm.num_classes == 10
    dm.prepare_data()
    dm.setup()
    assert dm.images.shape == (40, 3, 32, 32) and dm.images.dtype == torch.uint8
    with open(folder / "data_batch_2", "rb") as file:
        entry = pickle.load(file, encoding="bytes")
    raw = torch.from_numpy(entry[b"data"][1].reshape(3, 32, 32).astype(np.float32))
    images, labels = dm.train_dataset.__getitems__([8 + 1])  # the second image of the second batch
    torch.testing.assert_close(images[0], raw / 127.5 - 1)
    assert labels.tolist() == [entry[b"labels"][1]]
    batches = epoch(dm)
    check_batches(batches, dm, 40)
    assert sorted(torch.cat([labels for _, labels in batches]).tolist()) == sorted(dm.labels.tolist())  # one pass


def test_cifar10_resized_to_64(tmp_path):
    write_cifar10(tmp_path, num_per_batch=4)
    dm = CIFAR10DataModule(tmp_path, size=64, batch_size=4)
    dm.setup()
    assert dm.dims == (3, 64, 64) and dm.images.shape == (20, 3, 64, 64)
    check_batches(epoch(dm), dm, 20)


# ---------------------------------------------------------------------------------------------
# Disk-backed sets


def test_celeba_train_split_is_partition_zero_cropped_and_resized(tmp_path):
    folder = write_celeba(tmp_path, num=20)
    partitions = [line.split()[1] for line in (folder / "list_eval_partition.txt").read_text().splitlines()]
    dm = CelebADataModule(tmp_path, batch_size=4, num_workers=0)
    assert dm.dims == (3, 64, 64) and dm.num_classes == 0 and dm.split == "train"
    dm.prepare_data()
    dm.setup()
    assert len(dm.train_dataset) == partitions.count("0") == 12
    check_batches(epoch(dm), dm, 12, labelled=False)  # no classes: batches are the images alone

    everything = CelebADataModule(tmp_path, split="all", batch_size=4, num_workers=0)
    everything.setup()
    assert len(everything.train_dataset) == 20


def test_celeba_crops_the_centred_178_square(tmp_path):
    folder = write_celeba(tmp_path, num=5)
    dm = CelebADataModule(tmp_path, size=178, batch_size=1, num_workers=0)
    dm.setup()
    with Image.open(folder / "img_align_celeba" / "000001.jpg") as image:
        assert image.size == (178, 218)
        pixels = torch.from_numpy(np.array(image.convert("RGB"))[20:198]).permute(2, 0, 1).float()
    torch.testing.assert_close(dm.train_dataset[0], pixels / 127.5 - 1)


def test_celeba_names_images_missing_from_the_listed_split(tmp_path):
    folder = write_celeba(tmp_path, num=5)
    (folder / "img_align_celeba" / "000002.jpg").unlink()
    with pytest.raises(FileNotFoundError, match=r"1 of the 3 images .* \(first: 000002.jpg\)"):
        CelebADataModule(tmp_path, batch_size=1).setup()


def test_image_folder_with_class_folders_labels_them_in_sorted_order(tmp_path):
    write_image_folder(tmp_path, classes=("cats", "ants", "bees"), per_class=5, size=(40, 30))
    (tmp_path / "bees" / "notes.txt").write_text("not an image")
    (tmp_path / "bees" / "deeper").mkdir()
    Image.new("RGB", (20, 20), (255, 0, 0)).save(tmp_path / "bees" / "deeper" / "extra.JPG")
    dm = ImageFolderDataModule(tmp_path, size=16, batch_size=4, num_workers=0)
    assert dm.num_classes == 3 and dm.classes == ["ants", "bees", "cats"]  # known before setup
    assert dm.dims == (3, 16, 16)
    dm.setup()
    dataset = dm.train_dataset
    assert len(dataset) == 16 and dataset.labels == [0] * 5 + [1] * 6 + [2] * 5
    assert dataset.files[10].name == "extra.JPG"
    red = torch.tensor([1.0, -1.0, -1.0])
    torch.testing.assert_close(dataset[10][0][:, 8, 8], red, atol=0.03, rtol=0)  # a JPEG of pure red
    check_batches(epoch(dm), dm, 16)


def test_image_folder_pixels_round_trip_and_channels(tmp_path):
    write_image_folder(tmp_path, classes=(), per_class=6, size=(16, 16))
    dm = ImageFolderDataModule(tmp_path, size=16, batch_size=3, num_workers=0)
    assert dm.num_classes == 0
    dm.setup()
    with Image.open(tmp_path / "0002.png") as image:
        pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1).float()
    torch.testing.assert_close(dm.train_dataset[2], pixels / 127.5 - 1)  # PNG, native size: exact
    check_batches(epoch(dm), dm, 6, labelled=False)

    gray = ImageFolderDataModule(tmp_path, size=8, channels=1, batch_size=3, num_workers=0)
    gray.setup()
    assert gray.dims == (1, 8, 8)
    check_batches(epoch(gray), gray, 6, labelled=False)


def test_image_folder_resizes_the_shorter_side_and_centre_crops(tmp_path):
    # left and right thirds black, the middle white: a centre crop keeps only white
    pixels = np.zeros((30, 90, 3), dtype=np.uint8)
    pixels[:, 30:60] = 255
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    dm = ImageFolderDataModule(tmp_path, size=10, batch_size=1, num_workers=0)
    dm.setup()
    assert dm.train_dataset[0].shape == (3, 10, 10) and (dm.train_dataset[0] == 1).all()


def test_image_folder_created_after_construction_gets_num_classes_in_setup(tmp_path):
    root = tmp_path / "later"
    dm = ImageFolderDataModule(root, size=8, batch_size=2, num_workers=0)
    assert dm.num_classes is None and dm.dims == (3, 8, 8)
    with pytest.raises(FileNotFoundError, match=rf"no folder {root}.*image files"):
        dm.setup()
    write_image_folder(root, classes=("x", "y"), per_class=2, size=(8, 8))
    dm.setup()
    assert dm.num_classes == 2


def test_image_folder_rejects_empty_and_mixed_folders(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no images in .*empty"):
        ImageFolderDataModule(tmp_path / "empty").setup()
    write_image_folder(tmp_path / "mixed", classes=("a",), per_class=2)
    write_image_folder(tmp_path / "mixed", classes=(), per_class=1)
    with pytest.raises(ValueError, match=r"both class sub-folders \['a'\] and images at top level"):
        ImageFolderDataModule(tmp_path / "mixed").setup()


# ---------------------------------------------------------------------------------------------
# Loaders and arguments


def test_loader_defaults(tmp_path, monkeypatch):
    write_image_folder(tmp_path, classes=(), per_class=4, size=(8, 8))
    disk = ImageFolderDataModule(tmp_path, size=8, batch_size=2)
    assert disk.num_workers == min(8, os.cpu_count()) and disk.pin_memory == torch.cuda.is_available()
    disk.setup()
    loader = disk.train_dataloader()
    assert loader.num_workers == disk.num_workers and loader.persistent_workers == (disk.num_workers > 0)
    assert loader.drop_last and isinstance(loader.sampler, ResumableRandomSampler)  # shuffled, resumable

    write_mnist(tmp_path, num=16)
    memory = MNISTDataModule(tmp_path, batch_size=4, pin_memory=False)
    memory.setup()
    loader = memory.train_dataloader()
    assert loader.num_workers == 0 and not loader.persistent_workers and not loader.pin_memory
    assert loader.drop_last and isinstance(
        loader.sampler, ResumableRandomSampler
    )  # shuffled, resumable and loader.batch_size == 4


def test_a_set_held_on_the_device_makes_its_batches_on_the_trainer_s_device(tmp_path):
    write_cifar10(tmp_path, num_per_batch=4)
    dm = CIFAR10DataModule(tmp_path, batch_size=4, on_device=True, pin_memory=True)
    dm.setup()
    # a device other than the CPU without a GPU: "meta" tensors have shapes and dtypes, no data
    dm.trainer = SimpleNamespace(world_size=1, strategy=SimpleNamespace(root_device=torch.device("meta")))
    loader = dm.train_dataloader()
    images, labels = next(iter(loader))
    assert images.device.type == labels.device.type == "meta" and not loader.pin_memory
    assert images.shape == (4, 3, 32, 32) and images.dtype == torch.float32  # uint8 converted on the device
    assert dm.images.device.type == "cpu"  # the module's own copy stays put (the metrics read it)


def test_training_on_a_set_held_on_the_device_is_the_same_run(tmp_path):
    write_cifar10(tmp_path / "data", num_per_batch=8)
    weights = []
    for on_device in (False, True):
        dm = CIFAR10DataModule(tmp_path / "data", batch_size=8, on_device=on_device)
        torch.manual_seed(0)
        gan = GANModule(DCGANGenerator(8, dm.dims, width=8), DCGANDiscriminator(dm.dims, width=8), latent_dim=8)
        torch.manual_seed(1)
        trainer(tmp_path, max_steps=4).fit(gan, datamodule=dm)
        weights.append(gan.state_dict())
    assert all(torch.equal(weights[0][key], weights[1][key]) for key in weights[0])


class _RecordsReals(GANModule):
    """Keeps every real batch as the discriminator gets it (after the data module's batch hooks)."""

    def _to_training_device(self, batch):
        real = super()._to_training_device(batch)
        self.seen = [*getattr(self, "seen", []), real[0].clone()]
        return real


def _reals_seen(tmp_path, **data) -> tuple[torch.Tensor, torch.Tensor]:
    dm = DigitsDataModule(batch_size=32, subset=64, **data)
    torch.manual_seed(0)
    gan = _RecordsReals(DCGANGenerator(8, (1, 16, 16), width=4), DCGANDiscriminator((1, 16, 16), width=4), latent_dim=8)
    trainer(tmp_path, max_steps=4).fit(gan, datamodule=dm)
    return torch.cat(gan.seen), dm.images


def test_hflip_mirrors_half_the_real_images_on_the_device_the_same_way_for_the_same_seed(tmp_path):
    seen, images = _reals_seen(tmp_path, hflip=True)
    as_is = (seen[:, None] == images[None]).flatten(2).all(2).any(1)  # (N,): equal to a training image
    mirrored = (seen[:, None] == images.flip(-1)[None]).flatten(2).all(2).any(1)
    assert (as_is | mirrored).all()  # every image is a training image or its mirror
    assert 0.3 < mirrored.float().mean() < 0.7 and 0.3 < as_is.float().mean() < 0.7  # 128 images, p = 1/2
    again, _ = _reals_seen(tmp_path, hflip=True)
    assert torch.equal(again, seen)  # the flips come from the seeded generator
    plain, _ = _reals_seen(tmp_path)
    assert (plain[:, None] == images[None]).flatten(2).all(2).any(1).all()  # off by default
    with pytest.raises(ValueError, match=r"DigitsDataModule\(hflip=1\): expected True or False"):
        DigitsDataModule(hflip=1)


def test_a_set_smaller_than_one_batch_is_an_error(tmp_path):
    write_mnist(tmp_path, num=10)
    with pytest.raises(ValueError, match=r"10 images in .*fewer than batch_size=64"):
        MNISTDataModule(tmp_path).setup()


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda r: MNISTDataModule(r, batch_size=0), ValueError, r"MNISTDataModule\(batch_size=0\): expected an int"),
        (lambda r: FashionMNISTDataModule(r, size=2.5), ValueError, r"size=2.5\): expected an int >= 1"),
        (lambda r: CIFAR10DataModule(r, num_workers=-1), ValueError, r"num_workers=-1\): expected None or an int >= 0"),
        (
            lambda r: CIFAR10DataModule(r, download="yes"),
            ValueError,
            r"CIFAR10DataModule\(download='yes'\): expected True or False",
        ),
        (lambda r: CelebADataModule(r, split="val"), ValueError, r"split='val'; expected one of \['train', "),
        (lambda r: CelebADataModule(r, pin_memory="auto"), TypeError, r"pin_memory='auto'"),
        (lambda r: ImageFolderDataModule(r, channels=4), ValueError, r"channels=4; expected 3 \(RGB\) or 1"),
        (lambda r: ImageFolderDataModule(r, size=0), ValueError, r"ImageFolderDataModule\(size=0\)"),
        (lambda r: ImageFolderDataModule(None), TypeError, r"root=None; expected a folder path"),
        (lambda r: MNISTDataModule(42), TypeError, r"MNISTDataModule: root=42; expected a folder path"),
        (
            lambda r: CIFAR10DataModule(r, on_device=True, num_workers=2),
            ValueError,
            r"on_device=True with num_workers=2",
        ),
        (
            lambda r: MNISTDataModule(r, on_device="yes"),
            ValueError,
            r"MNISTDataModule\(on_device='yes'\): expected True or False",
        ),
    ],
)
def test_bad_arguments_name_the_value(tmp_path, make, error, match):
    with pytest.raises(error, match=match):
        make(tmp_path)


# ---------------------------------------------------------------------------------------------
# Missing files and failed downloads

MISSING = [
    (MNISTDataModule, ("MNIST", "raw"), "train-images-idx3-ubyte"),
    (FashionMNISTDataModule, ("FashionMNIST", "raw"), "train-labels-idx1-ubyte"),
    (CIFAR10DataModule, ("cifar-10-batches-py",), "data_batch_1"),
    (CelebADataModule, ("celeba",), "list_eval_partition.txt"),
]


@pytest.mark.parametrize(("cls", "folder", "file"), MISSING)
def test_missing_files_without_download_give_a_clear_error(tmp_path, cls, folder, file):
    dm = cls(tmp_path, download=False, batch_size=2)
    for step in (dm.prepare_data, dm.setup):  # setup checks too: prepare_data runs on one process only
        with pytest.raises(FileNotFoundError) as info:
            step()
        message = str(info.value)
        assert str(tmp_path.joinpath(*folder)) in message and file in message
        assert "download=True" in message or "prepare_data()" in message


@pytest.mark.parametrize(("cls", "folder", "file"), MISSING)
def test_a_failed_download_gives_the_clear_error_with_the_cause_chained(tmp_path, monkeypatch, cls, folder, file):
    def offline(self):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(DOWNLOADERS[cls], "download", offline)
    dm = cls(tmp_path, batch_size=2)
    with pytest.raises(FileNotFoundError) as info:
        dm.prepare_data()
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    message = str(info.value)
    assert str(tmp_path.joinpath(*folder)) in message and file in message
    assert "failed (URLError" in message and "download them yourself" in message


def test_only_missing_files_are_downloaded(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "download", lambda self: calls.append(self.root))
    write_cifar10(tmp_path, num_per_batch=2)
    CIFAR10DataModule(tmp_path, batch_size=2).prepare_data()
    assert calls == []


# ---------------------------------------------------------------------------------------------
# The batches fit GANModule


def test_dcgan_trains_on_fake_cifar10(tmp_path):
    write_cifar10(tmp_path / "data", num_per_batch=8)
    dm = CIFAR10DataModule(tmp_path / "data", batch_size=8)
    gan = GANModule(DCGANGenerator(8, dm.dims, width=8), DCGANDiscriminator(dm.dims, width=8), latent_dim=8)
    trainer(tmp_path, max_steps=3).fit(gan, datamodule=dm)
    assert gan.global_step == 3


def test_conditional_dcgan_trains_on_an_image_folder(tmp_path):
    write_image_folder(tmp_path / "data", classes=("a", "b", "c"), per_class=4, size=(20, 24))
    dm = ImageFolderDataModule(tmp_path / "data", size=16, batch_size=4, num_workers=0)
    c = dm.num_classes
    gan = GANModule(
        DCGANGenerator(8, dm.dims, width=8, num_classes=c),
        DCGANDiscriminator(dm.dims, width=8, num_classes=c),
        latent_dim=8,
        num_classes=c,
    )
    trainer(tmp_path, max_steps=2).fit(gan, datamodule=dm)
    assert gan.global_step == 2 and c == 3
