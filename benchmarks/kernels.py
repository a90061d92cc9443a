"""Compiled scikit-learn models against scikit-learn itself, in process, as a markdown table.

    python benchmarks/kernels.py            # about half a minute

The models of the serving benchmark (20 features, ``make_classification`` with 20,000
rows): a logistic regression and a random forest of 100 trees of depth 10, plus a
regression forest. For 1, 32 and 1,000 rows per call: scikit-learn's ``predict`` plus
``predict_proba`` on a DataFrame (what a server calls), and the compiled kernel on the
float matrix (one call gives both). Every kernel answer is checked equal to
scikit-learn's before it is timed. Compare rows of one run only.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression

from shipyard.runtimes.base import float_frame
from shipyard.runtimes.sklearn import SklearnRuntime

COLUMNS = [f"f{i}" for i in range(20)]


def per_call(action: Callable[[], object]) -> float:
    """Median seconds per call over five rounds of about 0.1 s each."""
    action()
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < 0.1:
        action()
        calls += 1
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            action()
        rounds.append((time.perf_counter() - start) / calls)
    return statistics.median(rounds)


def main() -> None:
    x, y = make_classification(n_samples=20_000, n_features=20, random_state=0)
    frame = pd.DataFrame(x, columns=COLUMNS)
    models: dict[str, Any] = {
        "logistic regression": LogisticRegression(max_iter=1000).fit(frame, y),
        "random forest (100 trees, depth 10)": RandomForestClassifier(
            n_estimators=100, max_depth=10, random_state=0
        ).fit(frame, y),
        "regression forest (100 trees, depth 10)": RandomForestRegressor(
            n_estimators=100, max_depth=10, random_state=0
        ).fit(frame, x[:, 0] + y),
    }
    test = np.random.default_rng(1).normal(size=(1000, 20))
    print("| model | rows per call | scikit-learn µs | compiled µs | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for name, model in models.items():
        kernel = SklearnRuntime(model).compile(COLUMNS)
        assert kernel is not None
        for rows in (1, 32, 1000):
            matrix = np.ascontiguousarray(test[:rows])
            data = float_frame(matrix, COLUMNS)
            got = kernel(matrix)
            assert got is not None and np.array_equal(got[0], model.predict(data))
            has_proba = hasattr(model, "predict_proba")
            if has_proba:
                assert np.array_equal(got[1], model.predict_proba(data))

            def reference(model: Any = model, data: pd.DataFrame = data) -> None:
                model.predict(data)
                if hasattr(model, "predict_proba"):
                    model.predict_proba(data)

            slow = per_call(reference) * 1e6
            fast = per_call(lambda matrix=matrix, kernel=kernel: kernel(matrix)) * 1e6
            print(f"| {name} | {rows:,} | {slow:,.0f} | {fast:,.1f} | {slow / fast:,.0f}x |")


if __name__ == "__main__":
    main()
