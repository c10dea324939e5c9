"""Precision, recall, density and coverage: parity with the ``prdc`` package and torch-fidelity, the
properties that make them useful, chunked distances and their memory bound, and the error messages."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lightning_gan.compare import compare_runs, format_table
from lightning_gan.metrics import Features, fidelity_metrics, nearest_neighbours, precision_recall_density_coverage
from lightning_gan.metrics.neighbours import DEFAULT_CHUNK_SIZE
from lightning_gan.runs import Run


def clusters(count: int, modes: list[int], seed: int, dim: int = 8, dtype=torch.float64) -> torch.Tensor:
    """``count`` points around the given ones of 10 well-separated centres (spread 0.3, centres ~4 apart)."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(10, dim, generator=torch.Generator().manual_seed(123), dtype=dtype) * 3
    which = torch.tensor(modes)[torch.randint(len(modes), (count,), generator=generator)]
    return centres[which] + 0.3 * torch.randn(count, dim, generator=generator, dtype=dtype)


def prdc_package(real: torch.Tensor, fake: torch.Tensor, k: int) -> dict[str, float]:
    from prdc import compute_prdc

    with contextlib.redirect_stdout(io.StringIO()):  # it prints the set sizes
        return {key: float(value) for key, value in compute_prdc(real.numpy(), fake.numpy(), k).items()}


@pytest.fixture(scope="module")
def sets():
    """Overlapping but different sets (float64, so every library computes the same distances)."""
    generator = torch.Generator().manual_seed(0)
    real = torch.randn(400, 16, generator=generator, dtype=torch.float64)
    fake = torch.randn(300, 16, generator=generator, dtype=torch.float64) * 1.3 + 0.3
    return real, fake


