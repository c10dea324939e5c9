"""Iteration time of GANModule's data parallelism against DDP's own reducer, on 2 CPU processes.

    torchrun --nproc_per_node 2 benchmarks/ddp_overhead.py [--iterations 150] [--repeats 3]

Both variants run the same GANModule under ``strategy="ddp"`` in the same processes, alternating:

- ``ours``: GANModule's mechanism: DDP's reducer switched off, one all-reduce of the stepped
  network's gradients before each optimizer step (``find_unused_parameters=False``);
- ``find_unused``: DDP's reducer with ``find_unused_parameters=True`` (the usual fix for the
  "parameters that were not used" crash), which walks the autograd graph on every backward.

Rank zero prints one JSON line per case with the median ms per generator iteration of each and
the ratio ours / find_unused (below 1: ours is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy

from lightning_gan import GANModule
from lightning_gan._parallel import DataParallel
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, MLPGenerator
from lightning_gan.regularizers import R1


class _Clock(L.Callback):
    """Wall time of the training iterations after the first ``warmup``."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.count = warmup, 0.0, 0

    def on_train_batch_start(self, trainer: L.Trainer, *args: Any) -> None:
        if trainer.global_step == self.warmup:
            torch.distributed.barrier()
            self.start = time.perf_counter()

    def on_train_end(self, trainer: L.Trainer, *args: Any) -> None:
        torch.distributed.barrier()
        self.count = trainer.global_step - self.warmup
        self.seconds = time.perf_counter() - self.start


@contextmanager
def _ddp_reducer_does_the_work():
    """GANModule with its own synchronization off: DDP's reducer averages the gradients instead."""
    saved = DataParallel.begin_iteration, DataParallel.average_gradients
    DataParallel.begin_iteration = lambda self: None  # type: ignore[method-assign]
    DataParallel.average_gradients = lambda self, optimizer: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        DataParallel.begin_iteration, DataParallel.average_gradients = saved


CASES = {
    # (networks, data shape, batch per process, d_steps, R1 gamma)
    "toy_mlp": (lambda: (MLPGenerator(2, 2), MLPDiscriminator(2)), (2,), 256, 2, 0.3),
    "dcgan32": (
        lambda: (DCGANGenerator(64, (3, 32, 32), width=32), DCGANDiscriminator((3, 32, 32), width=32)),
        (3, 32, 32),
        32,
        1,
        0.0,
    ),
}


def run(case: str, variant: str, iterations: int, warmup: int = 10) -> float:
    make_networks, shape, batch, d_steps, r1 = CASES[case]
    torch.manual_seed(0)
    generator, discriminator = make_networks()
    latent_dim = generator.latent_dim
    gan = GANModule(
        generator, discriminator, latent_dim=latent_dim, d_steps=d_steps, d_regularizers=[R1(r1)] if r1 else []
    )
    data = torch.randn(batch * d_steps * (iterations + warmup + 1), *shape).clamp(-1, 1)
    loader = torch.utils.data.DataLoader(data, batch_size=batch, drop_last=True)
    clock = _Clock(warmup)
    trainer = L.Trainer(
        max_steps=warmup + iterations, accelerator="cpu", devices=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=[clock],
        strategy=DDPStrategy(find_unused_parameters=variant == "find_unused"),
    )  # fmt: skip
    if variant == "find_unused":
        with _ddp_reducer_does_the_work():
            trainer.fit(gan, loader)
    else:
        trainer.fit(gan, loader)
    return 1000 * clock.seconds / clock.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="+", default=list(CASES))
    args = parser.parse_args()
    torch.set_num_threads(1)
    for case in args.cases:
        times: dict[str, list[float]] = {"ours": [], "find_unused": []}
        for _ in range(args.repeats):
            for variant, values in times.items():  # alternate, so drifts in machine speed hit both alike
                values.append(run(case, variant, args.iterations))
        if os.environ.get("RANK", "0") == "0":
            medians = {variant: statistics.median(values) for variant, values in times.items()}
            result = {
                "case": case,
                "processes": 2,
                "ms_per_iteration": {k: round(v, 2) for k, v in medians.items()},
                "ratio_ours_to_find_unused": round(medians["ours"] / medians["find_unused"], 3),
            }
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
