"""Does the GAN learn? Real training runs of the toy recipes, judged by the issue's thresholds.

Each run uses its recipe unchanged except for the data target, with logging and figures off.
"""

from pathlib import Path

import pytest
import torch
from scipy import stats

from lightning_gan.cli import run_cli
from lightning_gan.metrics import mode_coverage

RECIPES = Path(__file__).parents[2] / "recipes"
# The quality runs judge what the recipe trains, so its logger, bar and callbacks (figures,
# sample grids: minutes of CI) are off here; the recipes as shipped, logger and callbacks on,
# run in tests/recipes/test_recipes.py::test_recipe_runs_a_few_iterations and, the CPU ones
# exactly as a user runs them, in tests/ddp/test_ddp_recipes.py and tests/test_cli.py.
QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.callbacks", "[]"]


def fit(recipe: str, tmp_path, *overrides: str):
    args = ["fit", "--config", str(RECIPES / recipe), "--trainer.default_root_dir", str(tmp_path), *QUIET, *overrides]
    return run_cli(args)


@pytest.mark.slow
# the target; N(0, 1) and N(-3, 2^2) are measured by benchmarks/recipe_quality.py (KS 0.015, 0.016)
@pytest.mark.parametrize(("mean", "std"), [(4.0, 0.5)])
def test_gaussian1d_matches_the_target_and_leaves_d_at_one_half(tmp_path, mean, std):
    cli = fit("gaussian1d.yaml", tmp_path, "--data.init_args.mean", str(mean), "--data.init_args.std", str(std))
    samples = cli.model.generate(10_000, seed=123).squeeze(1).numpy()
    ks = stats.kstest(samples, "norm", args=(mean, std)).statistic
    assert ks < 0.05, f"KS {ks:.4f} (mean {samples.mean():.3f}, std {samples.std():.3f})"
    grid = torch.linspace(mean - 2 * std, mean + 2 * std, 401)[:, None]
    discriminator = cli.model.discriminator.eval()
    with torch.no_grad():
        d = torch.sigmoid(discriminator(grid))
    assert (d - 0.5).abs().mean() < 0.1  # at the equilibrium D(x) = 1/2


@pytest.mark.slow
def test_ring8_covers_every_mode_with_high_quality_samples(tmp_path):
    cli = fit("ring8.yaml", tmp_path)
    dm = cli.datamodule
    result = mode_coverage(cli.model.generate(2500, seed=123), dm.centers, dm.std)
    assert result["modes"] == 8 and result["high_quality"] >= 0.90, result


@pytest.mark.slow
def test_grid25_reaches_pacgan_level_coverage(tmp_path):
    # Seed 0 of the recipe as shipped (measured: 25 modes, 92.9 % high quality). The median over
    # seeds 0-2 (seeds 1 and 2: 25 modes, 92.3 % and 92.1 %, docs/recipes.md) is measured by
    # `python benchmarks/recipe_quality.py grid25 --seeds 0 1 2`: a seed costs CI ~4 minutes.
    seed = 0
    cli = fit("grid25.yaml", tmp_path, "--seed_everything", str(seed))
    dm = cli.datamodule
    result = mode_coverage(cli.model.generate(2500, seed=123), dm.centers, dm.std)
    assert result["modes"] >= 24 and result["high_quality"] >= 0.90, result
