"""Milliseconds per generator iteration: GANModule (default and fast path) vs a hand-written loop.

    python benchmarks/step_time.py [--cases toy_mlp dcgan32_b64 ...] [--variants hand gan gan_fast]
                                   [--iterations 60] [--warmup 10] [--repeats 3] [--out results.json]

Same networks, same data (already on the device, whole batches by index), Adam 2e-4 betas
(0.5, 0.999), the non-saturating loss, one D step per G step, fp32 (TF32 matmuls on a GPU, as
torch's default for convolutions). Variants:

- ``hand``: the loop a careful user writes in plain PyTorch (foreach Adam, requires_grad toggled);
- ``gan``: ``GANModule`` under a Lightning ``Trainer``, default settings;
- ``gan_fast``: ``GANModule`` with the fast path (``recipes/overlays/fast.yaml``): fused Adam,
  ``channels_last``, ``compile=True``.

Runs alternate (hand, gan, gan_fast, hand, ...) in one process so drifts in machine speed hit all
alike; each run's figure is the median ms per iteration after the warm-up (which also absorbs
compilation), and each variant's figure the median over repeats. Peak memory per run: the CUDA
allocator's peak on a GPU, the growth of resident memory during the run on the CPU.

One JSON object per case (printed, and all of them written to ``--out``): the medians, the
ratios to ``hand`` (goals: ``gan`` <= 1.10 on the CPU for DCGAN-32, <= 1.5 for the overhead-bound
toy MLP, <= 1.05 on a GPU; ``gan_fast`` < 0.6 for DCGAN-32 at batch 128 on an H100), peak memory,
``compile_fallbacks`` (the fast path's warnings for a network that ran eagerly, with the reason;
empty when both ran compiled), and a loss-curve check of the fast path against the default path
from the same seed over ``--curve-iterations`` iterations. A GAN amplifies rounding differences (Adam turns the rounding
noise of near-zero gradients into full-size steps), so two curves that differ only in rounding
agree to ~1e-6 at first and drift apart by ~1e-2 within ten iterations. The check therefore
reports: ``curve_start_diff``, the difference of the first D loss (before any update: the
forward arithmetic alone, ~1e-6); ``curve_window_diff``, the largest difference between the mean D and G
losses over windows of ten iterations; and ``curve_window_floor``, the same between the default
path and the default path with only Adam swapped for its fused kernel (the same algorithm, other
rounding): the fast path trains the same game when its window difference is of the floor's size.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
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
    StyleGAN2Discriminator,
    StyleGAN2Generator,
)

IMAGE = (3, 32, 32)
DIGITS = (1, 16, 16)
STYLEGAN2_G = {
    "w_dim": 64, "mapping_layers": 2, "channel_base": 512, "channel_max": 64, "style_mixing_prob": 0.0, "output": "tanh",
}  # fmt: skip
STYLEGAN2_D = {"channel_base": 256, "channel_max": 32, "mbstd_group_size": 16}


def _stylegan2(shape: tuple[int, int, int]) -> tuple[nn.Module, nn.Module]:
    return StyleGAN2Generator(64, shape, **STYLEGAN2_G), StyleGAN2Discriminator(shape, **STYLEGAN2_D)


# name: (networks, sample shape, latent size, batch size)
CASES: dict[str, tuple[Callable[[], tuple[nn.Module, nn.Module]], tuple[int, ...], int, int]] = {
    "toy_mlp": (lambda: (MLPGenerator(2, 2), MLPDiscriminator(2)), (2,), 2, 256),
    "dcgan32_b64": (lambda: (DCGANGenerator(128, IMAGE), DCGANDiscriminator(IMAGE)), IMAGE, 128, 64),
    "dcgan32_b128": (lambda: (DCGANGenerator(128, IMAGE), DCGANDiscriminator(IMAGE)), IMAGE, 128, 128),
    # SNGAN's ResNet for 32 px (spectral norm in D), at the paper's batch size
    "snresnet32_b64": (lambda: (ResNetGenerator(128, IMAGE), ResNetDiscriminator(IMAGE)), IMAGE, 128, 64),
    # StyleGAN2 at CPU size (the networks of recipes/digits_stylegan2.yaml: latent and w 64, 2 mapping
    # layers, G min(512 // res, 64) and D min(256 // res, 32) channels), at 16 px on the digits' one
    # channel and at 32 px RGB; the plain game (no R1: the hand-written loop has none either)
    "stylegan2_16_b64": (lambda: _stylegan2(DIGITS), DIGITS, 64, 64),
    "stylegan2_32_b64": (lambda: _stylegan2(IMAGE), IMAGE, 64, 64),
}
VARIANTS = ("hand", "gan", "gan_fast")
FAST_PATH = {"channels_last": True, "compile": True}  # with fused Adam: recipes/overlays/fast.yaml


class Batches(Dataset):
    """Whole batches of ``data`` by index, where ``data`` lies (the loader makes no copies)."""

    def __init__(self, data: torch.Tensor) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, indices: list[int]) -> torch.Tensor:
        return self.data[indices]


def _adam(params: Any, fused: bool = False) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=2e-4, betas=(0.5, 0.999), fused=fused)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _data(case: str, device: torch.device) -> torch.Tensor:
    _, shape, _, batch = CASES[case]
    return torch.randn(batch * 32, *shape, device=device).clamp(-1, 1)


def hand_written(case: str, device: torch.device, iterations: int, warmup: int) -> list[float]:
    """The loop a careful user writes: the time of each iteration after the warm-up, in ms."""
    make, _, latent, batch = CASES[case]
    torch.manual_seed(0)
    generator, discriminator = (net.to(device) for net in make())
    g_opt, d_opt = _adam(generator.parameters()), _adam(discriminator.parameters())
    data = _data(case, device)
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


class IterationClock(L.Callback):
    """Time from one iteration's start to the next one's: everything Lightning does per iteration counts."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.times, self._last = warmup, [], 0.0

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        _sync(trainer.strategy.root_device)
        now = time.perf_counter()
        if trainer.global_step > self.warmup:
            self.times.append(1000 * (now - self._last))
        self._last = now


