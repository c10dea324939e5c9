import pytest
import torch

from lightning_gan.data import DigitsDataModule


def test_digits_are_the_whole_bundled_set_resized_into_minus_one_one():
    dm = DigitsDataModule(size=16, batch_size=100)
    dm.setup("fit")
    assert dm.dims == (1, 16, 16) and dm.num_classes == 10
    assert dm.images.shape == (1797, 1, 16, 16) and dm.labels.shape == (1797,)
    assert dm.images.min() >= -1 and dm.images.max() <= 1
    assert dm.images.min() == -1 and dm.images.max() > 0.9  # background and ink both reached
    assert set(dm.labels.tolist()) == set(range(10))
    batches = list(dm.train_dataloader())
    assert len(batches) == 17 and batches[0][0].shape == (100, 1, 16, 16) and batches[0][1].shape == (100,)


def test_digits_at_native_size_are_the_raw_pixels():
    from sklearn.datasets import load_digits

    dm = DigitsDataModule(size=8)
    dm.setup()
    raw = torch.tensor(load_digits().images[0], dtype=torch.float32) / 16 * 2 - 1
    torch.testing.assert_close(dm.images[0, 0], raw)


def test_digits_reject_bad_sizes():
    with pytest.raises(ValueError, match=r"DigitsDataModule\(size=4\): expected an int >= 8"):
        DigitsDataModule(size=4)
