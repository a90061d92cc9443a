"""The prediction log: one row per predicted row, in Parquet files partitioned by model
and day (``ROOT/model=NAME/date=YYYY-MM-DD/part-….parquet``).

Appending costs a tuple and a list append under a lock: the data plane hands over the
validated rows and the model's outputs as they are, one entry per model call (all the
requests a batch answered), or per request when a fallback answered or the call failed. A
background thread turns what accumulated into Arrow tables and writes them every
``flush_interval`` seconds, each file written to a temporary name and renamed, so a
reader never sees half a file. Column policies (:mod:`shipyard.protection`) are applied
there, to each flushed table as a whole, before it is written: the rows of a model that
came through endpoints with different policies go to files of their own. Rows whose
policy cannot be applied (a key is missing) are not written at all, and the log says so.
``close()`` flushes what is left; after a crash (``kill -9``) at most the last flush
interval of predictions is lost.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shipyard.errors import ShipyardError
from shipyard.predictions import scan
from shipyard.predictions.scan import prune_written_before
from shipyard.protection.policy import PolicyBook, Protector


class Route(NamedTuple):
    """Where a request came in through an endpoint: the endpoint, its revision serving
    then, the variant that answered (or the shadow version's name) and whether this is a
    shadow's copy (logged, never returned)."""

    endpoint: str
    revision: int
    variant: str
    shadow: bool = False


class _Entry(NamedTuple):
    """One model call's requests, rows and outputs, as handed over (a tuple: cheap to
    make). The per-request fields hold one value per request, in row order."""

    at: float
    model: str
    version: int | None
    request_ids: Sequence[str]
    protocols: Sequence[str]
    latencies: Sequence[float]
    rows: Sequence[int]
    inputs: pd.DataFrame | np.ndarray[Any, Any]
    columns: tuple[str, ...] | None
    predictions: np.ndarray[Any, Any] | None
    probabilities: np.ndarray[Any, Any] | None
    fallback: bool
    error: str | None
    total: int
    routes: Sequence[Route | None]


log = logging.getLogger("shipyard.predictions")

_DICTIONARY = ["model", "protocol", "error", "endpoint", "variant"]


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


class PredictionLogWriter:
    """Buffers predictions and writes them to Parquet from a background thread.

    ``policies`` gives the column policies at each flush (with the keys to apply them);
    ``None`` writes inputs as they came."""

    def __init__(
        self,
        root: Path,
        *,
        flush_interval: float = 1.0,
        policies: Callable[[], PolicyBook] | None = None,
    ) -> None:
        self.root = Path(root)
        self.flush_interval = flush_interval
        self.policies = policies
        self._buffer: list[tuple[Any, ...]] = []
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
        inputs: pd.DataFrame | np.ndarray[Any, Any],
        predictions: np.ndarray[Any, Any] | None,
        probabilities: np.ndarray[Any, Any] | None,
        latency_ms: float,
        fallback: bool = False,
        error: str | None = None,
        columns: tuple[str, ...] | None = None,
        route: Route | None = None,
    ) -> None:
        """Queue one request's rows and outputs (cheap; written later). ``inputs`` is a
        DataFrame, or a float matrix whose column names are ``columns``; ``route`` says
        which endpoint the request came through, if any."""
        if columns is None and isinstance(inputs, np.ndarray):
            raise ValueError("a matrix of inputs needs its column names")
        rows = len(inputs)
        entry: tuple[Any, ...] = (time.time(), model, version, (request_id,), (protocol,))
        entry += ((latency_ms,), (rows,), inputs, columns, predictions, probabilities)
        entry += (fallback, error, rows, (route,))
        with self._lock:
            self._buffer.append(entry)

    def append_batch(
        self,
        *,
        model: str,
        version: int | None,
        request_ids: Sequence[str],
        protocols: Sequence[str],
        latencies_ms: Sequence[float],
        rows: Sequence[int],
        inputs: pd.DataFrame | np.ndarray[Any, Any],
        predictions: np.ndarray[Any, Any],
        probabilities: np.ndarray[Any, Any] | None,
        columns: tuple[str, ...] | None = None,
        routes: Sequence[Route | None] | None = None,
    ) -> None:
        """Queue the requests one model call answered together, as one entry: their rows
        in order (``rows[i]`` of them for request ``i``), the call's outputs and, per
        request, the endpoint route it came through (``None``: straight to the model)."""
        if columns is None and isinstance(inputs, np.ndarray):
            raise ValueError("a matrix of inputs needs its column names")
        entry: tuple[Any, ...] = (time.time(), model, version, request_ids, protocols)
        entry += (latencies_ms, rows, inputs, columns, predictions, probabilities)
        entry += (False, None, len(inputs), routes or (None,) * len(request_ids))
        with self._lock:
            self._buffer.append(entry)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
            except Exception:  # keep writing later predictions whatever happened
                log.exception("prediction log: a flush failed")

    def flush(self) -> int:
        """Write everything queued so far; returns the number of rows written."""
        with self._lock:
            entries, self._buffer = self._buffer, []
        written = 0
        book = None
        if entries and self.policies is not None:
            try:
                book = self.policies()
            except Exception:  # never write what a policy may cover without it
                rows = sum(e[_TOTAL] for e in entries)
                log.exception(
                    "prediction log: the column policies could not be read; %d rows not written",
                    rows,
                )
                return 0
        for (model, day), group in _groups(entries):
            try:
                written += self._write(model, day, group, book)
            except ShipyardError as exc:  # a policy that cannot be applied: not written
                log.error(
                    "prediction log: %d rows of model %s not written: %s",
                    sum(group.total),
                    model,
                    exc,
                    extra={"model": model, "date": day, "rows": sum(group.total)},
                )
            except Exception:  # one group's failure must not cost the others
                log.exception(
                    "prediction log: could not write a group",
                    extra={"model": model, "date": day, "rows": sum(group.total)},
                )
        self.rows_written += written
        return written

    def _write(self, model: str, day: str, group: Any, book: PolicyBook | None) -> int:
        table = _table(group)
        parts = [table] if book is None else _protected(book, model, table)
        directory = self.root / f"model={model}" / f"date={day}"
        directory.mkdir(parents=True, exist_ok=True)
        for part in parts:
            name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
            tmp = directory / f".{name}.tmp"
            # Dictionary-encode only the few-valued text columns: on floats and ids it
            # costs most of the write (and makes the file larger).
            pq.write_table(part, tmp, use_dictionary=_DICTIONARY)
            tmp.rename(directory / name)
        return int(table.num_rows)

    def close(self) -> None:
        """Stop the background writer and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()


_TOTAL = _Entry._fields.index("total")


def _protected(book: PolicyBook, model: str, table: pa.Table) -> list[pa.Table]:
    """``table`` (rows of ``model``) under the column policies: one table per distinct
    policy its rows' endpoints have (usually one). Raises when a key is missing."""
    endpoints = table.column("endpoint")
    by_policy: dict[tuple[tuple[str, str], ...], list[str | None]] = defaultdict(list)
    for endpoint in pc.unique(endpoints).to_pylist():
        by_policy[tuple(sorted(book.effective(model, endpoint).items()))].append(endpoint)
    parts = []
    for policy, names in by_policy.items():
        if not policy:
            parts.append(table if len(by_policy) == 1 else table.filter(_rows_of(endpoints, names)))
            continue
        where = f"the column policy of model {model!r}"
        protector = Protector(dict(policy), book.keyring).check(where)  # type: ignore[arg-type]
        part = table if len(by_policy) == 1 else table.filter(_rows_of(endpoints, names))
        parts.append(protector.log_table(part))
    return parts