class _Losses(L.Callback):
    def __init__(self) -> None:
        self.losses: list[tuple[float, float]] = []

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        metrics = trainer.callback_metrics
        self.losses.append((float(metrics["train/d_loss"]), float(metrics["train/g_loss"])))


def _fit(
    case: str,
    device: torch.device,
    steps: int,
    fast: bool,
    callback: L.Callback,
    fused: bool = False,
    **trainer_args: Any,
) -> None:
    make, _, latent, batch = CASES[case]
    torch.manual_seed(0)
    generator, discriminator = make()
    adam = functools.partial(_adam, fused=fast or fused)
    gan = GANModule(
        generator, discriminator, latent_dim=latent, g_optimizer=adam, d_optimizer=adam, **(FAST_PATH if fast else {})
    )
    data = _data(case, device)
    loader = DataLoader(
        Batches(data), batch_size=None, sampler=BatchSampler(RandomSampler(data), batch, drop_last=True)
    )
    trainer = L.Trainer(
        max_steps=steps, accelerator=device.type, devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[callback], max_epochs=-1, **trainer_args,
    )  # fmt: skip
    trainer.fit(gan, loader)


def gan_module(case: str, device: torch.device, iterations: int, warmup: int, fast: bool = False) -> list[float]:
    """GANModule under a Lightning Trainer; the time of each iteration after the warm-up, in ms."""
    clock = IterationClock(warmup)
    _fit(case, device, warmup + iterations, fast, clock)
    return clock.times


