"""Batch scoring against the raw model, as a markdown table.

    python benchmarks/batch.py      # ROWS=2000000 by default; ROWS=10000000 for the full run

Trains the serving benchmark's two models (``make_classification``, 20 features,
seed 0: a logistic regression and a random forest of 100 trees, depth 10), writes
``ROWS`` generated rows to Parquet (row groups of 100,000), and times, once each:

- the raw model's ``predict`` in-process on the same rows already in memory (the
  floor: no I/O at all);
- ``shipyard.batch.run_local`` on the Parquet file (read, validate, score, write);

and prints rows per second and the ratio. Compare rows of one run only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from shipyard.batch import BatchSpec, run_local
from shipyard.config import Settings
from shipyard.registry import Registry

ROWS = int(os.environ.get("ROWS", "2000000"))


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="shipyard-batch-bench-"))
    try:
        registry = Registry.from_settings(Settings(home=home / "home"))
        x, y = make_classification(n_samples=20_000, n_features=20, random_state=0)
        names = [f"x{i}" for i in range(20)]
        train = pd.DataFrame(x, columns=names)
        models = {
            "logreg": LogisticRegression(max_iter=1000, random_state=0).fit(train, y),
            "forest": RandomForestClassifier(
                n_estimators=100, max_depth=10, random_state=0, n_jobs=1
            ).fit(train, y),
        }
        rng = np.random.default_rng(0)
        data = pd.DataFrame(rng.normal(size=(ROWS, 20)), columns=names)
        source = home / "input.parquet"
        data.to_parquet(source, row_group_size=100_000)
        print(f"Batch scoring, {ROWS:,} rows x 20 float columns, one process\n")
        print("| model | raw predict rows/s | batch engine rows/s | engine / raw |")
        print("|---|---:|---:|---:|")
        for name, model in models.items():
            version = registry.register_model(model, name, training_data=train)
            loaded = registry.load(version.uri)
            started = time.perf_counter()
            model.predict(data)
            raw = ROWS / (time.perf_counter() - started)
            output = home / f"out-{name}"
            result = run_local(loaded, BatchSpec(input=str(source), output=output))
            engine = result.rows_in / result.seconds
            print(f"| {name} | {raw:,.0f} | {engine:,.0f} | {engine / raw:.2f} |")
            shutil.rmtree(output)
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
