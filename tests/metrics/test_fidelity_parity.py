"""FID / IS / KID against torch-fidelity itself, on the same images and the same InceptionV3 weights.

No download: the weights are torch-fidelity's InceptionV3 at random initialisation with batch-norm
statistics estimated on images (``random_inception_weights``), written by the test, so the
features are not degenerate. The image sets are small (InceptionV3 at 299 px is slow on a CPU).
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from lightning_gan.evaluate import evaluate_main, format_table
from lightning_gan.metrics import random_inception_weights
from lightning_gan.metrics.features import Features, ImageFolder, RealFeatureCache
from lightning_gan.metrics.fidelity import fidelity_metrics
from lightning_gan.metrics.inception import InceptionV3, extractor_fingerprint

pytestmark = pytest.mark.xdist_group("inception")  # one worker runs the module: its module fixtures run once

COUNT = 12  # images per set (InceptionV3 runs at about 2 images/s on one CPU thread)
KID_SUBSET = 10


def _digits(start: int, count: int) -> torch.Tensor:
    """Digits at 32 px in [-1, 1], 3 channels (a different tint per channel, so colour matters)."""
    from sklearn.datasets import load_digits

    images = torch.tensor(load_digits().images[start : start + count], dtype=torch.float32)[:, None] / 16
    images = F.interpolate(images, size=(32, 32), mode="bilinear", align_corners=False)
    return (images * torch.tensor([1.0, 0.8, 0.6]).view(1, 3, 1, 1)).clamp(0, 1) * 2 - 1


def _write(images: torch.Tensor, folder) -> None:
    folder.mkdir()
    pixels = ((images.clamp(-1, 1) + 1) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for i, array in enumerate(pixels):
        Image.fromarray(array).save(folder / f"{i:03d}.png")


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("fidelity")
    real = _digits(0, COUNT)
    noise = torch.randn(COUNT, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 0.3
    fake = (_digits(COUNT, COUNT) + noise).clamp(-1, 1)
    _write(real, root / "real")
    _write(fake, root / "fake")
    weights = random_inception_weights(root / "inception.pth", torch.cat([real[:4], fake[:4]]))
    return {"root": root, "real": root / "real", "fake": root / "fake", "weights": weights}


@pytest.fixture(scope="module")
def ours(sets):
    """``lightning-gan evaluate --real DIR --fake DIR`` with the test's weights, as a user runs it."""
    out = sets["root"] / "out" / "metrics.json"
    args = ["--real", str(sets["real"]), "--fake", str(sets["fake"]), "--metrics", "fid,is,kid,pr,dc"]
    args += ["--json", str(out), "--weights", str(sets["weights"]), "--kid-subset-size", str(KID_SUBSET)]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        returned = evaluate_main([*args, "--cache-dir", str(sets["root"] / "cache"), "--device", "cpu"])
    return {"json": json.loads(out.read_text()), "returned": returned, "printed": printed.getvalue()}