def loss_curve(
    case: str, device: torch.device, iterations: int, fast: bool, fused: bool = False
) -> list[tuple[float, float]]:
    """(D loss, G loss) of each of the first ``iterations`` generator iterations from seed 0."""
    losses = _Losses()
    _fit(case, device, iterations, fast, losses, fused=fused, log_every_n_steps=1)
    return losses.losses


def _largest_difference(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    return max(abs(x - y) for pair_a, pair_b in zip(a, b) for x, y in zip(pair_a, pair_b))


def _window_means(losses: list[tuple[float, float]], window: int = 10) -> list[tuple[float, float]]:
    chunks = [losses[start : start + window] for start in range(0, len(losses) - window + 1, window)]
    return [(statistics.fmean(d for d, _ in chunk), statistics.fmean(g for _, g in chunk)) for chunk in chunks]


def curve_check(case: str, device: torch.device, iterations: int) -> dict[str, Any]:
    """The fast path's losses against the default path's (see the module docstring)."""
    default = loss_curve(case, device, iterations, fast=False)
    fast = loss_curve(case, device, iterations, fast=True)
    fused_only = loss_curve(case, device, iterations, fast=False, fused=True)
    return {
        "curve_iterations": iterations,
        "curve_start_diff": abs(default[0][0] - fast[0][0]),
        "curve_window_diff": round(_largest_difference(_window_means(default), _window_means(fast)), 4),
        "curve_window_floor": round(_largest_difference(_window_means(default), _window_means(fused_only)), 4),
    }


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_memory(device: torch.device) -> Iterator[dict[str, float]]:
    """Peak memory of the block in MiB: the CUDA allocator's peak, or on the CPU the growth of
    resident memory (sampled every 2 ms; Linux only, else no figure)."""
    result: dict[str, float] = {}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        yield result
        result["peak_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        return
    if not Path("/proc/self/statm").exists():
        yield result
        return
    start, peak, done = _rss_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], _rss_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result["peak_mib"] = max(0, max(peak[0], _rss_bytes()) - start) / 2**20


def run_case(case: str, device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[float]] = {variant: [] for variant in args.variants}
    peaks: dict[str, list[float]] = {variant: [] for variant in args.variants}
    fallbacks: set[str] = set()  # the fast path's compile warnings: a network that runs eagerly, and why
    for _ in range(args.repeats):
        for variant in args.variants:
            with peak_memory(device) as memory, warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if variant == "hand":
                    times = hand_written(case, device, args.iterations, args.warmup)
                else:
                    times = gan_module(case, device, args.iterations, args.warmup, fast=variant == "gan_fast")
            fallbacks.update(str(w.message) for w in caught if "torch.compile could not compile" in str(w.message))
            runs[variant].append(statistics.median(times))
            if "peak_mib" in memory:
                peaks[variant].append(memory["peak_mib"])
    medians = {variant: statistics.median(values) for variant, values in runs.items()}
    result: dict[str, Any] = {
        "case": case,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu x{torch.get_num_threads()}",
        "torch": torch.__version__,
        "iterations": args.iterations,
        "repeats": args.repeats,
        **{f"{variant}_ms": round(value, 2) for variant, value in medians.items()},
        **{f"{variant}_runs_ms": [round(value, 2) for value in values] for variant, values in runs.items()},
    }
    if "hand" in medians:
        for variant in medians.keys() - {"hand"}:
            result[f"ratio_{variant}_to_hand"] = round(medians[variant] / medians["hand"], 3)
    for variant, values in peaks.items():
        if values:
            result[f"{variant}_peak_mib"] = round(max(values), 1)
    if "gan_fast" in args.variants:
        result["compile_fallbacks"] = sorted(fallbacks)  # empty: both networks ran compiled
    if args.curve_iterations and "gan_fast" in args.variants:
        result.update(curve_check(case, device, args.curve_iterations))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--curve-iterations", type=int, default=40, help="0 skips the loss-curve check")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    results = []
    for case in args.cases:
        results.append(run_case(case, device, args))
        print(json.dumps(results[-1]), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
