"""The mechanism of augmentation for small data, on the CPU (issue 13, "Must show").

With 5% of the digits (89 images) the discriminator memorizes them: its score on the training
digits climbs while unseen real digits look fake to it. Augmenting everything D sees
(DiffAugment; ADA with p steered by r_t = E[sign(D(real))]) closes that gap.

Setting (the networks and optimizer of recipes/digits_dcgan.yaml, without EMA, at a CI budget):
DCGAN of width 32 at 16 px, latent 64, Adam 5e-4 betas (0.5, 0.999), batch 32, 800 generator
iterations, seed 0, one thread. ``gap`` = D's mean logit on the 89 training digits minus on 400
held-out digits (a seeded draw from the other 1,708), D in eval mode, no augmentation when
measuring; r_t averaged over the second half of the D steps, on the batches D trained on.
ADA runs with speed_kimg=10 (p can cross [0, 1] in 10,000 real images; the run sees 25,600).

Measured on seed 0 (seeds 1 and 2 in brackets, the same code run outside the test, one torch
thread; with ADA resampling at 2x as stylegan2-ada and DiffAugment's shifts as the reference's):

========================  ======================  ==================  ===========================
                          gap                     r_t                 threshold
========================  ======================  ==================  ===========================
no augmentation           2.34 (2.54, 2.72)       0.95 (0.92, 0.93)   gap > 1.5, r_t > 0.85
DiffAugment (transl.,     0.10 (0.08, 0.06)       0.35 (0.40, 0.33)   gap < gap_none / 3
cutout)                   = 0.04x (0.03x, 0.02x)
ADA, target 0.6           0.57 (0.56, 0.77)       0.59 (0.59, 0.60)   gap < gap_none / 2,
                          = 0.24x (0.22x, 0.28x)                      abs(r_t - 0.6) < 0.1
========================  ======================  ==================  ===========================

With two torch threads (a stand-in for another machine): seed 0 gives 2.36, 0.11 (0.05x) and 0.53
(0.23x), seed 2 2.69, 0.05 and 0.82 (0.30x); seed 1's run without augmentation overfits less there
(gap 1.37, under the 1.5 bar; the test trains seed 0), with 0.11 (0.08x) and 0.63 (0.46x) augmented.
ADA's p rose from 0 to at most 0.23 (0.26, 0.15) and ended at 0.15 (0.14, 0.15): the test asks
p_max >= 0.1. ADA closes the gap less than DiffAugment: it augments only as much as keeps r_t at
0.6. With the earlier 1x bilinear warp ADA's gaps were 0.63 (0.65, 0.81). At 1,000 iterations (that
warp) the gaps were 3.05 (3.67, 1.87) without, 0.09 (0.06, 0.13) with DiffAugment and 0.76 (0.77,
1.03) with ADA. Planning measured the effect larger with a width-64 D over 3,000 iterations (gap 8.4
without, 0.30 with DiffAugment); this code at that size (lr 2e-4, G width 32): 4.5, 0.39, and 0.90
with ADA (1x warp).
docs/recipes.md ("Small data: augmentation on the digits") has the judge's per-seed numbers of
3,000-iteration runs (benchmarks/augment_quality.py). The three runs take about 53 s of one core's
CPU time (pytest -n 0: 50-57 s for the process, 75-80 s wall, while other jobs loaded the two
cores; up to 94 s CPU, 135 s wall, under heavier load).
"""

from __future__ import annotations

import statistics
from typing import Any

import lightning as L
import pytest
import torch
from torch import nn

from lightning_gan import GANModule
from lightning_gan._probes import Watched, held_out_digits  # shared with benchmarks/augment_quality.py
from lightning_gan.augment import AdaptiveAugment, DiffAugment
from lightning_gan.data import DigitsDataModule
from lightning_gan.nets import DCGANDiscriminator, DCGANGenerator
from tests.helpers import trainer

SHAPE = (1, 16, 16)
STEPS = 800
TARGET = 0.6


def adam(params: Any) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=5e-4, betas=(0.5, 0.999))


def train(augment: nn.Module | None, tmp_path) -> dict[str, Any]:
    """Train on 5% of the digits; D's overfitting gap, r_t over the second half, ADA's p."""
    L.seed_everything(0, verbose=False)
    data = DigitsDataModule(size=16, batch_size=32, subset=0.05)
    watched = Watched(augment)
    gan = GANModule(
        DCGANGenerator(64, SHAPE, width=32),
        DCGANDiscriminator(SHAPE, width=32),
        latent_dim=64,
        g_optimizer=adam,
        d_optimizer=adam,
        augment=watched,
    )
    fit = trainer(tmp_path, max_steps=STEPS)
    fit.fit(gan, data)
    full = DigitsDataModule(size=16)
    full.setup()
    held = held_out_digits(data, full)
    discriminator = gan.discriminator.eval()
    with torch.no_grad():
        train_logit, held_logit = float(discriminator(data.images).mean()), float(discriminator(held).mean())
    return {
        "images": len(data.images),
        "gap": train_logit - held_logit,
        "train_logit": train_logit,
        "held_logit": held_logit,
        "r_t": statistics.fmean(watched.signs[len(watched.signs) // 2 :]),
        "ps": watched.ps,
        "logged": {k: float(v) for k, v in fit.callback_metrics.items() if k in ("train/augment_p", "train/r_t")},
    }


@pytest.mark.slow
def test_augmentation_closes_the_discriminators_overfitting_gap(tmp_path):
    none = train(None, tmp_path / "none")
    diff = train(DiffAugment("translation,cutout"), tmp_path / "diffaugment")
    ada = train(AdaptiveAugment(target=TARGET, interval=4, speed_kimg=10), tmp_path / "ada")
    summary = {
        name: {k: round(v, 3) for k, v in run.items() if isinstance(v, float)}
        | {"p_max": round(max(run["ps"]), 3), "p_end": round(run["ps"][-1], 3)}
        for name, run in (("none", none), ("diffaugment", diff), ("ada", ada))
    }
    print(summary)  # shown with pytest -s
    assert none["images"] == 89, summary

    # without augmentation D calls unseen real digits fake (seed 0: gap 2.34) and is sure of its
    # training batches (r_t 0.95; 1.0 would be every one)
    assert none["gap"] > 1.5, summary
    assert none["r_t"] > 0.85, summary
    # DiffAugment: gap 0.10 on seed 0, a 23rd of the gap without (at most 0.05x on seeds 0-2)
    assert diff["gap"] < none["gap"] / 3, summary
    # ADA: gap 0.57 on seed 0, a quarter of the gap without (at most 0.28x on seeds 0-2, 0.46x with 2 threads)
    assert ada["gap"] < none["gap"] / 2, summary
    # ... while p rises from 0 (to 0.24 at most) and holds r_t near its target (0.57 vs 0.6)
    assert ada["ps"][0] == 0.0 and max(ada["ps"]) >= 0.1, summary
    assert abs(ada["r_t"] - TARGET) < 0.1, summary
    # GANModule logs ADA's state
    assert set(ada["logged"]) == {"train/augment_p", "train/r_t"}, summary
