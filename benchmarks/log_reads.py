"""How long a monitor's reads of the prediction log and feedback take, as a markdown table.

    python benchmarks/log_reads.py          # about a minute; FILES=2000 ROWS=2000 to change

Writes a log as the data plane does: ``FILES`` flushes of ``ROWS`` rows each (20 float
inputs, a label, two probabilities, an endpoint route), spread evenly over the last two
days, so one day holds half of them; and labels for a tenth of the rows, in loads of
``LOAD`` labels (a file each). Then times,
best of three:

- a one-hour window of one endpoint (``read_predictions(start=, end=, endpoint=)``);
- the last 5,000 rows of it (``last=5000``, what a ``--rows`` window reads);
- the whole log;
- the labels of the one-hour window's rows (``read_feedback(keys=)``);

beside the plain way of reading the same rows: every file of the window's days read with
Arrow and filtered in pandas (the whole log for the last rows and for the labels). Compare
rows of one run only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from shipyard.predictions import FeedbackStore, Route, read_feedback, read_predictions
from shipyard.predictions.log import PredictionLogWriter, _groups

FILES = int(os.environ.get("FILES", "1000"))
ROWS = int(os.environ.get("ROWS", "2000"))
LOAD = int(os.environ.get("LOAD", "1000"))


def _write_log(root: Path) -> list[str]:
    writer = PredictionLogWriter(root / "predictions", flush_interval=3600)
    rng = np.random.default_rng(0)
    columns = tuple(f"f{k}" for k in range(20))
    now = time.time()
    labelled: list[str] = []
    for i in range(FILES):
        at = now - 2 * 86400 + (i + 1) * (2 * 86400 / FILES) - 1
        ids = [f"r{i}-{j}" for j in range(ROWS)]
        entry = (at, "m", 1, ids, ["v1"] * ROWS, [1.0] * ROWS, [1] * ROWS)
        entry += (rng.normal(size=(ROWS, 20)), columns, rng.integers(0, 2, ROWS))
        entry += (rng.random((ROWS, 2)), False, None, ROWS, [Route("ep", 1, "a")] * ROWS)
        for (model, day), group in _groups([entry]):
            writer._write(model, day, group)
        labelled += ids[::10]
    return labelled


def _plain_window(root: Path, start: datetime, end: datetime) -> pd.DataFrame:
    days = {start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d")}
    files = [f for f in sorted(root.glob("model=m/date=*/*.parquet")) if f.parent.name[5:] in days]
    frame = pd.concat([pq.read_table(f).flatten().to_pandas() for f in files], ignore_index=True)
    frame = frame[(frame["endpoint"] == "ep") & (frame["time"] >= start) & (frame["time"] < end)]
    return frame.sort_values(["time", "request_id", "row"])


def _plain_all(root: Path) -> pd.DataFrame:
    files = sorted(root.glob("model=m/date=*/*.parquet"))
    frame = pd.concat([pq.read_table(f).flatten().to_pandas() for f in files], ignore_index=True)
    return frame.sort_values(["time", "request_id", "row"])


def _plain_labels(root: Path, keys: pd.DataFrame) -> pd.DataFrame:
    files = sorted(root.glob("date=*/*.parquet"))
    frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    frame = frame.drop_duplicates(["request_id", "row"], keep="last")
    return frame.merge(keys, on=["request_id", "row"])


def _best(fn: Callable[[], Any]) -> tuple[float, int]:
    best, size = float("inf"), 0
    for _ in range(3):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
        size = len(out)
    return best, size


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="shipyard-log-bench-"))
    try:
        labelled = _write_log(home)
        log, labels = home / "predictions", home / "feedback"
        store = FeedbackStore(labels)
        for part in range(0, len(labelled), LOAD):  # one file per load, as stored
            chunk = labelled[part : part + LOAD]
            store.add(pd.DataFrame({"request_id": chunk, "label": 1}))
        end = datetime.now(UTC)
        start = end - timedelta(hours=1)
        window = read_predictions(log, endpoint="ep", start=start, end=end)
        keys = window[["request_id", "row"]].astype({"row": "int64"})
        cases = [
            (
                "one-hour window",
                lambda: read_predictions(log, endpoint="ep", start=start, end=end),
                lambda: _plain_window(log, start, end),
            ),
            (
                "last 5,000 rows",
                lambda: read_predictions(log, endpoint="ep", end=end, last=5000),
                lambda: _plain_all(log).tail(5000),
            ),
            ("whole log", lambda: read_predictions(log), lambda: _plain_all(log)),
            (
                "labels of the window",
                lambda: read_feedback(labels, keys=keys),
                lambda: _plain_labels(labels, keys),
            ),
        ]
        print(
            f"Prediction log: {FILES:,} files of {ROWS:,} rows over two days "
            f"({FILES * ROWS:,} rows), labels for {len(labelled):,} in "
            f"{-(-len(labelled) // LOAD):,} files\n"
        )
        print("| read | rows | shipyard s | plain Arrow + pandas s | speed-up |")
        print("|---|---:|---:|---:|---:|")
        for name, ours, plain in cases:
            (mine, rows), (theirs, _) = _best(ours), _best(plain)
            print(f"| {name} | {rows:,} | {mine:.3f} | {theirs:.3f} | {theirs / mine:.1f}x |")
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
