"""Run inside tests/ddp/worker.py's torchrun launch (gloo, CPU) for tests/ddp/test_prdc_ddp.py; writes ``rank{r}.pt`` to OUT.

A DCGAN trained for 2 iterations with ``FidelityMetrics("pr,dc")`` over 63 real images (a distributed
sampler would pad them to 64) and 25 generated ones (not a multiple of the process count or of the
metric batch), and a ``NearestNeighbours`` callback in pixel space. Rank zero also writes the
checkpoint, from which the test recomputes everything on one process.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import torch

from lightning_gan import GANModule
from lightning_gan.callbacks import FidelityMetrics, NearestNeighbours
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator

NUM_SAMPLES, REAL_IMAGES, BATCH, METRIC_BATCH = 25, 63, 8, 4
NEIGHBOUR_SAMPLES, K = 4, 2


class FirstPixels(torch.nn.Module):
    """A metric network: the first 16 pixels of each image."""

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return images.flatten(1)[:, :16]


def real_images() -> torch.Tensor:
    return torch.rand(REAL_IMAGES, 1, 16, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1


class RealImages(L.LightningDataModule):
    def __init__(self) -> None:
        super().__init__()
        self.train_dataset = real_images()

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(self.train_dataset, batch_size=BATCH, drop_last=True)


def gan() -> GANModule:
    torch.manual_seed(7)  # the same weights on both ranks
    return GANModule(DCGANGenerator(8, (1, 16, 16), width=4), DCGANDiscriminator((1, 16, 16), width=4), latent_dim=8)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    metrics = FidelityMetrics(
        "pr,dc", NUM_SAMPLES, every_n_steps=None, batch_size=METRIC_BATCH, feature_extractor=FirstPixels(),
        cache_dir=out / "cache", progress=False,
    )  # fmt: skip
    neighbours = NearestNeighbours(NEIGHBOUR_SAMPLES, K, every_n_steps=1000, space="pixels", batch_size=METRIC_BATCH)
    model = gan()
    trainer = L.Trainer(
        max_steps=2, accelerator="cpu", strategy="ddp", devices=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=str(out),
        callbacks=[metrics, neighbours],
    )  # fmt: skip
    trainer.fit(model, RealImages())
    rank = trainer.global_rank
    trainer.save_checkpoint(out / "last.ckpt")  # written by rank zero
    last = neighbours.last
    torch.save(
        {
            "counts": metrics.counts,
            "values": metrics.last,
            "pictures": [str(p) for p in neighbours.paths],
            "neighbours": None if last is None else {"indices": last.indices, "distances": last.distances},
        },
        out / f"rank{rank}.pt",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
