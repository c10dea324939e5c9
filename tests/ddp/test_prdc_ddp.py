"""Precision/recall/density/coverage and the neighbour picture on 2 DDP processes (gloo, CPU, torchrun):
exactly the asked-for generated images and every real image once, so the numbers equal one process's."""

from __future__ import annotations

import pytest
import torch

from lightning_gan.metrics import FeatureExtractor, PixelFeatures, fidelity_metrics, nearest_neighbours
from lightning_gan.metrics.features import dataset_features, generator_features
from lightning_gan.sampling import load_gan
from tests.ddp import prdc_worker as worker

pytestmark = pytest.mark.xdist_group("ddp")  # with test_ddp.py on one worker: they share one torchrun launch


@pytest.fixture(scope="module")
def launch(ddp_launch):
    out = ddp_launch / "prdc"  # tests/ddp/worker.py runs tests/ddp/prdc_worker.py's fit there
    return out, [torch.load(out / f"rank{r}.pt") for r in range(2)]


def test_two_processes_measure_exactly_the_asked_for_images_and_agree_with_one(launch):
    out, ranks = launch
    assert [r["counts"] for r in ranks] == [{"fake": worker.NUM_SAMPLES, "real": worker.REAL_IMAGES}] * 2
    assert ranks[0]["values"] == ranks[1]["values"]
    gan = load_gan(out / "last.ckpt")
    extractor = FeatureExtractor(worker.FirstPixels())
    fake = generator_features(
        lambda count, seed: gan.generate(count, seed=seed),
        extractor,
        worker.NUM_SAMPLES,
        batch_size=worker.METRIC_BATCH,
    )
    real = dataset_features(worker.real_images(), extractor, batch_size=worker.METRIC_BATCH)
    alone = fidelity_metrics(["pr", "dc"], fake, real)
    logged = {key.removeprefix("val/"): value for key, value in ranks[0]["values"].items() if "_best" not in key}
    assert logged == pytest.approx(alone, abs=1e-12), (logged, alone)
    assert 0 < alone["precision"] < 1 or 0 < alone["coverage"] < 1  # values that would move if an image were missing


def test_the_neighbour_picture_is_drawn_once_from_every_real_image(launch):
    out, ranks = launch
    assert len(ranks[0]["pictures"]) == 1 and ranks[1]["pictures"] == [] and ranks[1]["neighbours"] is None
    gan = load_gan(out / "last.ckpt")
    pixels = PixelFeatures()
    samples = gan.generate(worker.NEIGHBOUR_SAMPLES, seed=0)
    distances, indices = nearest_neighbours(pixels(samples), pixels(worker.real_images()), worker.K)
    assert torch.equal(ranks[0]["neighbours"]["indices"], indices)
    assert torch.allclose(ranks[0]["neighbours"]["distances"], distances, atol=1e-6)