def test_all_four_equal_the_prdc_package(sets):
    real, fake = sets
    ours = precision_recall_density_coverage(fake, real, pr_k=3, dc_k=5)
    theirs_pr, theirs_dc = prdc_package(real, fake, 3), prdc_package(real, fake, 5)
    assert 0.1 < ours["precision"] < 0.9 and 0.1 < ours["coverage"] < 0.9  # a case where the numbers say something
    assert ours["precision"] == pytest.approx(theirs_pr["precision"], abs=1e-12)
    assert ours["recall"] == pytest.approx(theirs_pr["recall"], abs=1e-12)
    assert ours["density"] == pytest.approx(theirs_dc["density"], abs=1e-12)
    assert ours["coverage"] == pytest.approx(theirs_dc["coverage"], abs=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_precision_and_recall_equal_torch_fidelity(sets, dtype):
    from torch_fidelity.metric_prc import prc_features_to_metric

    real, fake = (x.to(dtype) for x in sets)
    ours = precision_recall_density_coverage(fake, real, metrics="pr", pr_k=3)
    theirs = prc_features_to_metric(fake, real, prc_neighborhood=3, verbose=False)  # generated first
    assert set(ours) == {"precision", "recall"}
    assert ours["precision"] == pytest.approx(theirs["precision"], abs=1e-6)
    assert ours["recall"] == pytest.approx(theirs["recall"], abs=1e-6)


def test_chunks_of_any_size_give_the_same_numbers(sets):
    real, fake = sets
    whole = precision_recall_density_coverage(fake, real, chunk_size=DEFAULT_CHUNK_SIZE)
    for chunk_size in (7, 128):  # blocks that do not divide the sets
        assert precision_recall_density_coverage(fake, real, chunk_size=chunk_size) == whole
    distances, indices = nearest_neighbours(fake, real, 4, chunk_size=3)  # k above the block width: merged
    expected = torch.cdist(fake, real).topk(4, dim=1, largest=False)
    assert torch.allclose(distances, expected.values) and torch.equal(indices, expected.indices)


def test_a_set_against_itself_is_perfect():
    real = clusters(500, list(range(10)), seed=1)
    values = precision_recall_density_coverage(real.clone(), real)
    assert values["precision"] == values["recall"] == values["coverage"] == 1.0


def test_dropping_half_the_modes_keeps_precision_and_loses_recall_and_coverage():
    real = clusters(1000, list(range(10)), seed=1)
    every_mode = precision_recall_density_coverage(clusters(1000, list(range(10)), seed=2), real)
    half = precision_recall_density_coverage(clusters(1000, [0, 1, 2, 3, 4], seed=2), real)
    assert every_mode["precision"] > 0.8 and half["precision"] > 0.8  # measured: 0.853 and 0.860
    assert abs(half["precision"] - every_mode["precision"]) < 0.03  # the samples of half the modes look as real
    assert every_mode["recall"] > 0.8 and every_mode["coverage"] > 0.9  # 0.857 and 0.983
    assert 0.35 < half["recall"] < 0.6 and 0.35 < half["coverage"] < 0.6  # 0.415 and 0.477: half the real set missed


def test_far_away_samples_score_zero():
    real = clusters(300, list(range(10)), seed=1)
    far = precision_recall_density_coverage(real + 100.0, real)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


def test_fidelity_metrics_gives_the_json_keys_with_the_asked_for_k(sets):
    real, fake = (Features(x.float()) for x in sets)
    values = fidelity_metrics(["dc", "fid", "pr"], fake, real, pr_k=4, dc_k=2)
    assert list(values) == ["density", "coverage", "fid", "precision", "recall"]  # as asked: the printed table
    direct = precision_recall_density_coverage(fake.features, real.features, pr_k=4, dc_k=2)
    assert {key: values[key] for key in direct} == direct
    assert values["recall"] != fidelity_metrics(["pr"], fake, real)["recall"]  # k matters (3 by default)


def test_bad_input_is_named(sets):
    real, fake = sets
    with pytest.raises(ValueError, match="'psnr'"):
        precision_recall_density_coverage(fake, real, metrics=["pr", "psnr"])
    with pytest.raises(ValueError, match="psnr"):
        fidelity_metrics(["dc", "psnr"], Features(fake), Features(real))
    with pytest.raises(ValueError, match="pr_k=0: expected an int >= 1"):
        precision_recall_density_coverage(fake, real, pr_k=0)
    with pytest.raises(ValueError, match="dc_k=2.5"):
        precision_recall_density_coverage(fake, real, dc_k=2.5)
    with pytest.raises(ValueError, match="k=3 needs at least 4 generated samples.*got 3"):
        precision_recall_density_coverage(fake[:3], real, metrics="pr")
    with pytest.raises(ValueError, match="density/coverage with k=5 needs at least 6 real samples.*got 5"):
        precision_recall_density_coverage(fake, real[:5], metrics="dc")
    assert precision_recall_density_coverage(fake[:3], real, metrics="dc")  # dc needs no neighbours among fakes
    with pytest.raises(ValueError, match=r"\(300, 16\) and real \(400, 8\)"):
        precision_recall_density_coverage(fake, real[:, :8])
    with pytest.raises(ValueError, match="chunk_size=0"):
        precision_recall_density_coverage(fake, real, chunk_size=0)
    with pytest.raises(ValueError, match="the reference set has 3 samples"):
        nearest_neighbours(fake, real[:3], 4)
    with pytest.raises(ValueError, match="pass the real features too"):
        fidelity_metrics(["pr"], Features(fake))


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux's resettable peak RSS")
def test_a_10000_by_10000_evaluation_stays_within_the_stated_memory_bound():
    """The docstring's bound at the default chunk, chunk^2 * (itemsize + 2) + 2 * chunk * (D + 2) * itemsize
    bytes (98 MiB here; measured 83-86 MiB), against 381 MiB for the whole 10,000 x 10,000 matrix; 8 MiB are
    allowed for the O((N + M) k) buffers. Measured by the benchmark script in a fresh process, where
    every block of 1 MiB or more is its own mmap, so the peak resident memory follows the live tensors."""
    script = Path(__file__).parents[2] / "benchmarks" / "prdc_memory.py"
    command = [sys.executable, str(script), "--which", "ours", "--num", "10000", "--dim", "64"]
    result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    assert result["chunk_size"] == DEFAULT_CHUNK_SIZE and result["bound_mib"] == pytest.approx(98.1, abs=0.1)
    assert result["peak_mib"] < result["bound_mib"] + 8 < result["full_matrix_mib"], result
    assert 0.4 < result["values"]["precision"] < 0.7 and 0.9 < result["values"]["coverage"] <= 1  # one Gaussian


def test_compare_takes_the_highest_precision_recall_density_and_coverage():
    history = {f"val/{name}": [(1, 0.2), (2, 0.6), (3, 0.5)] for name in ("precision", "recall", "density", "coverage")}
    run = Run("r", {}, history, "csv")
    for name in history:
        comparison = compare_runs([run], name)
        assert comparison.best == [(2, 0.6)] and comparison.last == [(3, 0.5)]
        assert f"{name} best (max)" in format_table(comparison)


def test_the_numbers_do_not_depend_on_the_order_of_the_samples(sets):
    real, fake = sets
    order = np.random.default_rng(0)
    shuffled = precision_recall_density_coverage(
        fake[torch.from_numpy(order.permutation(len(fake)))], real[torch.from_numpy(order.permutation(len(real)))]
    )
    assert shuffled == pytest.approx(precision_recall_density_coverage(fake, real), abs=1e-12)