@pytest.mark.slow
def test_fid_is_and_kid_match_torch_fidelity(sets, ours):
    import torch_fidelity

    ours = ours["json"]

    theirs = torch_fidelity.calculate_metrics(
        input1=str(sets["fake"]),
        input2=str(sets["real"]),
        cuda=False,
        fid=True,
        isc=True,
        kid=True,
        kid_subset_size=KID_SUBSET,
        prc=True,  # on the same InceptionV3 pool features (its default for prc is VGG16, a download)
        feature_extractor="inception-v3-compat",
        feature_layer_prc="2048",
        feature_extractor_weights_path=str(sets["weights"]),
        cache=False,
        verbose=False,
    )
    assert ours["fid"] > 1  # two different sets: far from 0, so a relative tolerance means something
    assert ours["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-3)
    # the same subsets and splits (torch-fidelity's seeded draws): agreement far inside the sampling noise
    assert ours["kid_mean"] == pytest.approx(
        theirs["kernel_inception_distance_mean"], rel=1e-3, abs=1e-3 * ours["kid_std"]
    )
    assert ours["kid_std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-2)
    assert ours["is_mean"] == pytest.approx(theirs["inception_score_mean"], rel=1e-4)
    assert ours["is_std"] == pytest.approx(theirs["inception_score_std"], rel=1e-2, abs=1e-6)
    assert ours["precision"] == pytest.approx(theirs["precision"], abs=1e-6)
    assert ours["recall"] == pytest.approx(theirs["recall"], abs=1e-6)


@pytest.mark.slow
def test_the_command_prints_a_table_and_writes_the_asked_for_keys(ours):
    assert set(ours["json"]) == {"fid", "is_mean", "is_std", "kid_mean", "kid_std", "precision", "recall", "density",
                                 "coverage"}  # fmt: skip
    assert ours["json"] == pytest.approx(ours["returned"])
    lines = ours["printed"].splitlines()
    assert lines[0].split() == ["metric", "value"]
    printed = {line.split()[0]: float(line.split()[1]) for line in lines[2:]}
    assert printed == pytest.approx(ours["json"], rel=1e-5)  # six significant digits
    assert ours["printed"].strip() == format_table(ours["json"])


@pytest.mark.slow
def test_identical_sets_give_fid_zero_and_blur_raises_it(sets, ours):
    net = InceptionV3(sets["weights"])
    real_set = ImageFolder(sets["real"])
    cache = RealFeatureCache(sets["root"] / "cache")  # filled by the command: no second pass over the real set
    real = cache.get({**real_set.identity(), "extractor": extractor_fingerprint(net)}, _must_not_run)
    same = fidelity_metrics(["fid"], real, real)["fid"]
    assert abs(same) < 1e-6 * ours["json"]["fid"], same
    # a third of the real set as it is and blurred: blurred, it lies further from the real set
    part = COUNT // 3
    sharp = torch.stack([real_set[i] for i in range(part)])
    blurred = F.avg_pool2d(sharp, 5, stride=1, padding=2, count_include_pad=False)
    as_is = fidelity_metrics(["fid"], Features(real.features[:part]), real)["fid"]
    blurry = fidelity_metrics(["fid"], Features(net(blurred)[0]), real)["fid"]
    assert 0 < as_is < blurry, (as_is, blurry)


def _must_not_run():
    raise AssertionError("the real features should have come from the cache")


def test_generated_floats_are_measured_as_their_png_files(sets):
    """Measuring images in memory rounds as writing them to PNG does: no gap between the two paths."""
    from lightning_gan.metrics.inception import to_uint8

    images = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    folder = sets["root"] / "png"
    _write(images, folder)
    loaded = torch.stack([ImageFolder(folder)[i] for i in range(6)])
    assert torch.equal(to_uint8(loaded), to_uint8(images))


def test_missing_weights_file_and_bad_folders_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        InceptionV3(tmp_path / "nowhere.pth")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolder(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no images"):
        ImageFolder(tmp_path / "empty")


def test_the_weights_file_can_come_from_the_environment(sets, monkeypatch):
    monkeypatch.setenv("LIGHTNING_GAN_INCEPTION_WEIGHTS", str(sets["weights"]))
    assert InceptionV3().weights_name == InceptionV3(sets["weights"]).weights_name
    monkeypatch.setenv("LIGHTNING_GAN_INCEPTION_WEIGHTS", str(sets["root"] / "elsewhere.pth"))
    with pytest.raises(FileNotFoundError, match="elsewhere.pth"):
        InceptionV3()


def test_download_failure_says_how_to_pass_a_local_file(monkeypatch):
    monkeypatch.delenv("LIGHTNING_GAN_INCEPTION_WEIGHTS", raising=False)
    import torch_fidelity.feature_extractor_inceptionv3 as tf_inception

    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(tf_inception, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match="--weights FILE"):
        InceptionV3()


def test_evaluate_command_rejects_bad_arguments(tmp_path, capsys):
    for args, message in [
        (["--real", str(tmp_path)], "give --real DIR (or --real-stats FILE.npz) and --fake DIR"),
        (["--real", "a", "--fake", "b", "--metrics", "fid,psnr"], "psnr"),
        (["model.ckpt"], "--num-samples"),
        (["model.ckpt", "--fake", "b", "--num-samples", "10"], "not both"),
    ]:
        with pytest.raises(SystemExit):
            evaluate_main(args)
        assert message in capsys.readouterr().err


def test_metric_functions_on_known_distributions():
    from lightning_gan.metrics.fidelity import inception_score, kernel_inception_distance

    rng = np.random.default_rng(0)
    a, b = torch.tensor(rng.normal(size=(400, 8))), torch.tensor(rng.normal(size=(400, 8)))
    kid_same, _ = kernel_inception_distance(a, b, subsets=20, subset_size=100)
    kid_shifted, _ = kernel_inception_distance(a, b + 1, subsets=20, subset_size=100)
    assert abs(kid_same) < 0.02 < kid_shifted
    # a confident classifier spreading samples evenly over 10 classes scores close to 10; a constant one 1
    confident = torch.full((1000, 10), -20.0)
    confident[torch.arange(1000), torch.arange(1000) % 10] = 20.0
    assert inception_score(confident, splits=1)[0] == pytest.approx(10, rel=1e-3)
    assert inception_score(torch.zeros(1000, 10))[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="kid_subset_size|subset_size"):
        kernel_inception_distance(a[:50], b, subset_size=100)


def test_the_few_samples_path_of_the_frechet_distance_gives_the_same_number():
    from lightning_gan.metrics.frechet import frechet_distance, frechet_distance_from_statistics, gaussian_statistics

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(10, 64)), rng.normal(size=(15, 64)) * 1.2 + 0.3  # fewer samples than dimensions
    full = frechet_distance_from_statistics(*gaussian_statistics(a), *gaussian_statistics(b))
    assert frechet_distance(a, b) == pytest.approx(full, rel=1e-6)
    assert abs(frechet_distance(a, a)) < 1e-9


def test_stats_writes_the_real_set_s_statistics_and_evaluate_measures_fid_against_them(sets, capsys):
    """``lightning-gan stats --real DIR --out F.npz``, then ``evaluate --fake DIR --real-stats F.npz``."""
    from lightning_gan.evaluate import stats_main
    from lightning_gan.metrics.features import dataset_features
    from lightning_gan.metrics.frechet import frechet_distance_from_statistics
    from lightning_gan.metrics.statistics import load_statistics

    out, cache = sets["root"] / "stats" / "real.npz", str(sets["root"] / "cache")
    common = ["--weights", str(sets["weights"]), "--cache-dir", cache, "--device", "cpu"]
    stats_main(["--real", str(sets["real"]), "--out", str(out), *common])
    assert f"wrote {out}: mu (2048,), sigma (2048, 2048) of {COUNT} images, inception-" in capsys.readouterr().out
    stats = load_statistics(out)
    net = InceptionV3(sets["weights"])
    description = {**ImageFolder(sets["real"]).identity(), "extractor": extractor_fingerprint(net)}
    real = RealFeatureCache(cache).get(description, _must_not_run)
    np.testing.assert_array_equal(stats.mu, real.statistics[0])  # the cached features' statistics, float64
    assert stats.protocol["extractor"] == extractor_fingerprint(net) and stats.protocol["count"] == COUNT
    values = evaluate_main(["--fake", str(sets["fake"]), "--real-stats", str(out), *common])
    fake = dataset_features(ImageFolder(sets["fake"]), net)
    assert values == {"fid": frechet_distance_from_statistics(*fake.statistics, stats.mu, stats.sigma)}
    assert values["fid"] > 0 and "fid" in capsys.readouterr().out
