"""Does a warm start carry a trained model over? Digits 5-9 from a model of digits 0-4, against scratch.

benchmarks/transfer_digits.py measures it (docs/recipes.md, "Starting from a trained model: what it
buys on the digits"): with the recipe's 1,200 pretraining iterations, the warm start leads only in the
first ~50 iterations and scratch catches up by 100-200 (it is not ahead at 800 either), because the
source's classes are disjoint from the target's and must be unlearned. The test holds the ordering the
numbers hold with margin: at 50 iterations, from a 300-iteration source (CI-sized), the warm run is
closer to the digits 5-9 and surer, and most of its samples are still digits of 0-4.
"""

import pytest

from benchmarks.transfer_digits import TARGET, one_seed
from lightning_gan.metrics import DigitsReference


@pytest.mark.slow
def test_a_warm_start_begins_from_the_source_model_and_leads_scratch_at_first():
    # benchmarks/transfer_digits.py --pretrain-steps 300 --at 50 100, seeds 0 1 2, 1 | 2 torch threads, at 50:
    #   Frechet (real vs real 0.96)  warm 14.67 15.60 14.53 | 14.85 15.35 15.11; scratch 19.67 20.61 21.24 | 19.69 20.64 21.24
    #                                (warm / scratch 0.68-0.76)
    #   confidence                   warm 0.77 0.80 0.78 | 0.77 0.80 0.78;       scratch 0.68 0.67 0.64 | 0.68 0.67 0.64
    #   outside (digits of 0-4)      warm 0.63 0.68 0.61 | 0.64 0.69 0.63;       scratch 0.26 0.26 0.20 | 0.25 0.26 0.20
    # (at 100 scratch is ahead on Frechet in 5 of the 6 runs: 8.5-11.4 against 11.0-11.8)
    rows = one_seed(0, DigitsReference(size=16, classes=TARGET), at=[50], pretrain_steps=300)
    warm, scratch = sorted(rows, key=lambda row: row["arm"] != "warm")
    assert warm["arm"] == "warm" and scratch["arm"] == "scratch"
    assert warm["frechet"] < 0.85 * scratch["frechet"], rows
    assert warm["confidence"] > scratch["confidence"] + 0.05, rows
    assert warm["outside"] > 0.45 > 0.35 > scratch["outside"], rows
