"""Batch scoring against the raw model, as a markdown table.

    python benchmarks/batch.py                 # ROWS=1000000,10000000 (a few minutes)
    ROWS=2000000 python benchmarks/batch.py    # one size

Trains the serving benchmark's two models (``make_classification``, 20 features,
seed 0: a logistic regression and a random forest of 100 trees, depth 10), writes
``ROWS`` generated rows to Parquet (row groups of 100,000, pandas' defaults otherwise),
and times:

- **raw predict**: the model's own ``predict`` in-process on the same rows already in
  memory (a DataFrame): the floor the issue sets, with no I/O at all;
- **read only**: the engine's reader alone (every chunk of the input read with Arrow,
  nothing done with it): the I/O floor the engine cannot pass;
- **engine, 1 worker** and **engine, all cores**: ``shipyard.batch.run_local`` on the
  file (plan, read, validate, score with labels and probabilities, write Parquet parts),
  with ``workers=1`` and with its default.

Each figure is the best of two runs when a run takes under 5 s, else one run. Rows of
one run only are compared; ``engine / raw`` and ``all / 1`` are the ratios that count.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from shipyard.batch import BatchSpec, run_local
from shipyard.batch.engine import CHUNK_ROWS, default_workers, plan, read_unit
from shipyard.config import Settings
from shipyard.registry import Registry
from shipyard.registry.loaded import LoadedModel

SIZES = [int(n) for n in os.environ.get("ROWS", "1000000,10000000").split(",")]
NAMES = [f"x{i}" for i in range(20)]


def _best(run: Callable[[], object]) -> float:
    """Seconds of ``run``: the best of two when it is quick."""
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    if seconds < 5:
        started = time.perf_counter()
        run()
        seconds = min(seconds, time.perf_counter() - started)
    return seconds


def _read(source: Path) -> int:
    """Every chunk of the input read as the engine reads it, and nothing else."""
    units = plan(ds.dataset(source), CHUNK_ROWS)
    return sum(batch.num_rows for unit in units for batch in read_unit(unit, NAMES))


def _score(loaded: LoadedModel, source: Path, home: Path, workers: int | None) -> None:
    out = home / "out"
    run_local(loaded, BatchSpec(str(source), out, workers=workers))
    shutil.rmtree(out)
    shutil.rmtree(home / "out-rejects", ignore_errors=True)


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="shipyard-batch-bench-"))
    try:
        registry = Registry.from_settings(Settings(home=home / "home"))
        x, y = make_classification(n_samples=20_000, n_features=20, random_state=0)
        train = pd.DataFrame(x, columns=NAMES)
        models = {
            "logreg": LogisticRegression(max_iter=1000, random_state=0).fit(train, y),
            "forest": RandomForestClassifier(
                n_estimators=100, max_depth=10, random_state=0, n_jobs=1
            ).fit(train, y),
        }
        loaded = {}
        for name, model in models.items():
            version = registry.register_model(model, name, training_data=train)
            loaded[name] = registry.load(version.uri)
        cores = default_workers()
        print(f"Batch scoring, 20 float columns, Parquet in and out, {cores} cores\n")
        print(
            "| model | rows | raw predict rows/s | read only rows/s | engine 1 worker rows/s "
            "| engine / raw | engine all cores rows/s | all / 1 |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for rows in SIZES:
            rng = np.random.default_rng(0)
            data = pd.DataFrame(rng.normal(size=(rows, 20)), columns=NAMES)
            source = home / "input.parquet"
            data.to_parquet(source, row_group_size=100_000)
            read = _best(functools.partial(_read, source))
            for name, model in models.items():
                raw = _best(functools.partial(model.predict, data))
                figures = []
                for workers in (1, None):
                    spec = functools.partial(_score, loaded[name], source, home, workers)
                    figures.append(rows / _best(spec))
                one, every = figures
                print(
                    f"| {name} | {rows:,} | {rows / raw:,.0f} | {rows / read:,.0f} | {one:,.0f} "
                    f"| {one / (rows / raw):.2f} | {every:,.0f} | {every / one:.2f} |"
                )
            del data
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
