"""``classes=`` of DigitsDataModule and DigitsReference: training on, and judging against, some digits only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from jsonargparse import ArgumentParser

from lightning_gan.data import DigitsDataModule
from lightning_gan.metrics import DigitsReference
from lightning_gan.metrics.frechet import frechet_distance
from lightning_gan.nets._recordable import import_class

HIGH = [5, 6, 7, 8, 9]


@pytest.fixture(scope="module")
def full_digits() -> DigitsDataModule:
    dm = DigitsDataModule(size=8)
    dm.setup()
    return dm


@pytest.fixture(scope="module")
def high_reference() -> DigitsReference:
    return DigitsReference(size=8, classes=HIGH)


def digits(**kwargs) -> DigitsDataModule:
    dm = DigitsDataModule(size=8, batch_size=kwargs.pop("batch_size", 8), **kwargs)
    dm.setup()
    return dm


def test_classes_keep_those_digits_only_with_their_own_labels(full_digits):
    dm = digits(classes=[7, 2])
    keep = (full_digits.labels == 2) | (full_digits.labels == 7)
    assert dm.classes == [2, 7] and dm.num_classes == 10  # sorted; the label space stays the ten digits
    assert torch.equal(dm.images, full_digits.images[keep]) and torch.equal(dm.labels, full_digits.labels[keep])
    images, labels = next(iter(dm.train_dataloader()))
    assert set(labels.tolist()) <= {2, 7} and images.shape == (8, 1, 8, 8)


def test_the_subset_is_drawn_from_the_classes_the_same_share_of_each(full_digits):
    dm = digits(classes=HIGH, subset=50, subset_seed=1, batch_size=50)
    assert len(dm.train_dataset) == 50
    assert torch.bincount(dm.labels, minlength=10).tolist() == [0] * 5 + [10] * 5
    # the images are real digits of those classes, each once
    matches = (dm.images.flatten(1)[:, None] == full_digits.images.flatten(1)[None]).all(-1)
    assert (matches.sum(1) >= 1).all() and torch.isin(
        full_digits.labels[matches.float().argmax(1)], torch.tensor(HIGH)
    ).all()
    assert len({tuple(x.tolist()) for x in dm.images.flatten(1)}) == 50
    assert torch.equal(digits(classes=HIGH, subset=50, subset_seed=1, batch_size=50).images, dm.images)
    assert not torch.equal(digits(classes=HIGH, subset=50, subset_seed=2, batch_size=50).images, dm.images)


def test_a_subset_larger_than_the_classes_says_so(full_digits):
    count = int(torch.isin(full_digits.labels, torch.tensor([0, 1])).sum())  # 178 zeros and 182 ones
    with pytest.raises(
        ValueError, match=rf"subset=400 is more than the {count} images .*classes \[0, 1\]\); expected at most {count}"
    ):
        digits(classes=[0, 1], subset=400)


def test_classes_are_recorded_in_init_spec_and_rebuild_from_it():
    dm = digits(classes=HIGH, subset=20, batch_size=4)
    assert dm.init_spec["init_args"]["classes"] == HIGH
    spec = dm.init_spec
    rebuilt = import_class(spec["class_path"], "data module")(**spec["init_args"])
    rebuilt.setup()
    assert torch.equal(rebuilt.images, dm.images) and torch.equal(rebuilt.labels, dm.labels)
    assert digits().init_spec["init_args"]["classes"] is None


def test_the_command_line_reads_a_list_of_classes():
    parser = ArgumentParser()
    parser.add_class_arguments(DigitsDataModule, "data")
    dm = DigitsDataModule(**vars(parser.parse_args(["--data.classes", "[0,1,2,3,4]"]).data))
    dm.setup()
    assert dm.classes == [0, 1, 2, 3, 4] and set(dm.labels.tolist()) == {0, 1, 2, 3, 4}


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ([], r"classes=\[\]\): no classes"),
        ([3, 10], r"classes=\[3, 10\]\): 10 is not a digit class; expected ints in 0-9"),
        ([-1], r"classes=\[-1\]\): -1 is not a digit class"),
        ([5.0], r"classes=\[5.0\]\): 5.0 is not a digit class"),
        ([True], r"classes=\[True\]\): True is not a digit class"),
        (["5"], r"classes=\['5'\]\): '5' is not a digit class"),
        ([5, 6, 5], r"classes=\[5, 6, 5\]\): 5 given twice; expected each class once"),
        (5, r"classes=5\): expected None \(all ten digits\) or a list of digit classes"),
        ("56", r"classes='56'\): expected None"),
    ],
)
def test_bad_classes_are_named(classes, message):
    with pytest.raises(ValueError, match=r"DigitsDataModule\(" + message):
        DigitsDataModule(size=8, classes=classes)
    with pytest.raises(ValueError, match=r"DigitsReference\(" + message):
        DigitsReference(size=8, classes=classes)


def test_the_reference_without_classes_is_the_ten_class_one_as_before():
    # measured before classes= existed (the value tests/quality/test_image_quality.py quotes as 0.44)
    reference = DigitsReference(size=16)
    # measured here; another BLAS or thread count may move the last bits, not the sixth digit
    assert reference.real_frechet == pytest.approx(0.44119807561217783, rel=1e-6)
    assert reference.real_confidence == pytest.approx(0.9611753225326538, rel=1e-6)
    assert reference.real_accuracy == pytest.approx(0.9749582637729549, rel=1e-9)  # 584 of 599
    assert "outside_classes" not in reference.score(torch.zeros(4, 1, 16, 16))


def test_the_reference_of_some_classes_measures_on_their_digits(full_digits, high_reference):
    x, y = full_digits.images.flatten(1).numpy(), full_digits.labels.numpy()
    x_high = x[np.isin(y, HIGH)]
    # the PCA is fitted on those classes' digits alone, and real_frechet is between two halves of them
    assert high_reference.pca.n_samples_ == len(x_high) == 896  # 182 + 181 + 179 + 174 + 180 digits of 5-9
    np.testing.assert_allclose(high_reference.pca.mean_, x_high.mean(0), rtol=0, atol=1e-6)
    order = np.random.default_rng(0).permutation(len(x_high))
    half_a = high_reference.pca.transform(x_high[order[: len(x_high) // 2]])
    assert high_reference.real_frechet == pytest.approx(frechet_distance(half_a, high_reference._half_b), rel=1e-12)
    assert high_reference.real_frechet != pytest.approx(DigitsReference(size=8).real_frechet, rel=0.05)
    # the classifier is the ten-class one (the same as without classes) and its real numbers are on 5-9
    ten = DigitsReference(size=8)
    np.testing.assert_array_equal(high_reference.classifier.coef_, ten.classifier.coef_)
    assert high_reference.real_accuracy > 0.9 and high_reference.real_confidence != ten.real_confidence


def test_digits_of_other_classes_score_far_and_outside(full_digits, high_reference):
    images, labels = full_digits.images, full_digits.labels
    inside = high_reference.score(images[labels >= 5][:400])
    outside = high_reference.score(images[labels < 5][:400])
    assert len(inside["class_fractions"]) == len(outside["class_fractions"]) == 10
    assert sum(inside["class_fractions"][:5]) < 0.05 and sum(outside["class_fractions"][5:]) < 0.05
    assert inside["outside_classes"] < 0.05 and outside["outside_classes"] > 0.95
    # near real-vs-real on 5-9, many times it for digits 0-4; an unrestricted reference cannot tell them apart so far
    assert inside["frechet"] < 2 * high_reference.real_frechet
    assert outside["frechet"] > 10 * high_reference.real_frechet
