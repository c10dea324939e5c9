"""Run under ``torchrun --nproc_per_node 2`` (gloo, CPU) by tests/ddp/test_ddp.py; writes ``rank{r}.pt`` to OUT.

Several fits in one launch (starting processes is the slow part):
1. ``SplitNoiseGAN`` with plain ``strategy="ddp"``: its noise is the same global batch however many
   processes share it, so its weights can be compared with one process at twice the batch;
2. the plain ``GANModule`` (a DCGAN: batch norm) with a ``SampleGrid``: the noise each rank draws,
   the batch-norm statistics each keeps, and the grids each writes;
3. a DCGAN with ``FidelityMetrics`` over 63 real images (a distributed sampler would pad them to 64)
   and ``FID_SAMPLES`` generated ones: what each rank's metric network saw and what the metric counted;
4. exact resume with Lightning's distributed sampler, for a toy and an image data module: ``RESUME_TOTAL``
   iterations straight, and ``RESUME_STOP`` (mid-epoch) or 3 (an epoch's end) then resumed from
   ``last.ckpt`` to ``RESUME_TOTAL``;
5. ``nonfinite="skip"`` when only rank 1's loss is NaN, with a plain and with a fused optimizer;
6. regularizer state (a running mean of D's logits; LeCam's) when each rank trains on its own shard of the data;
7. ADA's p adjusted from each rank's own logits (``AdaptiveAugment.update`` in the launch's process group);
8. precision/recall, density/coverage and the neighbour picture (tests/ddp/prdc_worker.py, into OUT/prdc).
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger

from lightning_gan import GANModule
from lightning_gan.augment import AdaptiveAugment
from lightning_gan.callbacks import FidelityMetrics, SampleGrid
from lightning_gan.data import DigitsDataModule, GridDataModule
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from lightning_gan.regularizers import R1, LeCam
from tests.ddp import dump_stacks_before_the_timeout, prdc_worker
from tests.helpers import RealLogitEMA

STEPS = 6
BATCH = 8  # per process
FID_SAMPLES = 25  # not a multiple of the process count or of the metric batch
REAL_IMAGES = 63
NAN_AT = 3
RESUME_TOTAL, RESUME_STOP = 8, 4  # 3 iterations per epoch and process: the stop falls inside the second epoch


class SplitNoiseGAN(GANModule):
    """Each draw makes the whole global batch of noise from a counter-seeded generator; a rank keeps its slice."""

    draws = 0

    def sample_latent(self, num_samples: int) -> torch.Tensor:
        world, rank = self.trainer.world_size, self.trainer.global_rank
        generator = torch.Generator().manual_seed(1000 + self.draws)
        self.draws += 1
        full = torch.randn(num_samples * world, self.latent_dim, generator=generator)
        return full[rank * num_samples : (rank + 1) * num_samples]


class RecordingGAN(GANModule):
    """Keeps the latents it drew last (in the last generator step of training)."""

    last_latents: torch.Tensor | None = None

    def sample_latent(self, num_samples: int) -> torch.Tensor:
        self.last_latents = super().sample_latent(num_samples)
        return self.last_latents


class RankOneNaNGAN(GANModule):
    """Rank 1's discriminator loss is NaN at iteration ``NAN_AT``; rank 0's is finite."""

    def discriminator_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        loss = super().discriminator_loss(real_logits, fake_logits)
        return loss * float("nan") if self.trainer.global_rank == 1 and self.global_step == NAN_AT else loss


def data() -> torch.utils.data.TensorDataset:
    return torch.utils.data.TensorDataset(torch.randn(256, 2, generator=torch.Generator().manual_seed(0)) * 2 + 1)


def loader(batch_size: int, rank: int = 0, world_size: int = 1) -> torch.utils.data.DataLoader:
    """Plain tensors per batch, in order: one process at 2B sees what ranks 0 and 1 at B see together
    (Lightning's own distributed sampler always shuffles training data, so the ranks shard by hand)."""
    dataset = data().tensors[0]
    sampler = torch.utils.data.DistributedSampler(dataset, world_size, rank, shuffle=False)
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True)


class Recorder(torch.nn.Module):
    """A metric network that keeps every batch of features it computes (the first 16 pixels)."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[torch.Tensor] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.batches.append(images.flatten(1)[:, :16].clone())
        return self.batches[-1]


class RealImages(L.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        self.train_dataset = torch.rand(REAL_IMAGES, 1, 16, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(self.train_dataset, batch_size=BATCH, drop_last=True)


class BatchRecordingGAN(GANModule):
    """Keeps every real batch it trains on."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.real_batches: list[torch.Tensor] = []

    def on_before_batch_transfer(self, batch, dataloader_idx):
        self.real_batches.append((batch[0] if isinstance(batch, (tuple, list)) else batch).clone())
        return batch


