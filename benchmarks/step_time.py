"""Milliseconds per generator iteration: GANModule under a Lightning Trainer vs a hand-written loop.

    python benchmarks/step_time.py [--cases toy_mlp dcgan32_b64 ...] [--iterations 60] [--repeats 3]

Same networks, same data (already on the device, whole batches by index), Adam 2e-4 betas
(0.5, 0.999), the non-saturating loss, one D step per G step, fp32. Runs alternate (hand, GAN,
hand, GAN, ...) in one process so drifts in machine speed hit both alike; each prints the median
ms per iteration after a warm-up. One JSON line per case: medians, the ratio GAN / hand (the
goal: <= 1.10 on the CPU for DCGAN-32, <= 1.5 for the overhead-bound toy MLP, <= 1.05 on a GPU),
and the peak GPU memory of each when on a GPU. CPU by default; the GPU when one is present.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler

from lightning_gan import GANModule
from lightning_gan.nets import (
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    ResNetDiscriminator,
    ResNetGenerator,
)

# name: (networks, sample shape, latent size, batch size)
CASES: dict[str, tuple[Callable[[], tuple[nn.Module, nn.Module]], tuple[int, ...], int, int]] = {
    "toy_mlp": (lambda: (MLPGenerator(2, 2), MLPDiscriminator(2)), (2,), 2, 256),
    "dcgan32_b64": (lambda: (DCGANGenerator(128, (3, 32, 32)), DCGANDiscriminator((3, 32, 32))), (3, 32, 32), 128, 64),
    "dcgan32_b128": (
        lambda: (DCGANGenerator(128, (3, 32, 32)), DCGANDiscriminator((3, 32, 32))),
        (3, 32, 32),
        128,
        128,
    ),
    "resnet32_b64": (
        lambda: (ResNetGenerator(128, (3, 32, 32)), ResNetDiscriminator((3, 32, 32))),
        (3, 32, 32),
        128,
        64,
    ),
}


class _Batches(Dataset):
    def __init__(self, data: torch.Tensor) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, indices: list[int]) -> torch.Tensor:
        return self.data[indices]


def _adam(params: Any) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def hand_written(case: str, device: torch.device, iterations: int, warmup: int) -> list[float]:
    """The loop a careful user writes: returns the time of each iteration after the warm-up, in ms."""
    make, shape, latent, batch = CASES[case]
    torch.manual_seed(0)
    generator, discriminator = (net.to(device) for net in make())
    g_opt, d_opt = _adam(generator.parameters()), _adam(discriminator.parameters())
    data = torch.randn(batch * 32, *shape, device=device).clamp(-1, 1)
    times = []
    for step in range(warmup + iterations):
        _sync(device)
        start = time.perf_counter()
        real = data[torch.randint(len(data), (batch,), device=device)]
        with torch.no_grad():
            fake = generator(torch.randn(batch, latent, device=device))
        d_loss = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake)).mean()
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        discriminator.requires_grad_(False)
        g_loss = F.softplus(-discriminator(generator(torch.randn(batch, latent, device=device)))).mean()
        g_opt.zero_grad(set_to_none=True)
        g_loss.backward()
        discriminator.requires_grad_(True)
        g_opt.step()
        _sync(device)
        if step >= warmup:
            times.append(1000 * (time.perf_counter() - start))
    return times


class _Clock(L.Callback):
    """Time from one iteration's start to the next one's: everything Lightning does per iteration counts."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.times, self._last = warmup, [], 0.0

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        _sync(trainer.strategy.root_device)
        now = time.perf_counter()
        if trainer.global_step > self.warmup:
            self.times.append(1000 * (now - self._last))
        self._last = now


def gan_module(case: str, device: torch.device, iterations: int, warmup: int) -> list[float]:
    """GANModule under a Lightning Trainer; the time of each iteration after the warm-up, in ms."""
    make, shape, latent, batch = CASES[case]
    torch.manual_seed(0)
    generator, discriminator = make()
    gan = GANModule(generator, discriminator, latent_dim=latent, g_optimizer=_adam, d_optimizer=_adam)
    data = torch.randn(batch * 32, *shape, device=device).clamp(-1, 1)
    loader = DataLoader(
        _Batches(data), batch_size=None, sampler=BatchSampler(RandomSampler(data), batch, drop_last=True)
    )
    clock = _Clock(warmup)
    trainer = L.Trainer(
        max_steps=warmup + iterations, accelerator=device.type, devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[clock], max_epochs=-1,
    )  # fmt: skip
    trainer.fit(gan, loader)
    return clock.times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    for case in args.cases:
        runs: dict[str, list[float]] = {"hand_ms": [], "gan_ms": []}
        peaks: dict[str, float] = {}
        for _ in range(args.repeats):
            for key, run in (("hand_ms", hand_written), ("gan_ms", gan_module)):
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                runs[key].append(statistics.median(run(case, device, args.iterations, args.warmup)))
                if device.type == "cuda":
                    peaks[key.replace("_ms", "_peak_mib")] = torch.cuda.max_memory_allocated(device) / 2**20
        medians = {key: statistics.median(values) for key, values in runs.items()}
        result = {
            "case": case,
            "device": torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else f"cpu x{torch.get_num_threads()}",
            **{key: round(value, 2) for key, value in medians.items()},
            "ratio_gan_to_hand": round(medians["gan_ms"] / medians["hand_ms"], 3),
            **{key: round(value, 1) for key, value in peaks.items()},
        }
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
