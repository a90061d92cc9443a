"""The audit trail: every change to the metadata store, appended in the same transaction
as the change, hash-chained so that no row can be edited, inserted or removed unseen.

Each write transaction's changes to the audited tables (registry, aliases, endpoints,
rollouts, monitors, alert rules and alerts, batch jobs and schedules, and whatever the
store adds later) become rows of ``audit_log``: who (the acting user of the request or
command), when, the action (``insert``, ``update``, ``delete``), the table and the row's
key, and the values before and after (an update keeps only the columns it changed; a
value larger than 4 KB is kept as its SHA-256 and size). Bookkeeping the services do on
their own (a job's row counts, a schedule's next run time, a rule's read position, a
monitor's detector state) is left out, so the trail reads as what people and rules did.

Row ``n`` stores the hash of row ``n - 1`` (``prev``) and its own, the SHA-256 of its
fields and ``prev`` in a canonical JSON form. Appends take the lock of the one
``audit_head`` row that holds the last id and hash, so writers in several processes form
one chain with no gaps. :func:`verify` recomputes the chain: an edited row no longer
matches its hash, a removed or inserted one breaks the numbering or the links, and the
last hash (printed, and checkable with ``--head``) catches rows cut from the end by
someone who also rewrote the head.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import insert, inspect, select, update
from sqlalchemy.orm import Session

from shipyard.errors import InvalidInputError
from shipyard.store.tables import AuditHeadRow, AuditRow, Base, utcnow

GENESIS = "0" * 64
#: Values whose JSON is larger than this are kept as their digest and size.
LARGEST_VALUE = 4096

#: Tables not audited: logs of their own (events, results, deliveries) and the trail.
SKIPPED = {"audit_log", "audit_head", "events", "monitor_results", "alert_deliveries"}
#: Columns whose changes alone are bookkeeping, not a change someone made.
BOOKKEEPING = {
    "batch_jobs": {"rows_in", "rows_out", "rows_rejected", "rows_total"},
    "batch_schedules": {
        "next_run_at", "last_run_at", "last_job_id", "last_skipped_at", "last_error",
        "heartbeat_at", "updated_at",
    },
    "alert_rules": {"cursor"},
    "alerts": {"last_seen", "count", "notified_at", "detail", "summary"},
    "monitors": {"last_run_at", "state"},
    "models": {"latest_version", "updated_at"},
}  # fmt: skip

#: Columns whose values are never written to the trail (only that they changed).
SECRET = {"api_tokens": {"secret_hash"}}
HIDDEN = "(secret)"

ACTOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("shipyard_actor", default=None)
"""Who is acting in this context (a request's user); ``None``: the process's default."""


@contextlib.contextmanager
def acting_as(actor: str | None) -> Iterator[None]:
    """Record the changes made inside the block as ``actor``'s."""
    token = ACTOR.set(actor)
    try:
        yield
    finally:
        ACTOR.reset(token)


def _plain(value: Any) -> Any:
    """``value`` as JSON can hold it, the same before and after a round trip."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return {"sha256": hashlib.sha256(value).hexdigest(), "bytes": len(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def change(
    action: str, table: str, key: str, before: Any, after: Any
) -> tuple[str, str, str, Any, Any]:
    """A change for :func:`append`, its values made plain (as the trail keeps them)."""
    plain = [None if v is None else {k: _kept(x) for k, x in v.items()} for v in (before, after)]
    return action, table, key, plain[0], plain[1]


def _kept(value: Any) -> Any:
    plain = _plain(value)
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"))
    if len(text) > LARGEST_VALUE:
        return {"sha256": hashlib.sha256(text.encode()).hexdigest(), "bytes": len(text)}
    return plain


def digest(row: dict[str, Any]) -> str:
    """The hash of an audit row's fields (``id``, ``at``, ``actor``, ``action``,
    ``entity``, ``key``, ``before``, ``after``, ``prev``)."""
    fields = [
        row["id"], row["at"], row["actor"], row["action"], row["entity"], row["key"],
        row["before"], row["after"], row["prev"],
    ]  # fmt: skip
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _changes(session: Session) -> list[tuple[str, str, str, Any, Any]]:
    """(action, table, key, before, after) of each audited object the flush writes."""
    found = []
    for action, objects in (
        ("insert", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            if not isinstance(obj, Base) or obj.__tablename__ in SKIPPED:
                continue
            state = inspect(obj)
            columns = [a for a in state.mapper.column_attrs]
            table = obj.__tablename__
            before: dict[str, Any] | None
            after: dict[str, Any] | None
            if action == "update":
                before, after = {}, {}
                for attr in columns:
                    history = state.attrs[attr.key].history
                    if history.has_changes():
                        old = history.deleted[0] if history.deleted else None
                        new = history.added[0] if history.added else None
                        if _plain(old) != _plain(new):
                            before[attr.key], after[attr.key] = _kept(old), _kept(new)
                            if attr.key in SECRET.get(table, ()):
                                before[attr.key] = after[attr.key] = HIDDEN
                if not set(after) - BOOKKEEPING.get(table, set()):
                    continue  # nothing changed, or bookkeeping only
            else:
                hidden = SECRET.get(table, set())
                values = {
                    a.key: HIDDEN if a.key in hidden else _kept(getattr(obj, a.key))
                    for a in columns
                }
                before, after = (None, values) if action == "insert" else (values, None)
            key = _key(state)
            found.append((action, table, key, before, after))
    return found


#: Columns that say which row it is, besides the primary key.
NATURAL = ("model_id", "version", "alias", "endpoint_id", "revision", "rule_id")
#: Tables whose rows are known by another column than ``name``.
NAMED_BY = {"api_tokens": "key"}


def _key(state: Any) -> str:
    """The row's name when it has one, else ``column=value`` pairs of its primary key
    (and, for a bare number, of the columns that say which row it is:
    ``id=7,model_id=1,version=2``)."""
    obj = state.object
    named = getattr(obj, NAMED_BY.get(obj.__tablename__, "name"), None)
    if named is not None:
        return str(named)[:512]
    keys = [c.key for c in state.mapper.primary_key]
    if keys == ["id"]:  # a number only: add what says which row it is
        keys += [name for name in NATURAL if hasattr(obj, name)]
    return ",".join(f"{name}={getattr(obj, name)}" for name in keys)[:512]


#: Columns in which the services write who made a change.
WHO = ("updated_by", "created_by", "acked_by", "resolved_by")


def _who(after: Any) -> str | None:
    """Who the services wrote into the change's row (a service called in this process
    with an explicit actor), when no request names anyone."""
    if not isinstance(after, dict):
        return None
    for column in WHO:
        if isinstance(after.get(column), str) and after[column]:
            return str(after[column])
    return None


def after_flush(session: Session, _context: Any) -> None:
    """Append the flush's audited changes to the chain (installed on write sessions:
    after the flush, so new rows have their keys, in the same transaction)."""
    append(session, _changes(session))


def append(session: Session, changes: list[tuple[str, str, str, Any, Any]]) -> None:
    """Append ``(action, table, key, before, after)`` changes to the chain, under the
    chain's lock, as the acting user's: the request's, else the one the service wrote
    into the row, else the process's. Values are plain already (:func:`change` makes a
    change made with a statement rather than through objects, which :func:`after_flush`
    sees)."""
    if not changes:
        return
    default = ACTOR.get() or session.info.get("default_actor") or "unknown"
    head = session.execute(
        select(AuditHeadRow.last_id, AuditHeadRow.last_hash)
        .where(AuditHeadRow.id == 1)
        .with_for_update()
    ).one()
    last_id, last_hash = head.last_id, head.last_hash
    at = utcnow()
    written = []
    for action, table, key, before, after in changes:
        row = {
            "id": last_id + 1,
            "at": at.isoformat(),
            "actor": ACTOR.get() or _who(after) or default,
            "action": action,
            "entity": table,
            "key": key,
            "before": before,
            "after": after,
            "prev": last_hash,
        }
        row["hash"] = digest(row)
        written.append(row | {"at": at})
        last_id, last_hash = row["id"], row["hash"]
    session.execute(insert(AuditRow), written)
    session.execute(
        update(AuditHeadRow)
        .where(AuditHeadRow.id == 1)
        .values(last_id=last_id, last_hash=last_hash)
    )


@dataclass
class Verification:
    """What :func:`verify` found."""

    rows: int
    head: str
    """The hash of the last row (``GENESIS`` when there is none)."""
    ok: bool
    problem: str | None = None
    """The first break, naming the row."""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def record(row: AuditRow) -> dict[str, Any]:
    """An audit row as exported (JSON lines) and hashed."""
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "entity": row.entity,
        "key": row.key,
        "before": row.before,
        "after": row.after,
        "prev": row.prev,
        "hash": row.hash,
    }


def rows(
    session: Session, *, since: datetime | None = None, batch: int = 1000
) -> Iterator[AuditRow]:
    """The trail in order, read ``batch`` rows at a time."""
    last = 0
    while True:
        query = select(AuditRow).where(AuditRow.id > last).order_by(AuditRow.id).limit(batch)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        found = list(session.scalars(query))
        if not found:
            return
        yield from found
        last = found[-1].id


def verify(session: Session, *, head: str | None = None) -> Verification:
    """Recompute the chain; the first row that breaks it, if any. ``head`` is a hash
    recorded earlier (``shipyard audit verify`` prints it): the chain must still hold
    the row it names, so rows cut from its end are found too."""
    expected_prev, number, count, seen_head = GENESIS, 0, 0, head is None
    for row in rows(session):
        found = record(row)
        number += 1
        count += 1
        if row.id != number:
            where = "removed" if row.id > number else "added"
            return Verification(
                count,
                expected_prev,
                False,
                f"row {number} is missing or a row was {where} "
                f"(found id {row.id} where {number} was due)",
            )
        if row.prev != expected_prev:
            return Verification(
                count,
                expected_prev,
                False,
                f"row {row.id} does not follow row {row.id - 1} (its link was changed)",
            )
        if digest(found) != row.hash:
            return Verification(
                count,
                expected_prev,
                False,
                f"row {row.id} was changed after it was written (its hash does not match)",
            )
        expected_prev = row.hash
        seen_head = seen_head or row.hash == head
    stored = session.get(AuditHeadRow, 1)
    if stored is not None and (stored.last_id, stored.last_hash) != (number, expected_prev):
        return Verification(
            count,
            expected_prev,
            False,
            f"the chain ends at row {number} but its head names row {stored.last_id}: rows "
            "were removed from its end",
        )
    if not seen_head:
        return Verification(
            count,
            expected_prev,
            False,
            f"no row has the hash {head}: the rows up to it were removed or changed",
        )
    return Verification(count, expected_prev, True)


class AuditTrail:
    """The audit trail of the store ``db``: read, exported and verified."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def entries(
        self,
        *,
        since: datetime | None = None,
        after_id: int = 0,
        entity: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Rows in order (after ``after_id``, from ``since``, of one table), as exported."""
        if limit < 1:
            raise InvalidInputError(f"limit must be 1 or more; got {limit}")
        query = select(AuditRow).where(AuditRow.id > after_id).order_by(AuditRow.id).limit(limit)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if entity is not None:
            query = query.where(AuditRow.entity == entity)
        with self.db.session() as s:
            return [record(row) for row in s.scalars(query)]

    def export(self, out: IO[str], *, since: datetime | None = None) -> int:
        """Write the rows (from ``since``) as JSON lines; how many."""
        count = 0
        with self.db.session() as s:
            for row in rows(s, since=since):
                out.write(json.dumps(record(row), ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
        return count

    def verify(self, *, head: str | None = None) -> Verification:
        """Recompute the chain (see :func:`verify`)."""
        if head is not None and not re.fullmatch(r"[0-9a-f]{64}", head):
            raise InvalidInputError(
                f"--head {head!r} is not a hash; give the 64 hex digits verify printed"
            )
        with self.db.session() as s:
            return verify(s, head=head)
