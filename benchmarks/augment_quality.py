"""Augmentation on a small share of the digits: none vs DiffAugment vs ADA, per seed, as a table.

    python benchmarks/augment_quality.py                                    # 5% of the digits, seeds 0 1 2
    python benchmarks/augment_quality.py --subset 1.0 --batch 64 --steps 1200 --kinds none ada --seeds 0 1

The networks and optimizer of ``recipes/digits_dcgan.yaml`` (DCGAN of width 32 at 16 px, latent
64, non-saturating loss, Adam 5e-4 betas (0.5, 0.999), generator EMA 0.999), trained on
``DigitsDataModule(subset=...)`` (seeded, class-balanced; 0.05 = 89 digits, 0.1 = 179; 1.0 = all
1,797) with one of:

- ``none``: no augmentation;
- ``diffaugment``: ``DiffAugment(--policy)`` (default ``translation,cutout``: the colour ops are
  only brightness and contrast on one-channel digits);
- ``ada``: ``AdaptiveAugment(target=0.6, interval=4, speed_kimg=--speed-kimg)``, p from 0. The
  default speed_kimg 10 (p can cross [0, 1] in 10,000 real images, 10% of a 3,000-iteration run at
  batch 32; the ADA paper's 500 kimg is 2% of its 25M-image runs).

Each run reports:

- the judge (``lightning_gan.metrics.DigitsReference``, as in ``tests/quality/test_image_quality.py``) on
  1,000 samples of the EMA generator (seed 123): Frechet distance in PCA space (real vs real 0.44),
  classifier confidence (held-out real digits 0.96) and the smallest class share;
- D's overfitting ``gap``: its mean logit on the training subset minus on 400 held-out digits (a
  seeded draw from the digits not in the subset), D in eval mode, no augmentation (not defined
  for the whole set);
- ``r_t`` = mean sign(D(real)) on the (augmented) real batches D trained on, averaged over the
  second half of the run, and ADA's p at the end and its largest value.

One JSON line per run, then a markdown table. One torch thread; wall times are of this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import lightning as L
import torch
from torch import nn

from lightning_gan import GANModule
from lightning_gan._probes import Watched, held_out_digits
from lightning_gan.augment import AdaptiveAugment, DiffAugment
from lightning_gan.data import DigitsDataModule
from lightning_gan.metrics import DigitsReference
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator

SHAPE = (1, 16, 16)
LATENT = 64


def make_augment(kind: str, policy: str, speed_kimg: float) -> nn.Module | None:
    if kind == "none":
        return None
    if kind == "diffaugment":
        return DiffAugment(policy)
    if kind == "ada":
        return AdaptiveAugment(target=0.6, interval=4, speed_kimg=speed_kimg)
    raise ValueError(f"unknown kind {kind!r}")


def run(kind: str, seed: int, args: argparse.Namespace, reference: DigitsReference) -> dict[str, Any]:
    L.seed_everything(seed, verbose=False)
    subset = None if args.subset == 1.0 else args.subset
    data = DigitsDataModule(size=16, batch_size=args.batch, subset=subset)
    watched = Watched(make_augment(kind, args.policy, args.speed_kimg))

    def adam(params: Any) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=5e-4, betas=(0.5, 0.999))

    gan = GANModule(
        DCGANGenerator(LATENT, SHAPE, width=32),
        DCGANDiscriminator(SHAPE, width=32),
        latent_dim=LATENT,
        ema_decay=0.999,
        g_optimizer=adam,
        d_optimizer=adam,
        augment=watched,
    )
    trainer = L.Trainer(
        max_steps=args.steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    start = time.perf_counter()
    trainer.fit(gan, data)
    seconds = time.perf_counter() - start

    full = DigitsDataModule(size=16)
    full.setup()
    held = held_out_digits(data, full)
    discriminator = gan.discriminator.eval()
    with torch.no_grad():
        train_logit = float(discriminator(data.images).mean())
        held_logit = None if held is None else float(discriminator(held).mean())
    judged = reference.score(gan.generate(1000, seed=123))
    second_half = watched.signs[len(watched.signs) // 2 :]
    return {
        "kind": kind,
        "seed": seed,
        "images": len(data.images),
        "batch": args.batch,
        "steps": args.steps,
        "frechet": round(float(judged["frechet"]), 3),
        "confidence": round(float(judged["confidence"]), 3),
        "smallest_class": round(min(judged["class_fractions"]), 3),
        "train_logit": round(train_logit, 2),
        "held_logit": None if held_logit is None else round(held_logit, 2),
        "gap": None if held_logit is None else round(train_logit - held_logit, 2),
        "r_t": round(statistics.fmean(second_half), 3),
        "p_end": round(watched.ps[-1], 3),
        "p_max": round(max(watched.ps), 3),
        "seconds": round(seconds),
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| augmentation | seed | Frechet distance | confidence | smallest class | gap (train - held-out) | r_t | p end (max) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        gap = "n/a" if r["gap"] is None else f"{r['gap']:.2f} ({r['train_logit']:.2f} vs {r['held_logit']:.2f})"
        p = "" if r["kind"] != "ada" else f"{r['p_end']:.2f} ({r['p_max']:.2f})"
        lines.append(
            f"| {r['kind']} | {r['seed']} | {r['frechet']:.2f} | {r['confidence']:.2f} | "
            f"{100 * r['smallest_class']:.1f}% | {gap} | {r['r_t']:.2f} | {p} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subset", type=float, default=0.05, help="fraction of the digits (1.0: all)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3000, help="generator iterations")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--kinds", nargs="+", default=["none", "diffaugment", "ada"])
    parser.add_argument("--policy", default="translation,cutout", help="DiffAugment's policy")
    parser.add_argument("--speed-kimg", type=float, default=10.0, help="ADA's speed_kimg")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    reference = DigitsReference(size=16)
    rows = []
    for seed in args.seeds:
        for kind in args.kinds:
            rows.append(run(kind, seed, args, reference))
            print(json.dumps(rows[-1]), flush=True)
    rows.sort(key=lambda r: (args.kinds.index(r["kind"]), r["seed"]))
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
