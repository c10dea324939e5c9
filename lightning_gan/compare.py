"""``lightning-gan compare``: runs side by side, the config keys that differ and a metric's best and last values,
with the metric's curves against the generator iteration drawn to a PNG."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightning_gan.runs import Run, read_run

__all__ = ["HIGHER_IS_BETTER", "Comparison", "compare_main", "compare_runs", "format_table", "higher_is_better"]

# Metrics whose last name part is one of these are better when higher (Inception Score, precision/recall, mode
# coverage); every other metric (FID, KID, losses, ...) is better when lower. --higher/--lower-is-better override.
HIGHER_IS_BETTER = frozenset(
    {"is", "inception_score", "precision", "recall", "density", "coverage", "accuracy", "acc", "modes", "high_quality"}
)
# per-run paths and ids: they differ between any two runs and say nothing about the set-up
IGNORED_CONFIG_KEYS = frozenset(
    {
        "trainer.default_root_dir",
        "trainer.logger.init_args.save_dir",
        "trainer.logger.init_args.dir",
        "trainer.logger.init_args.id",
        "trainer.logger.init_args.name",
        "trainer.logger.init_args.version",
        "ckpt_path",
    }
)


class _Missing:
    """A config key the run does not have (shown as ``-``)."""

    def __repr__(self) -> str:
        return "-"


MISSING = _Missing()
CELL_WIDTH = 40


def higher_is_better(metric: str) -> bool:
    """The default rule: True if the metric's last name part (after the last ``/``), lower case, is in
    :data:`HIGHER_IS_BETTER` (``val/is`` -> True), else False (``val/fid``, ``val/kid``, ``train/g_loss``)."""
    if not (isinstance(metric, str) and metric):
        raise ValueError(f"metric={metric!r}: expected a metric name such as 'val/fid'")
    return metric.rsplit("/", 1)[-1].lower() in HIGHER_IS_BETTER


@dataclass
class Comparison:
    """What ``compare`` shows: per run (in ``labels`` order) the differing config values and the metric's
    best and last ``(step, value)`` (None where a run did not log the metric)."""

    runs: list[Run]
    labels: list[str]
    metric: str
    higher_is_better: bool
    config_diff: dict[str, list[Any]]  # key -> one value per run (MISSING where a run lacks it; same as None)
    best: list[tuple[int, float] | None]
    last: list[tuple[int, float] | None]


def compare_runs(runs: Sequence[Run], metric: str = "val/fid", *, higher: bool | None = None) -> Comparison:
    """Compare ``runs`` on ``metric``; ``higher`` says whether higher is better (default: :func:`higher_is_better`).

    Raises ``KeyError`` naming the metrics the runs logged if none of them logged ``metric``.
    """
    if not runs:
        raise ValueError("compare_runs(runs=[]): expected at least one run")
    logged = sorted({key for run in runs for key in run.history})
    if not any(metric in run.history for run in runs):
        raise KeyError(f"no run logged the metric {metric!r}; the runs logged: {', '.join(logged) or 'nothing'}")
    higher = higher_is_better(metric) if higher is None else bool(higher)
    keys = sorted({key for run in runs for key in run.config} - IGNORED_CONFIG_KEYS)
    config_diff = {}
    for key in keys:
        values = [run.config.get(key, MISSING) for run in runs]
        settings = [None if value is MISSING else value for value in values]  # an unset key is a None one
        if any(value != settings[0] for value in settings[1:]):
            config_diff[key] = values
    best, last = [], []
    for run in runs:
        points = [(step, value) for step, value in run.history.get(metric, []) if not math.isnan(value)]
        if not points:
            best.append(None)
            last.append(None)
            continue
        sign = -1.0 if higher else 1.0
        best.append(min(points, key=lambda point: (sign * point[1], point[0])))  # ties: the earliest
        last.append(max(enumerate(points), key=lambda item: (item[1][0], item[0]))[1])  # latest step, then order
    return Comparison(list(runs), _labels(runs), metric, higher, config_diff, best, last)


def _labels(runs: Sequence[Run], given: Sequence[str] | None = None) -> list[str]:
    """Column labels: the RUN arguments' last parts (``runs/hinge`` -> ``hinge``), else the whole arguments,
    else the runs' names, whichever first tells the runs apart."""
    given = [str(arg).rstrip("/") for arg in given or []]
    choices = ([Path(arg).name for arg in given], given, [run.name for run in runs], [run.path for run in runs])
    for labels in choices:
        if len(labels) == len(runs) and all(labels) and len(set(labels)) == len(labels):
            return labels
    return [f"{run.name}#{index}" for index, run in enumerate(runs, 1)]