def grid_resume_setup() -> tuple[GANModule, L.LightningDataModule]:
    gan = BatchRecordingGAN(*networks(), latent_dim=2, d_steps=2, d_regularizers=[R1(0.5)], ema_decay=0.9)
    return gan, GridDataModule(batch_size=8, num_samples=96)  # 12 batches: 6 per process, 3 iterations


def digits_resume_setup() -> tuple[GANModule, L.LightningDataModule]:
    gan = BatchRecordingGAN(
        DCGANGenerator(8, (1, 8, 8), width=2), DCGANDiscriminator((1, 8, 8), width=2), latent_dim=8, d_steps=2
    )
    # 7 batches per process (899 images): 3 iterations; a worker process, as image data sets have
    return gan, DigitsDataModule(size=8, batch_size=128, num_workers=1)


def resume_runs(out: Path, setup, stop: int = RESUME_STOP, every_step: bool = True) -> dict:
    """The module state and the real batches of a straight run and of one stopped after ``stop``
    iterations and resumed, from a checkpoint written every step or (Lightning's default) at each epoch's end."""

    def run(root: Path, max_steps: int, ckpt_path: Path | None = None, save: bool = False) -> GANModule:
        L.seed_everything(0, verbose=False)
        gan, data = setup()
        checkpoint = ModelCheckpoint(dirpath=root, save_last=True, every_n_train_steps=1 if every_step else None)
        trainer(
            root, strategy="ddp", devices=2, max_steps=max_steps, enable_checkpointing=save,
            callbacks=[checkpoint] if save else [],
        ).fit(gan, data, ckpt_path=ckpt_path)  # fmt: skip
        return gan

    straight = run(out / "straight", RESUME_TOTAL)
    first = run(out / "first", stop, save=True)
    resumed = run(out / "resumed", RESUME_TOTAL, ckpt_path=out / "first" / "last.ckpt")
    return {
        "global_step": [straight.global_step, resumed.global_step],
        "state": [{k: v.clone() for k, v in gan.state_dict().items()} for gan in (straight, resumed)],
        "optimizers": [[o.state_dict()["state"] for o in gan.trainer.optimizers] for gan in (straight, resumed)],
        "batches": [straight.real_batches, first.real_batches, resumed.real_batches],
    }


def networks(seed: int = 0) -> tuple[MLPGenerator, MLPDiscriminator]:
    torch.manual_seed(seed)
    return MLPGenerator(2, 2, hidden_dim=16, num_layers=2), MLPDiscriminator(2, hidden_dim=16, num_layers=2)


def split_noise_gan() -> SplitNoiseGAN:
    return SplitNoiseGAN(*networks(), latent_dim=2, d_regularizers=[R1(0.5)], ema_decay=0.9)


def trainer(root: Path, **kwargs) -> L.Trainer:
    options = {
        "max_steps": STEPS, "accelerator": "cpu", "logger": False, "enable_checkpointing": False,
        "enable_progress_bar": False, "enable_model_summary": False, "default_root_dir": str(root),
    }  # fmt: skip
    options.update(kwargs)
    return L.Trainer(**options)


