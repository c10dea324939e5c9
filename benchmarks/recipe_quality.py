"""Train the recipes that run on a CPU and print the numbers quoted in docs/recipes.md, as JSON lines.

    python benchmarks/recipe_quality.py                      # gaussian1d, ring8, grid25, digits_dcgan, digits_cgan
    python benchmarks/recipe_quality.py grid25 --seeds 0 1 2

Each run uses its recipe unchanged (W&B, figures and checkpoints off) and reports its wall time on
this machine, single process, one thread.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from scipy import stats

from lightning_gan.cli import run_cli
from lightning_gan.metrics import DigitsReference, mode_coverage

RECIPES = Path(__file__).parents[1] / "recipes"
QUIET = [
    "--trainer.logger",
    "false",
    "--trainer.enable_progress_bar",
    "false",
    "--trainer.callbacks",
    "[]",
    "--trainer.enable_checkpointing",
    "false",
    "--trainer.enable_model_summary",
    "false",
]
GAUSSIAN_TARGETS = [(4.0, 0.5), (0.0, 1.0), (-3.0, 2.0)]


def run(recipe: str, seed: int, *overrides: str) -> tuple[object, float]:
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        cli = run_cli(
            [
                "fit",
                "--config",
                str(RECIPES / f"{recipe}.yaml"),
                "--trainer.default_root_dir",
                root,
                "--seed_everything",
                str(seed),
                *QUIET,
                *overrides,
            ]
        )
        return cli, time.perf_counter() - start


def gaussian1d(recipe: str, seed: int) -> None:
    for mean, std in GAUSSIAN_TARGETS:
        cli, seconds = run(recipe, seed, "--data.init_args.mean", str(mean), "--data.init_args.std", str(std))
        samples = cli.model.generate(10_000, seed=123).squeeze(1).numpy()
        grid = torch.linspace(mean - 2 * std, mean + 2 * std, 401)[:, None]
        with torch.no_grad():
            d = torch.sigmoid(cli.model.discriminator.eval()(grid))
        print(
            json.dumps(
                {
                    "recipe": recipe,
                    "target": [mean, std],
                    "seed": seed,
                    "ks": round(float(stats.kstest(samples, "norm", args=(mean, std)).statistic), 4),
                    "mean_abs_d_minus_half": round(float((d - 0.5).abs().mean()), 4),
                    "sample_std": round(float(samples.std()), 4),
                    "seconds": round(seconds, 1),
                }
            ),
            flush=True,
        )


def coverage(recipe: str, seed: int) -> None:
    cli, seconds = run(recipe, seed)
    dm = cli.datamodule
    result = mode_coverage(cli.model.generate(2500, seed=123), dm.centers, dm.std)
    print(json.dumps({"recipe": recipe, "seed": seed, **result, "seconds": round(seconds, 1)}), flush=True)


def digits(recipe: str, seed: int) -> None:
    cli, seconds = run(recipe, seed)
    reference = DigitsReference(size=16)
    labels = torch.arange(1000) % 10 if cli.model.num_classes else None
    result = reference.score(cli.model.generate(1000, seed=123, labels=labels), labels)
    result["class_fractions"] = [round(f, 3) for f in result["class_fractions"]]  # type: ignore[union-attr]
    real = {"real_confidence": reference.real_confidence, "real_frechet": reference.real_frechet}
    rounded = {k: round(v, 4) if isinstance(v, float) else v for k, v in {**result, **real}.items()}
    print(json.dumps({"recipe": recipe, "seed": seed, **rounded, "seconds": round(seconds, 1)}), flush=True)


MEASURES = {"gaussian1d": gaussian1d, "digits_dcgan": digits, "digits_cgan": digits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipes", nargs="*", default=["gaussian1d", "ring8", "grid25", "digits_dcgan", "digits_cgan"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args()
    torch.set_num_threads(1)
    for recipe in args.recipes:
        for seed in args.seeds:
            MEASURES.get(recipe, coverage)(recipe, seed)


if __name__ == "__main__":
    main()