def _cell(value: Any) -> str:
    text = repr(value) if value is MISSING else str(value)
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 3] + "..."


def _point(point: tuple[int, float] | None) -> str:
    return "not logged" if point is None else f"{point[1]:.6g} @ {point[0]}"


def format_table(comparison: Comparison) -> str:
    """The side-by-side table ``compare`` prints: differing config keys, then best and last ``value @ step``."""
    c = comparison
    rule = "max" if c.higher_is_better else "min"
    rows = [["config keys that differ", *c.labels]]
    rows += [[key, *map(_cell, values)] for key, values in c.config_diff.items()]
    if not c.config_diff and len(c.runs) > 1:
        rows.append(["(config)", *["same"] * len(c.runs)])
    rows.append([f"{c.metric} best ({rule})", *map(_point, c.best)])
    rows.append([f"{c.metric} last", *map(_point, c.last)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"(value @ generator iteration; best = {rule}, --higher-is-better / --lower-is-better to change)")
    return "\n".join(lines)


def plot_comparison(comparison: Comparison, out: str | Path) -> Path:
    """Draw each run's ``metric`` against the generator iteration, best value marked, to the PNG ``out``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    out = Path(out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out {str(out)!r}: expected a .png file")
    figure = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for run, label, best in zip(comparison.runs, comparison.labels, comparison.best):
        points = sorted(run.history.get(comparison.metric, []))
        if not points:
            continue
        (line,) = axes.plot(
            [s for s, _ in points], [v for _, v in points], label=label, marker="." if len(points) < 50 else None
        )
        if best is not None:
            axes.plot([best[0]], [best[1]], marker="*", markersize=12, color=line.get_color(), linestyle="none")
    rule = "higher" if comparison.higher_is_better else "lower"
    axes.set(
        xlabel="generator iteration", ylabel=comparison.metric, title=f"{comparison.metric} ({rule} is better; * best)"
    )
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    return out


def compare_main(argv: list[str]) -> Comparison:
    """``lightning-gan compare RUN [RUN ...] [--metric val/fid] [--out curves.png] [--higher-is-better|--lower-is-better]``."""
    parser = argparse.ArgumentParser(prog="lightning-gan compare", description=compare_main.__doc__)
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="a run folder: a W&B run folder (wandb/offline-run-*), a folder holding one run (e.g. the run's "
        "--trainer.default_root_dir), a CSV log folder (metrics.csv); or a W&B run path entity/project/run_id",
    )
    parser.add_argument("--metric", default="val/fid", help="the metric to compare (default val/fid)")
    parser.add_argument("--out", default=None, help="draw the metric's curves to this .png file")
    rule = parser.add_mutually_exclusive_group()
    rule.add_argument("--higher-is-better", dest="higher", action="store_true", default=None)
    rule.add_argument(
        "--lower-is-better",
        dest="higher",
        action="store_false",
        help="which way is better (default: higher for is, precision, recall, ...; lower for fid, kid, losses)",
    )
    args = parser.parse_args(argv)
    if args.out is not None and Path(args.out).suffix.lower() != ".png":
        parser.error(f"--out {args.out!r}: expected a .png file")
    runs = []
    for path in args.runs:
        try:
            runs.append(read_run(path))
        except (OSError, ValueError) as err:
            parser.error(str(err))
    try:
        comparison = compare_runs(runs, args.metric, higher=args.higher)
    except KeyError as err:
        parser.error(err.args[0])
    comparison.labels = _labels(runs, args.runs)
    print(format_table(comparison))
    if args.out is not None:
        print(f"wrote {plot_comparison(comparison, args.out)}")
    return comparison