def flat(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def adaptive_augment_across_ranks(rank: int) -> dict:
    """Two ``update`` calls of 8 logits a rank: rank 0's all positive (alone: r_t = 1, p up), rank 1's
    6 of 8 (alone: r_t = 0.5 against target 0.6, p down); together r_t = 0.75 and p moves up."""
    if not torch.distributed.is_initialized():  # Lightning's fits may leave theirs up or tear it down
        torch.distributed.init_process_group("gloo")
    augment = AdaptiveAugment(target=0.6, interval=2, speed_kimg=0.128, p=0.5)
    positive = 8 if rank == 0 else 6
    for _ in range(2):
        logits = torch.cat([torch.rand(positive) + 0.1, -torch.rand(8 - positive) - 0.1])
        report = augment.update(logits)
    return {"p": augment._p.clone(), "r_t": report["train/r_t"], "count": augment._count.clone()}


def main(out: Path) -> None:
    dump_stacks_before_the_timeout()
    gan = split_noise_gan()
    shard = loader(BATCH, int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]))
    trainer(out / "split", strategy="ddp", devices=2, use_distributed_sampler=False).fit(gan, shard)
    rank = gan.trainer.global_rank

    torch.manual_seed(7)  # the same seed on both ranks, as seed_everything would give
    recording = RecordingGAN(
        DCGANGenerator(8, (1, 16, 16), width=4), DCGANDiscriminator((1, 16, 16), width=4), latent_dim=8
    )
    grid = SampleGrid(num_samples=4, every_n_steps=3)
    images = torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    image_data = torch.utils.data.DataLoader(images, batch_size=BATCH, drop_last=True)
    trainer(out / "plain", strategy="ddp", devices=2, callbacks=[grid]).fit(recording, image_data)
    torch.manual_seed(7)
    measured = RecordingGAN(
        DCGANGenerator(8, (1, 16, 16), width=4), DCGANDiscriminator((1, 16, 16), width=4), latent_dim=8
    )
    recorder = Recorder()
    metrics = FidelityMetrics(
        "fid,kid", FID_SAMPLES, every_n_steps=None, batch_size=4, feature_extractor=recorder, kid_subset_size=10,
        kid_subsets=3, cache_dir=out / "cache", progress=False,
    )  # fmt: skip
    logger = CSVLogger(out, name="metrics_csv", version=0)  # Lightning's loggers write on rank zero only
    trainer(out / "metrics", strategy="ddp", devices=2, max_steps=2, callbacks=[metrics], logger=logger).fit(
        measured, RealImages()
    )
    nan_skips = {}
    for fused in (False, True):
        adam = functools.partial(torch.optim.Adam, lr=1e-3, fused=fused)
        nan_gan = RankOneNaNGAN(*networks(), latent_dim=2, nonfinite="skip", g_optimizer=adam, d_optimizer=adam)
        trainer(out / f"nan_{fused}", strategy="ddp", devices=2, use_distributed_sampler=False).fit(nan_gan, shard)
        nan_skips["fused" if fused else "plain"] = {
            "skipped": dict(nan_gan.skipped_steps),
            "discriminator": flat(nan_gan.discriminator),
            "generator": flat(nan_gan.generator),
        }
    stateful = GANModule(*networks(), latent_dim=2, d_regularizers=[RealLogitEMA(), LeCam(0.1, start=2)])
    trainer(out / "stateful", strategy="ddp", devices=2, use_distributed_sampler=False).fit(stateful, shard)
    resume = {
        "grid": resume_runs(out / "grid", grid_resume_setup),
        "digits": resume_runs(out / "digits", digits_resume_setup),
        # 3 iterations an epoch: the checkpoint written at the first epoch's end
        "grid_epoch_end": resume_runs(out / "grid_epoch_end", grid_resume_setup, stop=3, every_step=False),
        "digits_epoch_end": resume_runs(out / "digits_epoch_end", digits_resume_setup, stop=3, every_step=False),
    }
    torch.save(
        {
            "resume": resume,
            "adaptive_augment": adaptive_augment_across_ranks(rank),
            "nan_skips": nan_skips,
            "regularizer_state": stateful.d_regularizers[0].ema.clone(),
            "lecam_state": torch.stack([stateful.d_regularizers[1].ema_real, stateful.d_regularizers[1].ema_fake]),
            "own_shard_logit": stateful.discriminator(next(iter(shard))).mean().detach(),  # differs per rank
            "fid_counts": metrics.counts,
            "metrics_csv": (out / "metrics_csv" / "version_0" / "metrics.csv").read_text() if rank == 0 else "",
            "fid_values": metrics.last,
            "fid_batches": recorder.batches,  # the dry run, the real share, the generated share
            "real_images": RealImages().train_dataset.flatten(1)[:, :16],
            "world_size": gan.trainer.world_size,
            "global_step": gan.trainer.global_step,
            "generator": flat(gan.generator),
            "discriminator": flat(gan.discriminator),
            "generator_ema": flat(gan.generator_ema),
            "last_latents": recording.last_latents,
            "dcgan_generator": flat(recording.generator),
            "dcgan_buffers": torch.cat([b.flatten() for b in recording.generator.buffers() if b.is_floating_point()]),
            "grids_written": [str(p) for p in grid.paths],
        },
        out / f"rank{rank}.pt",
    )
    prdc_worker.main(out / "prdc")  # precision/recall/density/coverage and the neighbour picture


if __name__ == "__main__":
    main(Path(sys.argv[1]))
