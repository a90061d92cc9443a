"""Feedback: ground truth that arrives after the prediction, joined to the prediction log
by request id and row.

Feedback is kept as Parquet files partitioned by the day it was received
(``ROOT/date=YYYY-MM-DD/part-….parquet``), each written to a temporary name and renamed,
so a reader never sees half a file. Files are never rewritten: a later label for the same
request id and row supersedes an earlier one when feedback is read (last wins).

A label given for a request id alone belongs to row 0 of that request (a single-row
request); a multi-row request is labelled row by row with a row column. Every row given
to :meth:`FeedbackStore.add` is accounted for in its :class:`FeedbackReceipt`:

- *stored*, and of these *matched* (the prediction log holds that request id and row) or
  *unmatched* (kept anyway: the prediction may be logged later, and is matched whenever
  feedback is read and joined);
- *replaced*: an earlier row of the same load with the same id and row (``duplicates``,
  not stored), or a label stored by an earlier load (``replaced``, superseded);
- *rejected*: no request id, no label, or a row that is not a non-negative integer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel

from shipyard.config import Settings
from shipyard.errors import InvalidInputError
from shipyard.predictions import scan
from shipyard.predictions.log import logged_keys

#: How many example ids a receipt lists per outcome.
EXAMPLES = 5

KEY = ["request_id", "row"]


class FeedbackReceipt(BaseModel):
    """What became of each row handed to :meth:`FeedbackStore.add`.

    ``received == stored + duplicates + rejected``; ``matched + unmatched == stored``
    when the prediction log was checked (``None`` otherwise).
    """

    source: str
    received: int
    """Rows given."""
    stored: int
    """Rows written (one per request id and row)."""
    matched: int | None
    """Stored rows whose request id and row are in the prediction log now."""
    unmatched: int | None
    """Stored rows not in the prediction log (yet): kept, and matched when read later."""
    duplicates: int
    """Rows of this load superseded by a later row with the same request id and row."""
    replaced: int
    """Labels stored by earlier loads that this load supersedes."""
    rejected: int
    """Rows refused, not stored."""
    rejected_reasons: dict[str, int]
    """Why, and how many each: ``missing request id``, ``missing label``, ``invalid row``."""
    examples: dict[str, list[str]]
    """Up to five request ids per outcome (``unmatched``, ``duplicates``, ``replaced``,
    ``rejected``; a rejected row without an id is named by its position among the data
    rows, counting from 0: ``row N (from 0)``)."""
    path: str | None
    """The file written (``None`` when nothing was stored)."""

    def to_dict(self) -> dict[str, Any]:
        """The receipt as JSON-ready data."""
        return self.model_dump(mode="json")


def _frame(data: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data.reset_index(drop=True)
    return pd.DataFrame.from_records(list(data))


def _missing(values: pd.Series) -> pd.Series:
    """Null, NaN, or blank text."""
    blank = values.map(lambda v: isinstance(v, str) and not v.strip())
    return values.isna() | blank.astype(bool)


def _ids(values: pd.Series) -> pd.Series:
    """Request ids as text; integral floats (a numeric column with gaps) lose their ``.0``."""

    def text(value: Any) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    return values.map(text)


def _labels(values: pd.Series) -> pd.Series:
    """Labels in a type Parquet can hold: as given when uniform, else as text."""
    try:
        pa.array(values, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return values.map(str)
    return values


class FeedbackStore:
    """Feedback files under ``root``; ``predictions`` (the prediction log's directory) is
    where :meth:`add` looks for the requests it labels."""

    def __init__(self, root: Path, *, predictions: Path | None = None) -> None:
        self.root = Path(root)
        self.predictions = None if predictions is None else Path(predictions)

    @classmethod
    def from_settings(cls, settings: Settings) -> FeedbackStore:
        """The store under ``settings.feedback``, checked against ``settings.predictions``."""
        return cls(settings.feedback, predictions=settings.predictions)

    def add(
        self,
        data: pd.DataFrame | Iterable[Mapping[str, Any]],
        *,
        id_column: str = "request_id",
        label_column: str = "label",
        row_column: str | None = None,
        source: str = "",
    ) -> FeedbackReceipt:
        """Store labels from a DataFrame or records; see the module documentation for
        what is stored, replaced, rejected, matched and unmatched."""
        frame = _frame(data)
        if frame.empty and not len(frame.columns):
            raise InvalidInputError(
                "no labels given; send at least one row with a request id and a label"
            )
        needed = [id_column, label_column] + ([row_column] if row_column else [])
        absent = [c for c in needed if c not in frame.columns]
        if absent:
            have = ", ".join(map(str, frame.columns)) or "none"
            raise InvalidInputError(
                f"feedback has no column {', '.join(map(repr, absent))} (its columns: {have}); "
                "name the right ones with --id-column, --label-column and --row-column "
                "(id_column, label_column and row_column over REST)"
            )
        received = len(frame)
        reasons: dict[str, int] = {}
        rejected_examples: list[str] = []
        no_id = _missing(frame[id_column])
        ids = _ids(frame[id_column]).where(~no_id, None)
        rows = pd.Series(0, index=frame.index, dtype="int64")
        bad = pd.Series(False, index=frame.index)
        checks = [("missing request id", no_id)]
        if row_column:
            numbers = pd.to_numeric(frame[row_column], errors="coerce")
            invalid_row = numbers.isna() | (numbers < 0) | (numbers % 1 != 0)
            checks.append(("invalid row", invalid_row & ~no_id))
            rows = numbers.where(~invalid_row, 0).astype("int64")
        checks.append(("missing label", _missing(frame[label_column])))
        for reason, mask in checks:
            mask = mask & ~bad
            if mask.any():
                reasons[reason] = int(mask.sum())
                for position in mask[mask].index[: EXAMPLES - len(rejected_examples)]:
                    rejected_examples.append(
                        f"row {position} (from 0)" if no_id[position] else str(ids[position])
                    )
            bad |= mask
        kept = pd.DataFrame(
            {"request_id": ids[~bad], "row": rows[~bad], "label": frame[label_column][~bad]}
        )
        earlier = kept.duplicated(KEY, keep="last")
        duplicate_ids = _examples(kept["request_id"][earlier])
        kept = kept[~earlier].reset_index(drop=True)

        replaced = _inner(kept, read_feedback(self.root, keys=kept))
        matched = None if self.predictions is None else logged_keys(self.predictions, kept)
        path = self._write(kept, source) if len(kept) else None
        examples = {
            "duplicates": duplicate_ids,
            "replaced": _examples(kept["request_id"][replaced]),
            "rejected": rejected_examples,
        }
        if matched is not None:
            examples["unmatched"] = _examples(kept["request_id"][~matched])
        return FeedbackReceipt(
            source=source,
            received=received,
            stored=len(kept),
            matched=None if matched is None else int(matched.sum()),
            unmatched=None if matched is None else int((~matched).sum()),
            duplicates=int(earlier.sum()),
            replaced=int(replaced.sum()),
            rejected=int(bad.sum()),
            rejected_reasons=reasons,
            examples=examples,
            path=None if path is None else str(path),
        )

    def _write(self, kept: pd.DataFrame, source: str) -> Path:
        now = datetime.now(UTC)
        table = pa.table(
            {
                "request_id": pa.array(kept["request_id"], type=pa.string()),
                "row": pa.array(kept["row"], type=pa.int32()),
                "label": pa.array(_labels(kept["label"]), from_pandas=True),
                "source": pa.array([source] * len(kept), type=pa.string()),
                "received_at": pa.array([now] * len(kept), type=pa.timestamp("ns", tz="UTC")),
            }
        )
        directory = self.root / f"date={now.strftime('%Y-%m-%d')}"
        directory.mkdir(parents=True, exist_ok=True)
        name = f"part-{time.time_ns()}-{uuid.uuid4().hex[:8]}.parquet"
        tmp = directory / f".{name}.tmp"
        pq.write_table(table, tmp)
        tmp.rename(directory / name)
        return directory / name


def _examples(ids: pd.Series) -> list[str]:
    return [str(i) for i in ids.head(EXAMPLES)]


def _inner(frame: pd.DataFrame, keys: pd.DataFrame) -> pd.Series:
    """Which rows of ``frame`` have their request id and row in ``keys``."""
    if not len(keys) or not len(frame):
        return pd.Series(False, index=frame.index)
    known = pd.MultiIndex.from_frame(keys[KEY].astype({"request_id": str, "row": "int64"}))
    mine = pd.MultiIndex.from_frame(frame[KEY].astype({"request_id": str, "row": "int64"}))
    return pd.Series(mine.isin(known), index=frame.index)


def read_feedback(root: Path, keys: pd.DataFrame | None = None) -> pd.DataFrame:
    """Stored labels, the latest per request id and row (of every one, or only of the
    ``request_id`` and ``row`` pairs in ``keys``): columns ``request_id``, ``row``,
    ``label``, ``source``, ``received_at``. Read with DuckDB, only the wanted rows."""
    empty = pd.DataFrame(columns=[*KEY, "label", "source", "received_at"])
    files = sorted(Path(root).glob("date=*/part-*.parquet"))  # names sort oldest first
    if not files or (keys is not None and not len(keys)):
        return empty
    wanted = None
    sql = "SELECT * FROM log"
    if keys is not None:
        wanted = scan.key_table(keys)
        sql += (
            " WHERE EXISTS (SELECT 1 FROM wanted WHERE wanted.request_id = log.request_id"
            ' AND wanted."row" = log."row")'
        )
    frames: list[pd.DataFrame] = []
    # Loads may type their labels differently (text in one, numbers in another): a query
    # per group of alike files keeps each label as it was given.
    for group, _columns in scan.schema_groups(files):
        try:
            table = scan.query(
                group,
                sql,
                tables=None if wanted is None else {"wanted": wanted},
                filename=True,
                file_row_number=True,
            )
            frames.append(table.to_pandas())
        except duckdb.Error:  # columns DuckDB cannot unify: file by file
            frames.append(_read_ordered(group))
    frame: pd.DataFrame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if not len(frame):
        return empty
    frame = frame.sort_values(["filename", "file_row_number"], kind="stable")
    latest = frame.drop_duplicates(KEY, keep="last").drop(columns=["filename", "file_row_number"])
    if keys is not None:
        latest = latest[_inner(latest, keys)]
    return latest.reset_index(drop=True)


def _read_ordered(files: list[Path]) -> pd.DataFrame:
    """The files read one by one with Arrow, each row with its file and position."""
    frames: list[pd.DataFrame] = []
    for path in files:
        frame: pd.DataFrame = pq.read_table(path).to_pandas()
        frame["filename"] = str(path)
        frame["file_row_number"] = range(len(frame))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def join_feedback(
    predictions: pd.DataFrame, feedback: pd.DataFrame, *, columns: Sequence[str] = ("label",)
) -> pd.DataFrame:
    """``predictions`` (as read from the prediction log) with a ``label`` column: the
    latest label for each row's request id and row, or null (and the label's other
    ``columns`` too, e.g. ``received_at``)."""
    joined = predictions.copy()
    if not len(predictions) or not len(feedback):
        for column in columns:
            joined[column] = pd.Series(
                [None] * len(predictions), index=predictions.index, dtype=object
            )
        return joined
    latest = feedback.drop_duplicates(KEY, keep="last")
    index = pd.MultiIndex.from_arrays(
        [latest["request_id"].astype(str), latest["row"].astype("int64")]
    )
    keys = pd.MultiIndex.from_arrays(
        [predictions["request_id"].astype(str), predictions["row"].astype("int64")]
    )
    for column in columns:
        values = pd.Series(latest[column].to_numpy(), index=index)
        joined[column] = values.reindex(keys).to_numpy()
    return joined
