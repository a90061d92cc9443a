"""Erasure and retention of the prediction log and feedback.

:func:`erase` removes every logged row of some request ids, or of a subject (an input
column's value, say a customer id), from the prediction log, and the feedback of those
requests: each file holding one is rewritten without it (to a temporary name, then
renamed), or removed when nothing is left. :func:`expire` removes the rows older than a
retention period: whole day directories when the period covers every endpoint, else the
rows of the endpoints that have one. Neither keeps a copy of what it removed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import select

from shipyard.errors import EndpointNotFoundError, InvalidInputError
from shipyard.registry import Registry
from shipyard.store import audit
from shipyard.store.audit import acting_as
from shipyard.store.tables import EndpointRow, LogRetentionRow, utcnow

#: The retention that applies to every endpoint, and to models served directly.
EVERYTHING = "*"


@dataclass
class Removed:
    """What an erasure or an expiry removed."""

    rows: int = 0
    files_rewritten: int = 0
    files_removed: int = 0
    feedback_rows: int = 0
    days_removed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _files(root: Path, pattern: str) -> list[Path]:
    return sorted(root.glob(pattern)) if root.exists() else []


def _rewrite(path: Path, drop: pa.ChunkedArray | pa.Array, removed: Removed) -> int:
    """Rewrite ``path`` without the rows ``drop`` marks; the rows removed."""
    table = pq.read_table(path)
    mask = pc.fill_null(drop, False)
    count = int(pc.sum(mask).as_py() or 0)
    if not count:
        return 0
    kept = table.filter(pc.invert(mask))
    if kept.num_rows == 0:
        path.unlink()
        removed.files_removed += 1
    else:
        tmp = path.with_name(f".{path.name}.tmp")
        pq.write_table(kept, tmp)
        os.replace(tmp, path)
        removed.files_rewritten += 1
    return count


def _subject(table: pa.Table, column: str) -> pa.ChunkedArray | None:
    """The logged input ``column`` of every row, as text, or ``None`` if not logged."""
    if "inputs" not in table.column_names:
        return None
    inputs = table.column("inputs")
    if column not in [inputs.type.field(i).name for i in range(inputs.type.num_fields)]:
        return None
    return pc.cast(pc.struct_field(inputs, column), pa.string())


def erase(
    predictions: Path,
    feedback: Path,
    *,
    request_ids: Sequence[str] = (),
    subject: tuple[str, str] | None = None,
) -> Removed:
    """Remove every logged row of ``request_ids``, or whose input ``subject[0]`` equals
    ``subject[1]``, and the feedback of the requests removed."""
    ids = sorted({str(i) for i in request_ids})
    if not ids and subject is None:
        raise InvalidInputError("name what to erase: request ids, or a subject COLUMN=VALUE")
    removed = Removed()
    wanted = pa.array(ids, type=pa.string())
    erased: set[str] = set(ids)
    for path in _files(Path(predictions), "model=*/date=*/part-*.parquet"):
        table = pq.read_table(path)
        drop = pc.is_in(table.column("request_id"), value_set=wanted)
        if subject is not None:
            values = _subject(table, subject[0])
            if values is not None:
                drop = pc.or_(drop, pc.fill_null(pc.equal(values, subject[1]), False))
        marked = pc.fill_null(drop, False)
        if pc.any(marked).as_py():
            erased.update(str(i) for i in table.column("request_id").filter(marked).to_pylist())
            removed.rows += _rewrite(path, marked, removed)
    everyone = pa.array(sorted(erased), type=pa.string())
    for path in _files(Path(feedback), "date=*/part-*.parquet"):
        table = pq.read_table(path, columns=["request_id"])
        drop = pc.is_in(pc.cast(table.column("request_id"), pa.string()), value_set=everyone)
        removed.feedback_rows += _rewrite(path, drop, removed)
    return removed


def _day(directory: Path) -> date | None:
    try:
        return date.fromisoformat(directory.name.removeprefix("date="))
    except ValueError:
        return None


def expire(
    predictions: Path,
    feedback: Path,
    policies: Mapping[str, int],
    *,
    now: datetime | None = None,
) -> Removed:
    """Remove what is older than its retention: ``policies`` maps endpoint names (or
    :data:`EVERYTHING`) to days kept. A day is removed whole once every row of it is
    due (the ``*`` period covers it); rows of endpoints with a shorter period go
    before that, file by file. Feedback follows the ``*`` period."""
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    removed = Removed()
    everything = policies.get(EVERYTHING)
    shorter = {e: d for e, d in policies.items() if e != EVERYTHING}
    for directory in _days(Path(predictions), "model=*/date=*"):
        day = _day(directory)
        if day is None:
            continue
        age = (today - day).days
        if everything is not None and age > everything:
            removed.rows += sum(pq.read_metadata(p).num_rows for p in directory.glob("*.parquet"))
            shutil.rmtree(directory)
            removed.days_removed.append(f"{directory.parent.name}/{directory.name}")
            continue
        due = sorted(e for e, days in shorter.items() if age > days)
        if not due:
            continue
        wanted = pa.array(due, type=pa.string())
        for path in sorted(directory.glob("part-*.parquet")):
            table = pq.read_table(path, columns=["endpoint"])
            removed.rows += _rewrite(path, pc.is_in(table.column("endpoint"), wanted), removed)
    if everything is not None:
        for directory in _days(Path(feedback), "date=*"):
            day = _day(directory)
            if day is not None and (today - day).days > everything:
                removed.feedback_rows += sum(
                    pq.read_metadata(p).num_rows for p in directory.glob("*.parquet")
                )
                shutil.rmtree(directory)
    return removed


def _days(root: Path, pattern: str) -> Iterable[Path]:
    return [p for p in _files(root, pattern) if p.is_dir()]


class Retention:
    """Retention periods (in the store ``registry`` uses) and erasures of the prediction
    log under ``predictions`` and the feedback under ``feedback``. Every change of a
    period and every erasure is in the audit trail; an erasure's entry says how many
    rows of what went, never which values."""

    def __init__(self, registry: Registry, predictions: Path, feedback: Path) -> None:
        self.registry = registry
        self.db = registry.db
        self.predictions = Path(predictions)
        self.feedback = Path(feedback)

    def policies(self) -> dict[str, int]:
        """Days kept, by endpoint (``*``: everything)."""
        with self.db.session() as s:
            return {r.endpoint: r.days for r in s.scalars(select(LogRetentionRow))}

    def set(self, endpoint: str, days: int | None, *, actor: str | None = None) -> dict[str, int]:
        """Keep ``days`` days of ``endpoint``'s log (``*``: of everything); ``None``
        keeps it for good again. Returns every period."""
        if days is not None and (isinstance(days, bool) or days < 1):
            raise InvalidInputError(f"--days must be 1 or more; got {days}")
        with acting_as(actor or audit.ACTOR.get()), self.db.session(write=True) as s:
            if (
                endpoint != EVERYTHING
                and s.scalar(select(EndpointRow.id).where(EndpointRow.name == endpoint)) is None
            ):
                raise EndpointNotFoundError(
                    f"no endpoint {endpoint!r}; list them with: shipyard endpoints list, or "
                    "give * for everything"
                )
            row = s.get(LogRetentionRow, endpoint)
            who = self.registry._actor(actor)
            if days is None:
                if row is not None:
                    s.delete(row)
            elif row is None:
                s.add(
                    LogRetentionRow(
                        endpoint=endpoint,
                        days=days,
                        updated_by=who,
                        updated_at=utcnow(),
                    )
                )
            else:
                row.days, row.updated_by, row.updated_at = (
                    days,
                    self.registry._actor(actor),
                    utcnow(),
                )
        return self.policies()

    def expire(self, now: datetime | None = None) -> Removed:
        """Remove what is past its retention now (the server does it every
        ``SHIPYARD_RETENTION_PERIOD_S``)."""
        return expire(self.predictions, self.feedback, self.policies(), now=now)

    def erase(
        self,
        *,
        request_ids: Sequence[str] = (),
        subject: tuple[str, str] | None = None,
        actor: str | None = None,
    ) -> Removed:
        """Erase the rows of ``request_ids`` or of ``subject`` (``(column, value)``)
        from the log and the feedback, and record that it was done (not what)."""
        removed = erase(self.predictions, self.feedback, request_ids=request_ids, subject=subject)
        what = {
            "request_ids": len(set(request_ids)),
            "subject_column": None if subject is None else subject[0],
        } | removed.to_dict()
        with acting_as(actor or audit.ACTOR.get()), self.db.session(write=True) as s:
            audit.append(s, [audit.change("erase", "prediction_log", "erasure", None, what)])
        return removed