def _rows_of(endpoints: pa.ChunkedArray, names: list[str | None]) -> pa.ChunkedArray:
    """Which rows came through one of ``names`` (``None``: straight to the model)."""
    named = pa.array([n for n in names if n is not None], pa.string())
    mask = pc.fill_null(pc.is_in(endpoints, value_set=named), False)
    if None in names:
        mask = pc.or_(mask, pc.is_null(endpoints))
    return mask


def _groups(entries: list[tuple[Any, ...]]) -> list[tuple[tuple[str, str], Any]]:
    """Entries by model, version and UTC day, each group transposed: one tuple per field.
    The usual case, one model version within one day, takes no per-entry Python work."""
    field: Any = _Entry._make(zip(*entries, strict=True)) if entries else None
    if field is None:
        return []
    first, last = min(field.at), max(field.at)
    if (
        len(set(field.model)) == 1
        and len(set(field.version)) == 1
        and len(set(field.fallback)) == 1
    ):
        if int(first // 86400) == int(last // 86400):
            return [((field.model[0], _day(first)), field)]
    grouped: dict[tuple[str, int, int | None, bool], list[tuple[Any, ...]]] = defaultdict(list)
    fallback = _Entry._fields.index("fallback")
    for entry in entries:  # a fallback's answers (another model's) go in files of their own
        grouped[(entry[1], int(entry[0] // 86400), entry[2], entry[fallback])].append(entry)
    return [
        ((model, _day(group[0][0])), _Entry._make(zip(*group, strict=True)))
        for (model, _, _, _), group in grouped.items()
    ]


def _table(field: Any) -> pa.Table:
    """One Arrow table for the entries of one model version (``field``: one tuple per
    field), a row per predicted row.

    Built field by field with Arrow and numpy (no pandas, no per-entry objects): the
    writer runs beside the server and must cost it little."""
    count = len(field.at)
    requests = np.fromiter(map(len, field.request_ids), dtype=np.int64, count=count)
    rows = np.fromiter(chain.from_iterable(field.rows), dtype=np.int64)
    # Values given once per entry or per request are repeated onto their rows with
    # ``take``, skipped when there is nothing to repeat.
    entry_of_request = (
        None if bool((requests == 1).all()) else np.repeat(np.arange(count), requests)
    )
    request_of_row = None if bool((rows == 1).all()) else np.repeat(np.arange(len(rows)), rows)

    def onto_rows(array: pa.Array) -> pa.Array:
        return array if request_of_row is None else array.take(pa.array(request_of_row))

    def per_entry(values: Any, kind: pa.DataType) -> pa.Array:
        array = pa.array(values, type=kind)
        if entry_of_request is not None:
            array = array.take(pa.array(entry_of_request))
        return onto_rows(array)

    def per_request(values: Any, kind: pa.DataType) -> pa.Array:
        return onto_rows(pa.array(list(chain.from_iterable(values)), type=kind))

    at = (np.asarray(field.at, dtype=np.float64) * 1e9).astype(np.int64)
    starts = np.cumsum(rows) - rows
    columns: dict[str, pa.Array] = {
        "request_id": per_request(field.request_ids, pa.string()),
        "time": per_entry(at, pa.timestamp("ns", tz="UTC")),
        "model": per_entry(field.model, pa.string()),
        "version": per_entry(field.version, pa.int64()),
        "protocol": per_request(field.protocols, pa.string()),
        "row": pa.array((np.arange(int(rows.sum())) - np.repeat(starts, rows)).astype(np.int32)),
        "latency_ms": per_request(field.latencies, pa.float64()),
        "fallback": per_entry(field.fallback, pa.bool_()),
        "error": per_entry(field.error, pa.string()),
        **_routes(field.routes, onto_rows),
        "prediction": _outputs(field.predictions, field.total, None),
    }
    if any(p is not None for p in field.probabilities):
        columns["probabilities"] = _outputs(field.probabilities, field.total, pa.float64())
    columns["inputs"] = _inputs(field.inputs, field.columns)
    return pa.table(columns)


_NO_ROUTE = Route(None, None, None, False)  # type: ignore[arg-type]


def _routes(routes: tuple[Sequence[Route | None], ...], onto_rows: Any) -> dict[str, pa.Array]:
    """The ``endpoint``, ``revision``, ``variant`` and ``shadow`` columns: null (and not
    a shadow) for requests sent straight to a model."""
    flat = list(chain.from_iterable(routes))
    if not any(flat):
        count = len(flat)
        nulls = {
            "endpoint": pa.nulls(count, pa.string()),
            "revision": pa.nulls(count, pa.int64()),
            "variant": pa.nulls(count, pa.string()),
            "shadow": pa.array(np.zeros(count, dtype=bool)),
        }
        return {name: onto_rows(array) for name, array in nulls.items()}
    endpoint, revision, variant, shadow = zip(*(r or _NO_ROUTE for r in flat), strict=True)
    return {
        "endpoint": onto_rows(pa.array(endpoint, type=pa.string())),
        "revision": onto_rows(pa.array(revision, type=pa.int64())),
        "variant": onto_rows(pa.array(variant, type=pa.string())),
        "shadow": onto_rows(pa.array(shadow, type=pa.bool_())),
    }


def _outputs(
    values: tuple[Any, ...], rows: tuple[int, ...], listed: pa.DataType | None
) -> pa.Array:
    """Predictions (``listed=None``) or probabilities (lists of ``listed``) of every entry;
    an entry without them (an error) gets nulls."""
    if all(v is not None for v in values):
        try:
            matrix = np.concatenate(values)
            if listed is not None and matrix.ndim == 2:
                offsets = np.arange(0, matrix.size + 1, matrix.shape[1], dtype=np.int32)
                return pa.ListArray.from_arrays(
                    pa.array(offsets), pa.array(matrix.reshape(-1).astype(np.float64))
                )
            if listed is None and matrix.ndim == 1 and matrix.dtype.kind in "biuf":
                return pa.array(matrix)
        except (ValueError, TypeError, pa.ArrowException):
            pass  # shapes or types differ between entries: value by value below
    parts: list[Any] = []
    for value, n in zip(values, rows, strict=True):
        parts.extend([None] * n if value is None else np.asarray(value).tolist())
    try:
        return pa.array(parts, type=None if listed is None else pa.list_(listed))
    except (ValueError, TypeError, pa.ArrowException):  # mixed kinds: kept, as text
        return pa.array([None if p is None else str(p) for p in parts], type=pa.string())


def _inputs(inputs: tuple[Any, ...], names: tuple[tuple[str, ...] | None, ...]) -> pa.StructArray:
    """Every entry's input rows as one struct column (a field per input column)."""
    distinct = set(names)
    if len(distinct) == 1 and all(isinstance(x, np.ndarray) for x in inputs):
        (columns,) = distinct
        assert columns is not None
        matrix = np.concatenate(inputs)
        return pa.StructArray.from_arrays(
            [pa.array(matrix[:, j]) for j in range(len(columns))], names=list(columns)
        )
    frames = [
        x if isinstance(x, pd.DataFrame) else pd.DataFrame(x, columns=list(c or ()))
        for x, c in zip(inputs, names, strict=True)
    ]
    features = pa.Table.from_pandas(pd.concat(frames, ignore_index=True), preserve_index=False)
    return pa.StructArray.from_arrays(
        [c.combine_chunks() for c in features.columns], names=features.column_names
    )


def log_files(
    root: Path,
    *,
    model: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> dict[str, list[Path]]:
    """The log's files, by model, that may hold rows with ``start <= time < end``: days
    outside the range are skipped by their directory, files written before ``start`` by
    their name (see :func:`~shipyard.predictions.scan.prune_written_before`)."""
    root = Path(root)
    first = None if start is None else _day(start.timestamp())
    last = None if end is None else _day(end.timestamp())
    found: dict[str, list[Path]] = {}
    for directory in sorted(root.glob(f"model={model}" if model else "model=*")):
        days = [
            d
            for d in sorted(directory.glob("date=*"))
            if (first is None or d.name[5:] >= first) and (last is None or d.name[5:] <= last)
        ]
        files = [f for d in days for f in sorted(d.glob("part-*.parquet"))]
        files = prune_written_before(files, start)
        if files:
            found[directory.name[len("model=") :]] = files
    return found


_ORDER = ["time", "request_id", "row"]


def read_predictions(
    root: Path,
    *,
    model: str | None = None,
    endpoint: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    last: int | None = None,
    shadows: bool = True,
) -> pd.DataFrame:
    """Logged predictions (all, of one model, or of the requests that came through one
    endpoint; shadows' copies too unless ``shadows=False``) with ``start <= time < end``,
    oldest first; the ``inputs`` struct is flattened into ``inputs.<column>`` columns.
    ``last``: only the last that many such rows (days are read newest first until there
    are enough).

    Read with DuckDB, a query per model (models may type their predictions differently:
    labels against numbers), the filters pushed down to the files."""
    per_model = log_files(root, model=model, start=start, end=end)
    frames = []
    for files in per_model.values():
        if last is None:
            frames.append(_read_model(files, endpoint, start, end, None, shadows))
            continue
        # Newest day first, until the model alone has ``last`` rows.
        days: dict[str, list[Path]] = defaultdict(list)
        for f in files:
            days[f.parent.name].append(f)
        found: list[pd.DataFrame] = []
        count = 0
        for day in sorted(days, reverse=True):
            part = _read_model(days[day], endpoint, start, end, last - count, shadows)
            found.insert(0, part)
            count += len(part)
            if count >= last:
                break
        frames.append(pd.concat(found, ignore_index=True) if len(found) > 1 else found[0])
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if len(frames) > 1:
        frame = frame.sort_values(_ORDER, kind="stable")
    if last is not None:
        frame = frame.tail(last)
    return frame.reset_index(drop=True)


def _read_model(
    files: list[Path],
    endpoint: str | None,
    start: datetime | None,
    end: datetime | None,
    last: int | None,
    shadows: bool,
) -> pd.DataFrame:
    """One model's rows of ``files`` (see :func:`read_predictions`), oldest first: a
    query per group of files whose columns are typed alike."""
    frames = []
    for group, columns in scan.schema_groups(files, loose=["inputs"]):
        frame = _read_group(group, set(columns), endpoint, start, end, last, shadows)
        if len(frame):
            frames.append(frame)
    if not frames:
        return pd.DataFrame()
    if len(frames) == 1:
        return frames[0]
    frame = pd.concat(frames, ignore_index=True).sort_values(_ORDER, kind="stable")
    return (frame if last is None else frame.tail(last)).reset_index(drop=True)


def _read_group(
    files: list[Path],
    names: set[str],
    endpoint: str | None,
    start: datetime | None,
    end: datetime | None,
    last: int | None,
    shadows: bool,
) -> pd.DataFrame:
    if endpoint is not None and "endpoint" not in names:
        return pd.DataFrame()
    where: list[str] = []
    params: list[Any] = []
    if not shadows and "shadow" in names:
        where.append('NOT coalesce("shadow", false)')
    filters = (('"endpoint" = ?', endpoint), ('"time" >= ?', start), ('"time" < ?', end))
    for clause, value in filters:
        if value is not None:
            where.append(clause)
            params.append(value)
    condition = f"WHERE {' AND '.join(where)}" if where else ""
    try:
        if last is None:
            sql = f'SELECT * FROM log {condition} ORDER BY "time", request_id, "row"'
        else:
            sql = (
                f"SELECT * FROM (SELECT * FROM log {condition} "
                f'ORDER BY "time" DESC, request_id DESC, "row" DESC LIMIT {int(last)}) '
                'ORDER BY "time", request_id, "row"'
            )
        return scan.to_frame(scan.query(files, sql, params))
    except duckdb.Error:
        frame = scan.read_each(files)  # inputs DuckDB cannot unify: filtered in pandas
    if endpoint is not None:
        frame = frame[frame["endpoint"] == endpoint]
    if start is not None:
        frame = frame[frame["time"] >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame["time"] < pd.Timestamp(end)]
    if not shadows and "shadow" in frame:
        frame = frame[~frame["shadow"].fillna(False).astype(bool)]
    frame = frame.sort_values(_ORDER, kind="stable")
    return (frame if last is None else frame.tail(last)).reset_index(drop=True)


def logged_keys(root: Path, keys: pd.DataFrame) -> pd.Series:
    """Which rows of ``keys`` (``request_id`` and ``row`` columns) the log holds: a
    boolean Series on ``keys``' index. Only those two columns are read."""
    if not len(keys):
        return pd.Series(False, index=keys.index)
    wanted = scan.key_table(keys, positions=True)
    files = [f for group in log_files(root).values() for f in group]
    if not files:
        return pd.Series(False, index=keys.index)
    sql = (
        "SELECT position FROM wanted WHERE EXISTS (SELECT 1 FROM log "
        'WHERE log.request_id = wanted.request_id AND log."row" = wanted."row")'
    )
    try:
        found = scan.query(files, sql, tables={"wanted": wanted}).column("position")
        hits = found.to_numpy()
    except duckdb.Error:
        logged = scan.read_each(files, columns=["request_id", "row"])
        known = pd.MultiIndex.from_frame(logged.astype({"request_id": str, "row": "int64"}))
        mine = pd.MultiIndex.from_arrays([wanted["request_id"], wanted["row"]])
        hits = np.flatnonzero(mine.isin(known))
    mask = np.zeros(len(keys), dtype=bool)
    mask[hits] = True
    return pd.Series(mask, index=keys.index)
