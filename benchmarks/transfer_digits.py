"""Does a warm start help on few images? Digits 5-9 from a model of digits 0-4, against training from scratch.

    python benchmarks/transfer_digits.py                         # seeds 0 1 2, scored at 100 200 400 800
    python benchmarks/transfer_digits.py --seeds 0 --at 50 100 --pretrain-steps 600 --threads 2

Per seed:

1. **pretrain**: ``recipes/digits_dcgan.yaml`` unchanged but for ``--data.init_args.classes
   [0,1,2,3,4]`` (the 899 digits of 0-4) and ``--pretrain-steps`` generator iterations; its
   checkpoint is the source;
2. **warm**: the same recipe on 50 digits of 5-9 (``classes [5,6,7,8,9]``, ``subset 50``: 10 of each,
   drawn with ``subset_seed`` = the seed) at batch ``--batch``, from ``--model.init_args.init_from``
   the pretrained checkpoint (every tensor loads: same networks); new optimizers, step 0;
3. **scratch**: the same run without ``init_from``.

Warm and scratch share everything else, their seed included. Both are scored on the way, at each
``--at`` iteration (the recipe has no schedule tied to ``max_steps``, so the model at iteration N is
the one a run of N iterations ends with), by ``DigitsReference(size=16, classes=[5, 6, 7, 8, 9])`` on
1,000 samples of the EMA generator (seed 123): ``frechet`` to held-out digits of 5-9 in a PCA space
fitted on them (real vs real: ``real_frechet``), the ten-class classifier's ``confidence`` and
``outside`` (the share of samples it reads as a digit of 0-4, the source's classes).

One JSON line per score, then a markdown table (mean and per seed). One torch thread by default.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import torch

from lightning_gan.cli import run_cli
from lightning_gan.metrics import DigitsReference

RECIPE = Path(__file__).parents[1] / "recipes" / "digits_dcgan.yaml"
QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.callbacks", "[]"]
QUIET += ["--trainer.enable_checkpointing", "false", "--trainer.enable_model_summary", "false"]
SOURCE, TARGET = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]


class ScoreAt(L.Callback):
    """Score the EMA generator after the given generator iterations, keeping one row each."""

    def __init__(self, arm: str, seed: int, steps: list[int], reference: DigitsReference) -> None:
        self.arm, self.seed, self.steps, self.reference = arm, seed, set(steps), reference
        self.rows: list[dict[str, object]] = []

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: object) -> None:
        if trainer.global_step not in self.steps:
            return
        result = self.reference.score(pl_module.generate(1000, seed=123))  # type: ignore[operator]
        row = {"arm": self.arm, "seed": self.seed, "steps": trainer.global_step}
        row |= {"frechet": result["frechet"], "confidence": result["confidence"], "outside": result["outside_classes"]}
        row = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
        print(json.dumps(row), flush=True)
        self.rows.append(row)


def fit(root: str, seed: int, *overrides: str, callback: L.Callback | None = None) -> object:
    """The recipe as :mod:`benchmarks.recipe_quality` runs it (logger and callbacks off), plus ``overrides``."""
    args = ["--config", str(RECIPE), "--trainer.default_root_dir", root, "--seed_everything", str(seed)]
    cli = run_cli([*args, *QUIET, *overrides], run=False)
    if callback is not None:
        cli.trainer.callbacks.append(callback)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return cli


def one_seed(
    seed: int, reference: DigitsReference, *, at: list[int], pretrain_steps: int = 1200, batch: int = 25
) -> list[dict[str, object]]:
    """Pretrain on digits 0-4, then fine-tune on 50 digits of 5-9 warm and from scratch: rows of both arms."""
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        source = fit(
            root, seed, "--data.init_args.classes", json.dumps(SOURCE), "--trainer.max_steps", str(pretrain_steps)
        )
        checkpoint = str(Path(root) / "source.ckpt")
        source.trainer.save_checkpoint(checkpoint)  # type: ignore[attr-defined]
        print(json.dumps({"seed": seed, "pretrain_seconds": round(time.perf_counter() - start, 1)}), flush=True)
        target = ["--data.init_args.classes", json.dumps(TARGET), "--data.init_args.subset", "50"]
        target += ["--data.init_args.subset_seed", str(seed), "--data.init_args.batch_size", str(batch)]
        target += ["--trainer.max_steps", str(max(at))]
        for arm, extra in (("warm", ["--model.init_args.init_from", checkpoint]), ("scratch", [])):
            score = ScoreAt(arm, seed, at, reference)
            fit(root, seed, *target, *extra, callback=score)
            rows += score.rows
    return rows


def table(rows: list[dict[str, object]], seeds: list[int], real_frechet: float) -> str:
    """Markdown: per arm and budget, the mean and the per-seed values of frechet, confidence, outside."""
    lines = [
        f"| arm | iterations | Frechet (real {real_frechet:.2f}) | confidence | outside (0-4) |",
        "|---|---:|---|---|---|",
    ]
    keys = sorted({(r["arm"], r["steps"]) for r in rows}, key=lambda k: (k[1], k[0] != "warm"))
    for arm, steps in keys:
        cells = []
        for name in ("frechet", "confidence", "outside"):
            values = [r[name] for s in seeds for r in rows if (r["arm"], r["steps"], r["seed"]) == (arm, steps, s)]
            per_seed = ", ".join(f"{v:.2f}" for v in values)
            cells.append(f"{statistics.mean(values):.2f} ({per_seed})")  # type: ignore[arg-type]
        lines.append(f"| {arm} | {steps} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--at", nargs="+", type=int, default=[100, 200, 400, 800])
    parser.add_argument("--pretrain-steps", type=int, default=1200)
    parser.add_argument("--batch", type=int, default=25, help="fine-tuning batch (50 images: two batches a pass)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    reference = DigitsReference(size=16, classes=TARGET)
    rows = [
        row
        for seed in args.seeds
        for row in one_seed(seed, reference, at=args.at, pretrain_steps=args.pretrain_steps, batch=args.batch)
    ]
    print(f"\nseeds {args.seeds}, {torch.get_num_threads()} thread(s); per cell: mean (seed by seed)\n")
    print(table(rows, args.seeds, reference.real_frechet))


if __name__ == "__main__":
    main()
