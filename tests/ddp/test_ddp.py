"""Data parallelism on 2 CPU processes (gloo), launched the way users launch: torchrun."""

import csv
import io
from pathlib import Path

import pytest
import torch

from tests.ddp import worker
from tests.helpers import trainer

pytestmark = pytest.mark.xdist_group("ddp")  # one worker runs the module: its module fixtures run once

RECIPES = Path(__file__).parents[2] / "recipes"


@pytest.fixture(scope="module")
def ranks(ddp_launch) -> list[dict]:
    return [torch.load(ddp_launch / f"rank{r}.pt") for r in range(2)]


def test_plain_ddp_trains_a_gan_with_both_networks_in_one_wrapper(ranks):
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert [r["global_step"] for r in ranks] == [worker.STEPS, worker.STEPS]


def test_weights_are_identical_on_every_rank(ranks):
    for name in ("generator", "discriminator", "generator_ema", "dcgan_generator", "dcgan_buffers"):
        assert torch.equal(ranks[0][name], ranks[1][name]), name


def test_two_processes_at_batch_b_match_one_process_at_batch_2b(ranks, tmp_path):
    gan = worker.split_noise_gan()
    trainer(tmp_path, max_steps=worker.STEPS).fit(gan, worker.loader(2 * worker.BATCH))
    for name in ("generator", "discriminator", "generator_ema"):
        single = worker.flat(getattr(gan, name))
        torch.testing.assert_close(ranks[0][name], single, rtol=1e-4, atol=1e-5, msg=name)


def test_each_rank_draws_different_noise(ranks):
    latents = [r["last_latents"] for r in ranks]
    assert latents[0].shape == latents[1].shape and not torch.allclose(latents[0], latents[1])


def test_images_are_written_once(ranks):
    assert len(ranks[0]["grids_written"]) == 2  # steps 3 and 6
    assert ranks[1]["grids_written"] == []


def test_metrics_are_logged_once(ranks):
    rows = [row for row in csv.DictReader(io.StringIO(ranks[0]["metrics_csv"])) if row.get("val/fid")]
    assert [row["step"] for row in rows] == ["2"]  # the end of a 2-iteration fit, one row


def test_metrics_count_exactly_the_asked_for_images_across_ranks(ranks):
    for rank in ranks:
        assert rank["fid_counts"] == {"fake": worker.FID_SAMPLES, "real": worker.REAL_IMAGES}
    assert ranks[0]["fid_values"] == ranks[1]["fid_values"]  # every rank computed it from the same gathered features
    dry_run = [r["fid_batches"][0] for r in ranks]
    assert [len(b) for b in dry_run] == [2, 2]
    shares = [torch.cat(r["fid_batches"][1:]) for r in ranks]
    # rank r measures the real batches r, r + 2, ... (4 images each): 32 + 31 real images, then its generated share
    real = [shares[0][:32], shares[1][:31]]
    together = torch.cat(real)
    assert len(torch.unique(together, dim=0)) == worker.REAL_IMAGES  # every real image once, none twice
    assert (_distances(ranks[0]["real_images"], together).min(1).values == 0).all()
    fake = [shares[0][32:], shares[1][31:]]
    assert len(fake[0]) + len(fake[1]) == worker.FID_SAMPLES
    assert (_distances(fake[0], fake[1]) > 0).all()  # no image twice: different noise on each rank


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")  # exact zeros for equal rows


# a batch sampler over the points; batches of images; each from a checkpoint mid-epoch and at an epoch's end
@pytest.mark.parametrize("data", ["grid", "digits", "grid_epoch_end", "digits_epoch_end"])
def test_a_run_resumed_under_ddp_continues_exactly(ranks, data):
    for rank in ranks:
        result = rank["resume"][data]
        assert result["global_step"] == [worker.RESUME_TOTAL, worker.RESUME_TOTAL]
        straight_batches, first_batches, resumed_batches = result["batches"]
        assert len(resumed_batches) == len(straight_batches) - len(first_batches)
        for straight, resumed in zip(straight_batches[len(first_batches) :], resumed_batches):
            assert torch.equal(straight, resumed)  # the rest of the interrupted epoch, then the next ones
        straight, resumed = result["state"]
        assert straight.keys() == resumed.keys()
        for name in straight:  # weights, EMA weights, batch-norm statistics: bitwise (gloo sums 2 ranks in order)
            assert torch.equal(straight[name], resumed[name]), name
        for opt_straight, opt_resumed in zip(*result["optimizers"]):
            for key, state in opt_straight.items():
                for field, value in state.items():
                    assert torch.equal(value, opt_resumed[key][field]), (key, field)


def test_the_processes_share_each_epoch_of_the_data_without_overlap(ranks):
    data = worker.grid_resume_setup()[1]
    data.setup()
    per_epoch = 6  # batches per process and epoch
    straight = [rank["resume"]["grid"]["batches"][0] for rank in ranks]
    for start in range(0, len(straight[0]), per_epoch):
        seen = torch.cat([torch.cat(batches[start : start + per_epoch]) for batches in straight])
        assert len(torch.unique(seen, dim=0)) == len(seen)  # no point on both processes, or twice on one
        if start + per_epoch <= len(straight[0]):  # a whole epoch: every point once
            assert len(seen) == len(data.train_data)
            assert torch.equal(torch.unique(seen, dim=0), torch.unique(data.train_data, dim=0))


@pytest.mark.parametrize("optimizer", ["plain", "fused"])
def test_a_nan_loss_on_one_rank_skips_that_update_on_every_rank(ranks, optimizer):
    # plain: the host check's all-reduce; fused: the flag all-reduced on the device, skipped in the kernel
    runs = [r["nan_skips"][optimizer] for r in ranks]
    assert [run["skipped"] for run in runs] == [{"discriminator": 1, "generator": 0}] * 2
    for name in ("discriminator", "generator"):
        assert torch.isfinite(runs[0][name]).all() and torch.equal(runs[0][name], runs[1][name]), name


def test_regularizer_state_is_identical_on_every_rank(ranks):
    # each rank trains on its own shard, so its own logits differ; the state is their all-reduced running mean
    assert ranks[0]["own_shard_logit"] != ranks[1]["own_shard_logit"]
    assert ranks[0]["regularizer_state"] != 0 and torch.equal(
        ranks[0]["regularizer_state"], ranks[1]["regularizer_state"]
    )
    assert (ranks[0]["lecam_state"] != 0).all() and torch.equal(ranks[0]["lecam_state"], ranks[1]["lecam_state"])


def test_adaptive_augment_gets_the_same_p_on_every_rank_from_all_their_logits(ranks):
    # 2 calls x 2 ranks x 8 images = 32 against speed_kimg 0.128: one step of 0.25, upwards from 0.5
    results = [rank["adaptive_augment"] for rank in ranks]
    for result in results:
        assert result["p"].item() == 0.75 and result["r_t"].item() == 0.75 and result["count"].item() == 0
    assert torch.equal(results[0]["p"].view(torch.int32), results[1]["p"].view(torch.int32))


def test_sharding_strategies_are_refused_with_a_clear_error():
    from types import SimpleNamespace

    from lightning.pytorch.strategies import FSDPStrategy

    from lightning_gan._parallel import DataParallel

    fake_trainer = SimpleNamespace(world_size=2, global_rank=0, strategy=FSDPStrategy())
    with pytest.raises(ValueError, match="one device or with a DDP strategy.*FSDPStrategy on 2 processes"):
        DataParallel.setup(fake_trainer)
