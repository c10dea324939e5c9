"""Reference statistics out (``write_statistics``, ``lightning-gan stats``) and in (``real_stats``,
``evaluate --real-stats``), in pytorch-fid's and clean-fid's ``.npz`` layout, with pytorch-fid's FID."""

from __future__ import annotations

import numpy as np
import pytest
from pytorch_fid.fid_score import calculate_frechet_distance, compute_statistics_of_path

from lightning_gan.evaluate import evaluate_folders, evaluate_main, write_statistics
from lightning_gan.metrics.frechet import frechet_distance_from_statistics
from lightning_gan.metrics.statistics import load_statistics, save_statistics
from tests.fake_data import write_image_folder
from tests.helpers import SmallExtractor

COUNT = 240  # more images than SmallExtractor's 196 feature dimensions: full-rank covariances


def _gaussian(rng: np.random.Generator, dims: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.normal(size=(dims, dims))
    return rng.normal(size=dims), a @ a.T / dims + 0.1 * np.eye(dims)


@pytest.mark.parametrize("dims", [2, 64, 256])
def test_fid_from_the_same_statistics_is_pytorch_fid_s(dims):
    rng = np.random.default_rng(dims)
    for _ in range(3):
        (mu_a, sigma_a), (mu_b, sigma_b) = _gaussian(rng, dims), _gaussian(rng, dims)
        ours = frechet_distance_from_statistics(mu_a, sigma_a, mu_b, sigma_b)
        assert ours == pytest.approx(calculate_frechet_distance(mu_a, sigma_a, mu_b, sigma_b), rel=1e-6)


def test_a_written_file_is_what_pytorch_fid_reads_and_a_pytorch_fid_file_is_read(tmp_path):
    mu, sigma = _gaussian(np.random.default_rng(0), 8)
    path = save_statistics(tmp_path / "ours.npz", mu.astype(np.float32), sigma, {"extractor": "x", "count": 3})
    read_mu, read_sigma = compute_statistics_of_path(str(path), None, 1, 8, "cpu")  # pytorch-fid's own loader
    assert read_mu.dtype == read_sigma.dtype == np.float64
    np.testing.assert_array_equal(read_mu, mu.astype(np.float32).astype(np.float64))
    np.testing.assert_array_equal(read_sigma, sigma)
    assert load_statistics(path).protocol == {"count": 3, "extractor": "x"}
    np.savez(tmp_path / "fid_stats_theirs.npz", mu=mu, sigma=sigma)  # pytorch-fid's fid_stats_cifar10_train.npz layout
    theirs = load_statistics(tmp_path / "fid_stats_theirs.npz")
    assert theirs.protocol is None and theirs.dims == 8 and np.array_equal(theirs.sigma, sigma)


def test_bad_statistics_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no statistics file .*missing.npz"):
        load_statistics(tmp_path / "missing.npz")
    np.savez(tmp_path / "means.npz", mean=np.zeros(3))
    with pytest.raises(ValueError, match=r"has the keys \['mean'\], not mu and sigma"):
        load_statistics(tmp_path / "means.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match=r"text.npz is not a .npz file"):
        load_statistics(tmp_path / "text.npz")
    np.savez(tmp_path / "shapes.npz", mu=np.zeros(3), sigma=np.zeros((3, 2)))
    with pytest.raises(
        ValueError, match=r"mu of shape \(3,\) and sigma of shape \(3, 2\); expected \(D,\) and \(D, D\)"
    ):
        load_statistics(tmp_path / "shapes.npz")
    with pytest.raises(ValueError, match=r"expected a .npz path"):
        save_statistics(tmp_path / "stats.npy", np.zeros(2), np.eye(2), {})


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("statistics")
    write_image_folder(root / "real", classes=(), per_class=COUNT, size=(16, 16), seed=0)
    write_image_folder(root / "fake", classes=(), per_class=COUNT, size=(16, 16), seed=1)
    return root


def test_fid_against_a_written_file_is_fid_against_the_images(folders, tmp_path):
    extractor = SmallExtractor()
    stats = write_statistics(
        tmp_path / "real.npz", real=folders / "real", feature_extractor=extractor, cache_dir=tmp_path
    )
    protocol = stats.protocol
    assert protocol["count"] == COUNT and protocol["dims"] == stats.dims == 196
    assert protocol["extractor"].startswith("SmallExtractor-") and protocol["torch_fidelity"] >= "0.4.0"
    assert protocol["real"]["folder"] == str((folders / "real").resolve()) and len(protocol["real"]["files"]) == 40
    common = dict(feature_extractor=extractor, cache_dir=tmp_path)
    from_images = evaluate_folders(folders / "real", folders / "fake", ["fid"], **common)["fid"]
    from_file = evaluate_folders(None, folders / "fake", ["fid"], real_stats=tmp_path / "real.npz", **common)["fid"]
    assert from_file == pytest.approx(from_images, rel=1e-9) and from_images > 0


def test_what_statistics_cannot_give_is_refused_before_any_compute(folders, tmp_path, capsys):
    mu, sigma = _gaussian(np.random.default_rng(0), 8)
    save_statistics(tmp_path / "eight.npz", mu, sigma, {"extractor": "inception-pt_inception-2015-12-05"})
    extractor = SmallExtractor()
    with pytest.raises(ValueError, match=r"kid compare\(s\) the real images' features, not only their mean and cov"):
        evaluate_folders(
            None, folders / "fake", ["fid", "kid"], real_stats=tmp_path / "eight.npz", feature_extractor=extractor
        )
    with pytest.raises(
        ValueError, match=r"eight.npz holds statistics of 8-d features, but the feature extractor .* 196-d"
    ):
        evaluate_folders(
            None, folders / "fake", ["fid"], real_stats=tmp_path / "eight.npz", feature_extractor=extractor
        )
    assert extractor.images_seen == 1  # one probe image, not the set
    with pytest.raises(ValueError, match=r"not both"):
        evaluate_folders(folders / "real", folders / "fake", ["fid"], real_stats=tmp_path / "eight.npz")
    for argv, message in [
        (["--fake", "x", "--real-stats", "s.npz", "--metrics", "fid,pr"], r"--metrics 'fid,pr' with --real-stats: pr"),
        (["--fake", "x", "--real", "r", "--real-stats", "s.npz"], r"--real DIR or --real-stats FILE.npz, not both"),
    ]:
        with pytest.raises(SystemExit):
            evaluate_main(argv)
        assert message.replace("\\", "") in capsys.readouterr().err
