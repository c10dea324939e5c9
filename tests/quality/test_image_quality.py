"""Does the GAN learn images? The digits recipes, trained for real on the CPU and judged against
the real digits (lightning_gan.metrics.DigitsReference: a classifier trained on real digits, and a
Frechet distance in a PCA space fitted on them).

The recipes' budgets are what a user would pick (the best quality within about 3 CPU minutes,
docs/recipes.md); CI's 15-minute budget cannot hold all of them, so the tests train shorter runs of
the same recipes (CI_STEPS) and check the same thresholds; the numbers at each length are in
docs/recipes.md, and benchmarks/recipe_quality.py measures the full budgets.

Real-data reference numbers (16 px digits, DigitsReference(seed=0)): the classifier's mean top-class
probability on held-out real digits is 0.96 and its accuracy 0.97; the Frechet distance between two
disjoint halves of the real digits is 0.44 (uniform noise: 63). Thresholds below are stated next to
them; docs/recipes.md has the numbers the recipes reach.
"""

from pathlib import Path

import pytest
import torch
import yaml

from lightning_gan.cli import run_cli
from lightning_gan.metrics import DigitsReference

RECIPES = Path(__file__).parents[2] / "recipes"
# The quality runs judge what the recipe trains, so its logger, bar and callbacks (figures,
# sample grids: minutes of CI) are off here; the recipes as shipped, logger and callbacks on,
# run in tests/recipes/test_recipes.py::test_recipe_runs_a_few_iterations and, the CPU ones
# exactly as a user runs them, in tests/ddp/test_ddp_recipes.py and tests/test_cli.py.
QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.callbacks", "[]"]
# generator iterations the CI runs train (the recipes' own budgets are longer)
CI_STEPS = {"digits_dcgan": 1200, "digits_cgan": 1000, "digits_stylegan2": 1200}


@pytest.fixture(scope="module")
def reference() -> DigitsReference:
    return DigitsReference(size=16)


def fit(recipe: str, tmp_path, *overrides: str):
    """Train ``recipe`` for its CI length (CI_STEPS), W&B and callbacks off."""
    steps = ["--trainer.max_steps", str(CI_STEPS[recipe])]
    args = ["fit", "--config", str(RECIPES / f"{recipe}.yaml"), "--trainer.default_root_dir", str(tmp_path)]
    return run_cli([*args, *QUIET, *steps, *overrides])


def check_learns_the_digits(
    result: dict, reference: DigitsReference, *, rarest_class: float = 0.05, frechet_multiple: float = 6
) -> None:
    # recognisable: the classifier is nearly as sure of samples as of held-out real digits (0.96)
    assert result["confidence"] >= 0.8 * reference.real_confidence, result
    # every class: at least `rarest_class` of 1,000 samples each (10% if perfectly balanced)
    assert min(result["class_fractions"]) >= rarest_class, result
    # the distribution: within a small multiple of the real-vs-real distance (0.44)
    assert result["frechet"] <= frechet_multiple * reference.real_frechet, result


@pytest.mark.parametrize("recipe", sorted(CI_STEPS))
def test_ci_trains_a_shorter_run_of_the_recipe(recipe):
    budget = yaml.safe_load((RECIPES / f"{recipe}.yaml").read_text())["trainer"]["max_steps"]
    assert CI_STEPS[recipe] <= budget, f"{recipe}: CI would train longer than the recipe's budget {budget}"


def test_the_reference_numbers_the_thresholds_rely_on(reference):
    assert reference.real_confidence > 0.9 and reference.real_accuracy > 0.9
    assert 0.2 < reference.real_frechet < 1.0
    noise = reference.score(torch.rand(1000, 1, 16, 16) * 2 - 1)
    assert noise["frechet"] > 50 * reference.real_frechet and noise["confidence"] < 0.6


def test_samples_outside_the_range_are_scored_as_their_saved_images(reference):
    # StyleGAN2's default linear output overshoots [-1, 1]; a saved image would be clamped
    overshooting = (torch.rand(200, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1) * 3
    assert reference.score(overshooting) == reference.score(overshooting.clamp(-1, 1))


@pytest.mark.slow
def test_digits_dcgan_learns_the_digits(tmp_path, reference):
    # 1,200 of the recipe's 3,600 iterations; measured at 1,200 (seeds 0, 1; 1 torch thread, then 2):
    # confidence 0.83, 0.82 | 0.83, 0.83, smallest class 7.1%, 8.2% | 7.5%, 7.8%, Frechet distance
    # 1.62, 1.50 | 1.57, 1.51: the thresholds (0.77, 5%, 2.65) hold with room on either
    cli = fit("digits_dcgan", tmp_path)
    check_learns_the_digits(reference.score(cli.model.generate(1000, seed=123)), reference)


@pytest.mark.slow
def test_digits_cgan_draws_the_asked_for_class(tmp_path, reference):
    # 1,000 of the recipe's 3,000 iterations; measured at 1,000 (seeds 0, 1): 91.1%, 94.3%; on 2 torch
    # threads 92.1%, 92.1%
    cli = fit("digits_cgan", tmp_path)
    labels = torch.arange(1000) % 10
    result = reference.score(cli.model.generate(1000, seed=123, labels=labels), labels)
    assert result["accuracy"] >= 0.80, result  # held-out real digits: 0.97


@pytest.mark.slow
def test_digits_stylegan2_learns_the_digits(tmp_path, reference):
    # 1,200 of the recipe's 1,600 iterations: StyleGAN2 is still learning there, and where it stands
    # follows the last bits of the arithmetic. Measured at 1,200 (seeds 0, 1, 2 on this machine with
    # 1 and 2 torch threads, docs/recipes.md): confidence 0.835-0.857, smallest class 5.8-7.1%,
    # Frechet distance 2.33-3.01; seed 0 on another 2-core machine (AVX-512): 0.848, 3.8%, 2.94. With
    # lazy R1's optimizer adjustment (D at lr 0.00235, as stylegan2-ada): 0.827-0.851, 3.8-6.9%, 2.71-2.89.
    # So this recipe's bars: every class at least 3% (a dropped class is under 1%; 0.8 points below
    # the worst seen) and Frechet within 10x real (4.4, 1.46x the worst seen). Seed 0 (the recipe's),
    # the weakest of the three; seeds 1 and 2 cost CI too much: the benchmark trains them.
    cli = fit("digits_stylegan2", tmp_path)
    result = reference.score(cli.model.generate(1000, seed=123))
    check_learns_the_digits(result, reference, rarest_class=0.03, frechet_multiple=10)
