"""One round of a rule: read what is new since its cursor, open, bump or resolve alerts
(see :mod:`shipyard.alerting.service` for the rules of the game). Runs inside the
round's transaction; the notifications it queues are sent after the commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.alerting.spec import breached
from shipyard.registry.convert import jsonable
from shipyard.store.tables import AlertRow, AlertRuleRow, EventRow, MonitorResultRow, MonitorRow

#: Who resolves an alert whose condition cleared.
AUTO = "shipyard"
Notice = tuple[int, str]
Notices = list[Notice]


def monitor_round(
    s: Session,
    rule: AlertRuleRow,
    now: datetime,
    notices: Notices,
    touched: set[int],
) -> None:
    """Judge the rule's monitor's new results for its metric (and column), oldest first."""
    src = rule.source
    query = (
        select(MonitorResultRow)
        .join(MonitorRow, MonitorRow.id == MonitorResultRow.monitor_id)
        .where(
            MonitorRow.name == src["monitor"],
            MonitorResultRow.metric == src["metric"],
            MonitorResultRow.id > rule.cursor,
        )
        .order_by(MonitorResultRow.id)
    )
    if src.get("column"):
        query = query.where(MonitorResultRow.column == src["column"])
    for r in s.scalars(query):
        rule.cursor = r.id
        key = f"{rule.name}|{src['monitor']}|{r.metric}|{r.column or ''}"
        verdict = breached(rule.condition, r.status, r.value)
        if verdict is None:
            continue
        if verdict:
            what = f"{r.metric}{f'[{r.column}]' if r.column else ''}"
            value = "no value" if r.value is None else f"{r.value:.4g}"
            test = (
                f"threshold {r.threshold:.4g}"
                if rule.condition == "status == breach" and r.threshold is not None
                else rule.condition
            )
            summary = f"monitor {src['monitor']}: {what} = {value} ({test})"
            detail = {
                "monitor": src["monitor"],
                "metric": r.metric,
                "column": r.column,
                "value": r.value,
                "threshold": r.threshold,
                "status": r.status,
                "run_id": r.run_id,
                "at": r.at,
            }
            _fire(s, rule, key, r.at, now, summary, detail, notices, touched)
        else:
            _clear(s, key, now, notices, touched)


def rollout_round(
    s: Session,
    rule: AlertRuleRow,
    now: datetime,
    notices: Notices,
    touched: set[int],
) -> None:
    """Fire on each new rollback (of the rule's endpoint, or any); a later successful
    rollout on the endpoint resolves its alert."""
    query = (
        select(EventRow)
        .where(
            EventRow.target_kind == "rollout",
            EventRow.action.in_(("rollout.rolled_back", "rollout.succeeded")),
            EventRow.id > rule.cursor,
        )
        .order_by(EventRow.id)
    )
    if rule.source.get("endpoint"):
        query = query.where(EventRow.target == rule.source["endpoint"])
    latest = s.scalar(select(func.max(EventRow.id))) or rule.cursor
    for event in s.scalars(query):
        key = f"{rule.name}|rollout|{event.target}"
        if event.action == "rollout.succeeded":
            _clear(s, key, now, notices, touched)
            continue
        after = event.after or {}
        summary = f"rollout on endpoint {event.target} rolled back: {after.get('reason', '')}"
        detail = {"endpoint": event.target, "event": event.id} | {
            k: after.get(k) for k in ("rollout", "reason", "revision")
        }
        _fire(s, rule, key, event.at, now, summary, detail, notices, touched)
    rule.cursor = max(rule.cursor, latest)


def _fire(
    s: Session,
    rule: AlertRuleRow,
    key: str,
    seen: datetime,
    now: datetime,
    summary: str,
    detail: dict[str, Any],
    notices: Notices,
    touched: set[int],
) -> None:
    cooldown = timedelta(seconds=rule.cooldown_s)
    open_ = s.scalars(
        select(AlertRow).where(
            AlertRow.dedup_key == key, AlertRow.state.in_(("firing", "acknowledged"))
        )
    ).first()
    if open_ is not None:
        open_.count += 1
        open_.last_seen = max(open_.last_seen, seen)
        open_.summary, open_.detail = summary, jsonable(detail)
        if open_.state == "firing" and (
            open_.notified_at is None or open_.notified_at + cooldown <= now
        ):
            open_.notified_at = now
            notices.append((open_.id, "firing"))
        touched.add(open_.id)
        s.flush()
        return
    last = s.scalar(select(func.max(AlertRow.notified_at)).where(AlertRow.dedup_key == key))
    quiet = last is not None and last + cooldown > now
    row = AlertRow(
        rule_id=rule.id,
        dedup_key=key,
        state="firing",
        severity=rule.severity,
        first_seen=seen,
        last_seen=seen,
        fired_at=now,
        notified_at=None if quiet else now,
        summary=summary,
        detail=jsonable(detail),
        count=1,
    )
    s.add(row)
    s.flush()
    touched.add(row.id)
    if not quiet:
        notices.append((row.id, "firing"))


def _clear(s: Session, key: str, now: datetime, notices: Notices, touched: set[int]) -> None:
    for row in s.scalars(
        select(AlertRow).where(
            AlertRow.dedup_key == key, AlertRow.state.in_(("firing", "acknowledged"))
        )
    ):
        resolved(row, AUTO, now)
        touched.add(row.id)
        notices.append((row.id, "resolved"))
    s.flush()


def resolved(row: AlertRow, who: str, now: datetime) -> None:
    row.state, row.resolved_by, row.resolved_at = "resolved", who, now
