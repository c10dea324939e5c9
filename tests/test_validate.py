"""One way to check arguments (lightning_gan._validate): the same refusal, in the same words, everywhere."""

import re
from pathlib import Path

import pytest

from lightning_gan import GANModule
from lightning_gan._validate import check_choice, check_flag, check_int, check_number
from lightning_gan.augment import AdaptiveAugment
from lightning_gan.callbacks import FidelityMetrics, LatentInterpolation, NearestNeighbours, SampleGrid
from lightning_gan.cli import run_cli
from lightning_gan.data import DigitsDataModule, GridDataModule
from lightning_gan.nets import MLPDiscriminator, MLPGenerator, StyleGAN2Discriminator, StyleGAN2Generator
from lightning_gan.regularizers import R1, LeCam, PathLength

RECIPE = Path(__file__).parents[1] / "recipes" / "gaussian1d.yaml"


def _gan(**kwargs):
    return GANModule(MLPGenerator(2, 2), MLPDiscriminator(2), **{"latent_dim": 2, **kwargs})


# Python counts True as 1: each of these would otherwise run with a count of one
BOOLEAN_COUNTS = [
    ("GANModule", "d_steps", 1, lambda: _gan(d_steps=True)),
    ("GANModule", "latent_dim", 1, lambda: _gan(latent_dim=True)),
    ("GANModule", "num_classes", 0, lambda: _gan(num_classes=False)),
    ("SampleGrid", "every_n_steps", 1, lambda: SampleGrid(every_n_steps=True)),
    ("SampleGrid", "num_samples", 1, lambda: SampleGrid(num_samples=True)),
    ("LatentInterpolation", "steps", 2, lambda: LatentInterpolation(steps=True)),
    ("FidelityMetrics", "every_n_steps", 1, lambda: FidelityMetrics(every_n_steps=True)),
    ("NearestNeighbours", "k", 1, lambda: NearestNeighbours(k=True)),
    ("R1", "interval", 1, lambda: R1(1.0, interval=True)),
    ("LeCam", "start", 0, lambda: LeCam(0.1, start=True)),
    ("PathLength", "batch_shrink", 1, lambda: PathLength(batch_shrink=True)),
    ("AdaptiveAugment", "interval", 1, lambda: AdaptiveAugment(interval=True)),
    ("DigitsDataModule", "batch_size", 1, lambda: DigitsDataModule(batch_size=True)),
    ("GridDataModule", "batch_size", 1, lambda: GridDataModule(batch_size=True)),
    ("StyleGAN2Generator", "w_dim", 1, lambda: StyleGAN2Generator(8, (1, 16, 16), w_dim=True)),
    ("StyleGAN2Discriminator", "mbstd_group_size", 1, lambda: StyleGAN2Discriminator((1, 16, 16), mbstd_group_size=True)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("owner", "name", "minimum", "build"), BOOLEAN_COUNTS, ids=[f"{o}.{n}" for o, n, *_ in BOOLEAN_COUNTS]
)
def test_a_boolean_is_refused_as_a_count_with_one_message(owner, name, minimum, build):
    with pytest.raises(ValueError) as error:
        build()
    pattern = rf"{owner}\({name}=(True|False)\): expected (None or )?an int >= {minimum}"
    assert re.fullmatch(pattern, str(error.value)), str(error.value)


def test_each_check_names_the_call_and_what_was_expected():
    cases = [
        (lambda: check_int("k", 0, 1, owner="X"), "X(k=0): expected an int >= 1"),
        (lambda: check_int("k", 2.0, 1), "k=2.0: expected an int >= 1"),
        (lambda: check_int("k", "3", 0, optional=True), "k='3': expected None or an int >= 0"),
        (lambda: check_number("p", 1.5, low=0, high=1, owner="X"), "X(p=1.5): expected a number >= 0 and <= 1"),
        (lambda: check_number("p", float("nan"), low=0), "p=nan: expected a number >= 0"),
        (lambda: check_number("p", True, low=0), "p=True: expected a number >= 0"),
        (lambda: check_number("p", 0, low=0, low_open=True, optional=True), "p=0: expected None or a number > 0"),
        (lambda: check_choice("mode", "b", ("a",), owner="X"), "X(mode='b'): expected one of ['a']"),
        (lambda: check_flag("on", 1, owner="X"), "X(on=1): expected True or False"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            call()
    check_int("k", None, 1, optional=True)
    check_number("p", 0.5, low=0, high=1, low_open=True, high_open=True)
    check_flag("on", False)


@pytest.mark.parametrize("where", ["command line", "YAML"])
def test_the_command_line_and_yaml_give_the_python_message(tmp_path, where):
    if where == "YAML":
        config = tmp_path / "override.yaml"
        config.write_text("model:\n  init_args:\n    d_steps: 0\n")
        override = ["--config", str(config)]
    else:
        override = ["--model.init_args.d_steps", "0"]
    with pytest.raises(ValueError, match=re.escape("GANModule(d_steps=0): expected an int >= 1")):
        run_cli(["--config", str(RECIPE), *override, "--trainer.logger", "false"], run=False)


def test_the_command_line_refuses_a_boolean_count_by_its_type(tmp_path, capsys):
    with pytest.raises(SystemExit):
        run_cli(["--config", str(RECIPE), "--model.init_args.d_steps", "true", "--trainer.logger", "false"], run=False)
    assert 'Parser key "d_steps"' in capsys.readouterr().err
