"""The prediction log: one row per predicted row, in Parquet files partitioned by model
and day (``ROOT/model=NAME/date=YYYY-MM-DD/part-….parquet``).

Appending costs a list append under a lock: the data plane hands over the validated
rows and the model's outputs as they are. A background thread turns what accumulated
into Arrow tables and writes them every ``flush_interval`` seconds, each file written
to a temporary name and renamed, so a reader never sees half a file. ``close()``
flushes what is left; after a crash (``kill -9``) at most the last flush interval of
predictions is lost.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class _Entry:
    at: float
    model: str
    version: int | None
    request_id: str
    protocol: str
    inputs: pd.DataFrame
    predictions: np.ndarray[Any, Any] | None
    probabilities: np.ndarray[Any, Any] | None
    latency_ms: float
    fallback: bool
    error: str | None


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


class PredictionLogWriter:
    """Buffers predictions and writes them to Parquet from a background thread."""

    def __init__(self, root: Path, *, flush_interval: float = 1.0) -> None:
        self.root = Path(root)
        self.flush_interval = flush_interval
        self._buffer: list[_Entry] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.rows_written = 0

    def start(self) -> PredictionLogWriter:
        """Start the background writer (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
            self._thread.start()
        return self

    def append(
        self,
        *,
        model: str,
        version: int | None,
        request_id: str,
        protocol: str,
        inputs: pd.DataFrame,
        predictions: np.ndarray[Any, Any] | None,
        probabilities: np.ndarray[Any, Any] | None,
        latency_ms: float,
        fallback: bool = False,
        error: str | None = None,
    ) -> None:
        """Queue one request's rows and outputs (cheap; written later)."""
        entry = _Entry(
            time.time(),
            model,
            version,
            request_id,
            protocol,
            inputs,
            predictions,
            probabilities,
            latency_ms,
            fallback,
            error,
        )
        with self._lock:
            self._buffer.append(entry)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def flush(self) -> int:
        """Write everything queued so far; returns the number of rows written."""
        with self._lock:
            entries, self._buffer = self._buffer, []
        groups: dict[tuple[str, str, int | None], list[_Entry]] = defaultdict(list)
        for entry in entries:
            groups[(entry.model, _day(entry.at), entry.version)].append(entry)
        written = 0
        for (model, day, _), group in groups.items():
            table = _table(group)
            directory = self.root / f"model={model}" / f"date={day}"
            directory.mkdir(parents=True, exist_ok=True)
            name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
            tmp = directory / f".{name}.tmp"
            pq.write_table(table, tmp)
            tmp.rename(directory / name)
            written += table.num_rows
        self.rows_written += written
        return written

    def close(self) -> None:
        """Stop the background writer and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()


def _table(entries: list[_Entry]) -> pa.Table:
    """One Arrow table for entries of one model version: a row per predicted row."""
    counts = [len(e.inputs) for e in entries]
    repeat = np.repeat
    at = repeat(np.array([e.at for e in entries]), counts)
    inputs = pd.concat([e.inputs for e in entries], ignore_index=True)
    row_in_request = np.concatenate([np.arange(n) for n in counts]) if counts else np.array([])
    columns: dict[str, Any] = {
        "request_id": repeat(np.array([e.request_id for e in entries], dtype=object), counts),
        "time": pd.to_datetime(at, unit="s", utc=True),
        "model": repeat(np.array([e.model for e in entries], dtype=object), counts),
        "version": pd.array(repeat([e.version for e in entries], counts), dtype="Int64"),
        "protocol": repeat(np.array([e.protocol for e in entries], dtype=object), counts),
        "row": row_in_request.astype("int32"),
        "latency_ms": repeat(np.array([e.latency_ms for e in entries]), counts),
        "fallback": repeat(np.array([e.fallback for e in entries]), counts),
        "error": repeat(np.array([e.error for e in entries], dtype=object), counts),
    }
    predictions = [
        e.predictions if e.predictions is not None else np.full(n, None, dtype=object)
        for e, n in zip(entries, counts, strict=True)
    ]
    columns["prediction"] = np.concatenate(predictions) if predictions else []
    if any(e.probabilities is not None for e in entries):
        probabilities: list[list[float] | None] = []
        for e, n in zip(entries, counts, strict=True):
            if e.probabilities is None:
                probabilities.extend([None] * n)
            else:
                probabilities.extend(e.probabilities.tolist())
        columns["probabilities"] = probabilities
    frame = pd.DataFrame(columns)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    features = pa.Table.from_pandas(inputs, preserve_index=False)
    return table.append_column(
        "inputs",
        pa.StructArray.from_arrays(
            [c.combine_chunks() for c in features.columns], names=features.column_names
        ),
    )


def read_predictions(
    root: Path,
    *,
    model: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Logged predictions (all, or of one model) with ``start <= time < end``, oldest first;
    the ``inputs`` struct is flattened into ``inputs.<column>`` columns."""
    root = Path(root)
    pattern = f"model={model}/date=*/part-*.parquet" if model else "model=*/date=*/part-*.parquet"
    files = sorted(root.glob(pattern))
    if start is not None or end is not None:
        first = _day((start or datetime.min.replace(tzinfo=UTC)).timestamp()) if start else None
        last = _day(end.timestamp()) if end else None
        files = [
            f
            for f in files
            if (first is None or f.parent.name[5:] >= first)
            and (last is None or f.parent.name[5:] <= last)
        ]
    if not files:
        return pd.DataFrame()
    # Files of different models (or versions) may type their columns differently, e.g. a
    # label prediction against a numeric one: pandas holds such a mix, Arrow would refuse.
    frames = [pq.read_table(f).flatten().to_pandas() for f in files]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if start is not None:
        frame = frame[frame["time"] >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame["time"] < pd.Timestamp(end)]
    ordered: pd.DataFrame = frame.sort_values(["time", "request_id", "row"], kind="stable")
    return ordered.reset_index(drop=True)
