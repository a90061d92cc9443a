"""Reading Parquet files of the prediction log and feedback with DuckDB: filters and
projections run inside DuckDB (pushed down to the files' row-group statistics), files are
read in parallel, and only the rows asked for reach pandas.

Files written at different times may type a column differently (a version answering
labels, a later one numbers; a load of text labels after one of integers). DuckDB unifies
such columns by name (numbers and text become text); files whose columns cannot be
unified at all are read one by one with Arrow instead, so a read never fails on them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

_WRITTEN = re.compile(r"^part-(\d+)-")

#: Threads DuckDB may use for one read (the server answers requests beside it).
THREADS = 2


def written_ns(path: Path) -> int | None:
    """When a ``part-<ns>-<id>.parquet`` file was written (its name says), else ``None``."""
    found = _WRITTEN.match(path.name)
    return int(found.group(1)) if found else None


def prune_written_before(files: Iterable[Path], start: datetime | None) -> list[Path]:
    """Files that may hold rows at or after ``start``: a file is written after every row
    in it was logged, so one written before ``start`` holds none."""
    if start is None:
        return list(files)
    floor = int(start.timestamp() * 1e9)
    kept = []
    for path in files:
        at = written_ns(path)
        if at is None or at >= floor:
            kept.append(path)
    return kept


def key_table(keys: pd.DataFrame, *, positions: bool = False) -> pa.Table:
    """``keys``' ``request_id`` (as text) and ``row`` as an Arrow table DuckDB can join
    on, with each key's ``position`` in ``keys`` when asked."""
    columns = {
        "request_id": pa.array(keys["request_id"].astype(str), type=pa.string()),
        "row": pa.array(keys["row"].astype("int64"), type=pa.int64()),
    }
    if positions:
        columns["position"] = pa.array(range(len(keys)), type=pa.int64())
    return pa.table(columns)


def connect() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    connection.execute(f"SET threads = {THREADS}")
    return connection


def query(
    files: Sequence[Path],
    sql: str,
    params: Sequence[Any] = (),
    *,
    tables: dict[str, Any] | None = None,
    **options: Any,
) -> pa.Table:
    """``sql`` over the files, which it names ``log`` (``SELECT … FROM log …``); ``tables``
    are further relations (Arrow tables or DataFrames) it may name; ``options`` go to
    DuckDB's ``read_parquet`` (e.g. ``filename=True``). Raises
    :class:`duckdb.Error` when the files' columns cannot be unified."""
    connection = connect()
    try:
        relation = connection.read_parquet([str(f) for f in files], union_by_name=True, **options)
        connection.register("log", relation)
        for name, value in (tables or {}).items():
            connection.register(name, value)
        return connection.sql(sql, params=list(params) or None).to_arrow_table()
    finally:
        connection.close()


def schema_groups(
    files: Sequence[Path], *, loose: Iterable[str] = ()
) -> list[tuple[list[Path], dict[str, str]]]:
    """``files`` grouped by their top-level columns and types (read from the files'
    footers only), each group with its ``{column: type}``: a query per group keeps a
    column typed as written (numbers stay numbers beside a group where it holds text).
    Columns named in ``loose`` (e.g. ``inputs``) are left out of the grouping: DuckDB
    unifies them."""
    connection = connect()
    try:
        rows = connection.execute(
            "SELECT file_name, name, duckdb_type, num_children FROM parquet_schema(?)",
            [[str(f) for f in files]],
        ).fetchall()
    finally:
        connection.close()
    tops: dict[str, dict[str, str]] = defaultdict(dict)
    by_file: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for file_name, name, kind, children in rows:
        by_file[str(file_name)].append((str(name), str(kind), int(children or 0)))
    for file_name, nodes in by_file.items():
        # Depth-first: the root, then each top-level column followed by its subtree.
        at = 1
        for _ in range(nodes[0][2] if nodes else 0):
            name, kind, _children = nodes[at]
            tops[file_name][name] = kind
            at = _skip(nodes, at)
    groups: dict[tuple[tuple[str, str], ...], list[Path]] = defaultdict(list)
    ignored = set(loose)
    for path in files:
        columns = tops.get(str(path), {})
        key = tuple(sorted((n, "" if n in ignored else k) for n, k in columns.items()))
        groups[key].append(path)
    return [(paths, dict(key)) for key, paths in groups.items()]


def _skip(nodes: list[tuple[str, str, int]], at: int) -> int:
    """The index after the subtree starting at ``nodes[at]``."""
    pending = 1
    while pending:
        pending += nodes[at][2] - 1
        at += 1
    return at


def read_each(files: Sequence[Path], columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The files read one by one with Arrow (columns that differ in type stay as they are,
    side by side in an object column): the fallback when DuckDB cannot unify them."""
    frames = []
    for path in files:
        schema = pq.read_schema(path)
        wanted = None if columns is None else [c for c in columns if c in schema.names]
        frames.append(to_frame(pq.read_table(path, columns=wanted)))
    if not frames:
        return pd.DataFrame()
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as pandas, struct columns flattened (``inputs.<column>``) and times
    in UTC."""
    frame: pd.DataFrame = table.flatten().to_pandas()
    for name in frame.columns:
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype):
            frame[name] = frame[name].dt.tz_convert("UTC")
    return frame
