"""False-alarm rate of each drift test on same-distribution data, by sample size.

Usage: python benchmarks/drift_false_alarms.py [RUNS]      (default 500 runs per cell)

Each run draws a reference and a current sample of the same size from the same
distribution (numbers: a standard normal; categories: four labels at 40/30/20/10 %;
``ztest``: a 30 % binary) and counts how often each test says "drift": with its fixed
default threshold, and in ``calibrated`` mode (distances get a permutation p-value,
decided at alpha = 0.05; p-value tests are the same in both modes). Prints a markdown
table.
"""

from __future__ import annotations

import sys
import time

import numpy as np

from shipyard.stats.drift import permutation_p_value
from shipyard.stats.drift_tests import Sample, get_test

SIZES = (100, 1_000, 100_000)
ALPHA = 0.05
NUMERIC = {"ks", "wasserstein", "psi"}
TESTS = ("ks", "chisquare", "ztest", "wasserstein", "jensenshannon", "psi", "hellinger")


def sample(key: str, n: int, rng: np.random.Generator) -> Sample:
    if key in NUMERIC:
        return Sample.numeric(rng.normal(size=n))
    if key == "ztest":
        return Sample.categorical(rng.random(n) < 0.3)
    labels = np.array(["a", "b", "c", "d"])
    counts = rng.multinomial(n, [0.4, 0.3, 0.2, 0.1])
    return Sample.from_counts(labels, counts)


def main(runs: int) -> None:
    print(f"Same-distribution false-alarm rate, {runs} runs per cell (reference and current")
    print("of the size shown); fixed default threshold / calibrated (permutation, alpha 0.05):\n")
    print("| test | data | threshold | " + " | ".join(f"n = {n:,}" for n in SIZES) + " |")
    print("|---|---|---|" + "---:|" * len(SIZES))
    for key in TESTS:
        test = get_test(key)
        cells = []
        for n in SIZES:
            rng = np.random.default_rng(n)
            fixed = calibrated = 0
            for run in range(runs):
                ref, cur = sample(key, n, rng), sample(key, n, rng)
                result = test.run(ref, cur)
                fixed += result.drift_detected
                if test.threshold_kind == "distance":
                    p = permutation_p_value(
                        test, ref, cur, permutations=99, max_rows=5000, seed=run
                    )
                    calibrated += p < ALPHA
                else:
                    calibrated += result.drift_detected
            if test.threshold_kind == "distance":
                cells.append(f"{fixed / runs:.0%} / {calibrated / runs:.0%}")
            else:
                cells.append(f"{fixed / runs:.0%}")
        kind = "numeric" if key in NUMERIC else "binary" if key == "ztest" else "4 labels"
        rule = (
            "p < " if test.threshold_kind == "p_value" else ">= "
        ) + f"{test.default_threshold:g}"
        print(f"| {key} | {kind} | {rule} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    start = time.perf_counter()
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
    print(f"\n({time.perf_counter() - start:.0f} s)")
