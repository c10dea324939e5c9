"""Train the recipes that run on a CPU and print the numbers quoted in docs/recipes.md, as JSON lines.

    python benchmarks/recipe_quality.py       # gaussian1d, ring8, grid25, digits_dcgan, digits_cgan, digits_stylegan2
    python benchmarks/recipe_quality.py grid25 --seeds 0 1 2
    python benchmarks/recipe_quality.py digits_dcgan --seeds 0 1 --at 1200 2400 3600
    python benchmarks/recipe_quality.py digits_stylegan2 --seeds 0 1 2 --threads 2 --at 1200 1600

Each run uses its recipe unchanged (W&B, figures and checkpoints off) and reports its wall time on
this machine, single process, one thread (``--threads N``: N torch threads, a cheap stand-in for
another machine, since a GAN's trajectory follows the last bits of its arithmetic). ``--at`` (digits recipes) trains to the largest budget
given and scores the model at each one on the way: the recipes have no schedule tied to
``max_steps``, so the model at iteration N is the one a run with ``--trainer.max_steps N`` ends with.
Each line then also carries ``cpu_seconds``, the process CPU time spent training up to N (scoring
excluded), which contention from other processes inflates less than the wall time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import lightning as L
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


def recipe_path(recipe: str) -> Path:
    """A recipe's name (``digits_dcgan``), or the path of a YAML file (a variant being tried)."""
    return Path(recipe) if recipe.endswith(".yaml") else RECIPES / f"{recipe}.yaml"


def run(recipe: str, seed: int, *overrides: str) -> tuple[object, float]:
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        cli = run_cli(
            [
                "fit",
                "--config",
                str(recipe_path(recipe)),
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


def digits_score(model, reference: DigitsReference) -> dict[str, object]:
    """The numbers of tests/quality/test_image_quality.py: 1,000 samples from seed 123 (100 per class when conditional)."""
    labels = torch.arange(1000) % 10 if model.num_classes else None
    samples = model.generate(1000, seed=123, labels=labels)
    result = reference.score(samples, labels)  # clamps to [-1, 1], as every image writer does
    result["outside_range"] = float((samples.abs() > 1).float().mean())
    result["class_fractions"] = [round(f, 3) for f in result["class_fractions"]]  # type: ignore[union-attr]
    real = {"real_confidence": reference.real_confidence, "real_frechet": reference.real_frechet}
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in {**result, **real}.items()}


class ScoreAt(L.Callback):
    """Score the model after the given generator iterations, printing one JSON line each."""

    def __init__(self, recipe: str, seed: int, steps: list[int], reference: DigitsReference) -> None:
        self.recipe, self.seed, self.steps, self.reference = recipe, seed, set(steps), reference
        self.start_wall, self.start_cpu, self.scoring_wall, self.scoring_cpu = 0.0, 0.0, 0.0, 0.0

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start_wall, self.start_cpu = time.perf_counter(), time.process_time()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: object) -> None:
        if trainer.global_step not in self.steps:
            return
        wall, cpu = time.perf_counter(), time.process_time()
        line = {
            "recipe": self.recipe,
            "seed": self.seed,
            "threads": torch.get_num_threads(),
            "steps": trainer.global_step,
        }
        line.update(digits_score(pl_module, self.reference))
        line["seconds"] = round(wall - self.start_wall - self.scoring_wall, 1)
        line["cpu_seconds"] = round(cpu - self.start_cpu - self.scoring_cpu, 1)
        print(json.dumps(line), flush=True)
        self.scoring_wall += time.perf_counter() - wall
        self.scoring_cpu += time.process_time() - cpu


def digits(recipe: str, seed: int, at: list[int] | None = None) -> None:
    reference = DigitsReference(size=16)
    if at:
        score = ScoreAt(recipe, seed, at, reference)
        _run_with(recipe, seed, score, "--trainer.max_steps", str(max(at)))
        return
    cli, seconds = run(recipe, seed)
    print(
        json.dumps(
            {"recipe": recipe, "seed": seed, **digits_score(cli.model, reference), "seconds": round(seconds, 1)}
        ),
        flush=True,
    )


def _run_with(recipe: str, seed: int, callback: L.Callback, *overrides: str) -> None:
    """Build the recipe's run as :func:`run` does, add ``callback``, and train."""
    with tempfile.TemporaryDirectory() as root:
        cli = run_cli(
            ["--config", str(recipe_path(recipe)), "--trainer.default_root_dir", root,
             "--seed_everything", str(seed), *QUIET, *overrides],
            run=False,
        )  # fmt: skip
        cli.trainer.callbacks.append(callback)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)


MEASURES = {"gaussian1d": gaussian1d, "digits_dcgan": digits, "digits_cgan": digits, "digits_stylegan2": digits}
MEASURES_ORDER = ("gaussian1d", "ring8", "grid25", "digits_dcgan", "digits_cgan", "digits_stylegan2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipes", nargs="*", default=[*MEASURES_ORDER])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--at", nargs="+", type=int, default=None, help="digits recipes: score at these iterations")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the tests run on one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for recipe in args.recipes:
        for seed in args.seeds:
            if recipe.endswith(".yaml") or (args.at and MEASURES.get(recipe) is digits):
                digits(recipe, seed, args.at)
            else:
                MEASURES.get(recipe, coverage)(recipe, seed)


if __name__ == "__main__":
    main()
