"""Alerts: rules on monitor results and rollout events, the alerts they open, and the
notifications sent for them.

:meth:`AlertService.evaluate` reads what is new since each rule's last round (its
``cursor``: the id of the last monitor result or event it saw), oldest first. A new
monitor rule starts at its monitor's latest run, so a breach standing when the rule is
created fires at the first round; a new rollout rule starts after the rollbacks already
recorded.

- a result that breaches the rule's condition opens an alert for its de-duplication key
  (rule, monitor, metric, column; or rule and endpoint), or bumps the open one (``count``,
  ``last_seen``): never two open alerts for one key (a unique index backs this up);
- a later result for the same key that clears the condition resolves the open alert;
  results with no data or an error say neither and change nothing. A rollout alert is
  resolved when a later rollout on that endpoint succeeds;
- a firing notification goes out when an alert opens, and again while it keeps firing
  only once ``cooldown_s`` has passed since the last one (an acknowledged alert is not
  re-notified); a resolved notification when it is resolved, automatically or by hand.

Each notification is sent through each of the rule's channels, retried with exponential
backoff (``backoff_s``, doubled per attempt) up to ``attempts`` times; every attempt is
stored in ``alert_deliveries`` with its error, so failures show in ``shipyard alerts
show ID``. Notifications are sent after the round's transaction commits, never inside it,
on a few delivery threads: the notices of a round go out at once, and the retries' waits
never hold up the server's next round. A firing notification that reached no channel
leaves the alert un-notified, so the next breach notifies again despite the cooldown. A
notification still being retried when the process stops is not sent (its attempts are
recorded).

Concurrent rounds (several servers) are serialized per rule by a lock on its row, so a
result is judged once. The cursor is safe for monitor results: one monitor's runs store
their results under that monitor's row lock, so their ids grow in commit order. Known
limit: rollout events of different endpoints are not ordered so; on PostgreSQL a rule on
every endpoint could miss a rollback whose transaction committed after a later-numbered
event of another endpoint had been read (a window of milliseconds).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shipyard.alerting.channels import channel
from shipyard.alerting.delivery import deliver, notification
from shipyard.alerting.evaluation import Notices, monitor_round, resolved, rollout_round
from shipyard.alerting.spec import (
    Alert,
    Alerts,
    Delivery,
    Rule,
    Rules,
    channel_name,
    parse_condition,
    parse_cooldown,
    parse_severity,
    parse_source,
    parse_state,
)
from shipyard.config import Settings
from shipyard.endpoints.plan import parse_duration
from shipyard.endpoints.service import endpoint_row
from shipyard.errors import (
    AlertNotFoundError,
    AlertRuleNotFoundError,
    ConflictError,
    InvalidInputError,
    MonitorNotFoundError,
    ShipyardError,
)
from shipyard.registry import Registry
from shipyard.registry import rows as records
from shipyard.registry.names import validate_model_name
from shipyard.store.tables import (
    AlertDeliveryRow,
    AlertRow,
    AlertRuleRow,
    EventRow,
    MonitorResultRow,
    MonitorRow,
    utcnow,
)

log = logging.getLogger("shipyard.alerts")


def _rule(row: AlertRuleRow) -> Rule:
    return Rule.model_validate(
        {c.key: getattr(row, c.key) for c in AlertRuleRow.__table__.columns if c.key != "cursor"}
    )


def _alert(s: Session, row: AlertRow, *, deliveries: bool = False) -> Alert:
    rule = s.get(AlertRuleRow, row.rule_id)
    values = {c.key: getattr(row, c.key) for c in AlertRow.__table__.columns}
    values["rule"] = rule.name if rule is not None else str(row.rule_id)
    if deliveries:
        found = s.scalars(
            select(AlertDeliveryRow)
            .where(AlertDeliveryRow.alert_id == row.id)
            .order_by(AlertDeliveryRow.id)
        )
        values["deliveries"] = [_delivery(d) for d in found]
    return Alert.model_validate(values)


def _alerts(s: Session, rows: list[AlertRow]) -> Alerts:
    """The alerts of ``rows``, each with its delivery attempts (one query for all)."""
    attempts: dict[int, list[Delivery]] = {r.id: [] for r in rows}
    if rows:
        found = s.scalars(
            select(AlertDeliveryRow)
            .where(AlertDeliveryRow.alert_id.in_(list(attempts)))
            .order_by(AlertDeliveryRow.id)
        )
        for d in found:
            attempts[d.alert_id].append(_delivery(d))
    return [_alert(s, r).model_copy(update={"deliveries": attempts[r.id]}) for r in rows]


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _deliveries() -> ThreadPoolExecutor:
    """The process's delivery threads (shared by every :class:`AlertService`)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="shipyard-alerts")
        return _POOL


def _latest_run_start(s: Session, monitor: str) -> int:
    """The cursor before the monitor's latest run's results (0 when it never ran)."""
    newest = s.execute(
        select(MonitorResultRow.run_id, MonitorResultRow.monitor_id)
        .join(MonitorRow, MonitorRow.id == MonitorResultRow.monitor_id)
        .where(MonitorRow.name == monitor)
        .order_by(MonitorResultRow.id.desc())
        .limit(1)
    ).first()
    if newest is None:
        return 0
    first = s.scalar(
        select(func.min(MonitorResultRow.id)).where(
            MonitorResultRow.monitor_id == newest.monitor_id,
            MonitorResultRow.run_id == newest.run_id,
        )
    )
    return int(first or 1) - 1


def _seconds(cooldown: str | float | None) -> float:
    """A cooldown's seconds: a duration, or 0 (``0``, ``0s``, none) for none."""
    if cooldown is None or str(cooldown).strip().rstrip("smhdw") in ("", "0", "0.0"):
        return 0.0
    return parse_duration(cooldown, "cooldown")


def _delivery(d: AlertDeliveryRow) -> Delivery:
    return Delivery(
        channel=d.channel,
        event=d.event,  # type: ignore[arg-type]
        attempt=d.attempt,
        at=d.at,
        ok=d.ok,
        error=d.error,
    )


class AlertService:
    """Alert rules and alerts on the store ``registry`` uses; notifications are tried
    ``attempts`` times per channel, waiting ``backoff_s`` × 2ⁿ between tries."""

    def __init__(
        self,
        registry: Registry,
        *,
        attempts: int = 4,
        backoff_s: float = 1.0,
        timeout_s: float = 10.0,
    ) -> None:
        if attempts < 1 or backoff_s < 0:
            raise InvalidInputError("attempts must be at least 1 and backoff_s not negative")
        self.registry = registry
        self.db = registry.db
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> AlertService:
        settings = settings or Settings()
        return cls(
            Registry.from_settings(settings),
            attempts=settings.alert_attempts,
            backoff_s=settings.alert_backoff_s,
        )

    # -- rules ---------------------------------------------------------------------------

    def create_rule(
        self,
        name: str,
        *,
        source: Mapping[str, Any],
        condition: str | None = None,
        severity: str | None = None,
        cooldown: str | float = "15m",
        channels: Sequence[Mapping[str, Any]] = (),
        enabled: bool = True,
        actor: str | None = None,
    ) -> Rule:
        """A new rule on ``source`` (see :func:`shipyard.alerting.spec.parse_source`);
        ``channels``: ``{"type": "webhook" | "slack" | "email", ...}`` entries. It reads
        results from its monitor's latest run on, and rollbacks after it was created."""
        try:
            validate_model_name(name)
        except InvalidInputError as exc:
            raise type(exc)(exc.message.replace("model name", "alert rule name")) from None
        parsed = parse_source(source)
        values: dict[str, Any] = {
            "source": parsed,
            "condition": parse_condition(condition, parsed["kind"]),
            "severity": parse_severity(severity),
            "cooldown_s": parse_cooldown(_seconds(cooldown)),
            "channels": [dict(c) for c in channels],
            "enabled": bool(enabled),
        }
        for config in values["channels"]:
            channel(config)  # checks the entry
        who = self.registry._actor(actor)
        with self.db.session(write=True) as s:
            if (
                parsed["kind"] == "monitor"
                and not s.scalars(
                    select(MonitorRow.id).where(MonitorRow.name == parsed["monitor"])
                ).first()
            ):
                raise MonitorNotFoundError(
                    f"no monitor named {parsed['monitor']!r}; list them with: shipyard monitor list"
                )
            if s.scalars(select(AlertRuleRow.id).where(AlertRuleRow.name == name)).first():
                raise ConflictError(
                    f"alert rule {name!r} exists; delete it first "
                    f"(shipyard alerts rules delete {name}) or choose another name"
                )
            if parsed["kind"] == "monitor":
                cursor = _latest_run_start(s, parsed["monitor"])
            else:
                if parsed.get("endpoint"):
                    endpoint_row(s, parsed["endpoint"])
                cursor = s.scalar(select(func.max(EventRow.id))) or 0
            now = utcnow()
            row = AlertRuleRow(
                name=name, cursor=cursor, created_by=who, created_at=now, updated_at=now, **values
            )
            s.add(row)
            s.flush()
            records.add_event(s, who, "alert_rule.create", "alert_rule", name, None, values)
            return _rule(row)

    def _rule_row(self, s: Session, name: str, *, lock: bool = False) -> AlertRuleRow:
        query = select(AlertRuleRow).where(AlertRuleRow.name == name)
        found = s.scalars(query.with_for_update() if lock else query).first()
        if found is None:
            raise AlertRuleNotFoundError(
                f"no alert rule named {name!r}; list them with: shipyard alerts rules list"
            )
        return found

    def get_rule(self, name: str) -> Rule:
        with self.db.session() as s:
            return _rule(self._rule_row(s, name))

    def list_rules(self) -> Rules:
        """Every rule, by name."""
        with self.db.session() as s:
            return [_rule(r) for r in s.scalars(select(AlertRuleRow).order_by(AlertRuleRow.name))]

    def delete_rule(self, name: str, *, actor: str | None = None) -> Rule:
        """Remove the rule with its alerts and their deliveries."""
        who = self.registry._actor(actor)
        with self.db.session(write=True) as s:
            row = self._rule_row(s, name, lock=True)
            gone = _rule(row)
            s.delete(row)
            records.add_event(s, who, "alert_rule.delete", "alert_rule", name, gone.to_dict(), None)
            return gone

    # -- alerts --------------------------------------------------------------------------

    def list(self, state: str | None = None, *, limit: int = 200) -> Alerts:
        """Alerts, newest first; only those in ``state`` when given."""
        wanted = parse_state(state)
        with self.db.session() as s:
            query = select(AlertRow).order_by(AlertRow.id.desc()).limit(limit)
            if wanted is not None:
                query = query.where(AlertRow.state == wanted)
            return _alerts(s, list(s.scalars(query)))

    def _alert_row(self, s: Session, alert_id: int, *, lock: bool = False) -> AlertRow:
        found = s.get(AlertRow, alert_id, with_for_update=lock)
        if found is None:
            raise AlertNotFoundError(
                f"no alert with id {alert_id}; list them with: shipyard alerts list"
            )
        return found

    def get(self, alert_id: int) -> Alert:
        """One alert, with every delivery attempt made for it."""
        with self.db.session() as s:
            return _alert(s, self._alert_row(s, alert_id), deliveries=True)

    def ack(self, alert_id: int, by: str | None = None) -> Alert:
        """Acknowledge a firing alert: someone is on it; it is not re-notified."""
        who = self.registry._actor(by)
        with self.db.session(write=True) as s:
            row = self._alert_row(s, alert_id, lock=True)
            if row.state != "firing":
                raise ConflictError(
                    f"alert {alert_id} is {row.state}; only a firing alert can be acknowledged"
                )
            row.state, row.acked_by, row.acked_at = "acknowledged", who, utcnow()
            records.add_event(s, who, "alert.ack", "alert", str(alert_id), None, None)
            s.flush()
            return _alert(s, row)

    def resolve(self, alert_id: int, by: str | None = None, *, wait: bool = True) -> Alert:
        """Resolve an open alert by hand; a resolved notification goes out (returning
        once it arrived or ran out of attempts, with ``wait``)."""
        who = self.registry._actor(by)
        with self.db.session(write=True) as s:
            row = self._alert_row(s, alert_id, lock=True)
            if row.state == "resolved":
                raise ConflictError(f"alert {alert_id} is resolved already")
            resolved(row, who, utcnow())
            records.add_event(s, who, "alert.resolve", "alert", str(alert_id), None, None)
        self._notify([(alert_id, "resolved")], wait=wait)
        return self.get(alert_id)

    # -- evaluation ----------------------------------------------------------------------

    def evaluate(self, now: datetime | None = None, *, wait: bool = True) -> Alerts:
        """One round over every enabled rule; returns the alerts it opened, bumped or
        resolved, with their delivery attempts. With ``wait`` (the default) it returns
        once their notifications arrived or ran out of attempts; without, they go on
        the delivery threads (the server's alert loop)."""
        now = now or utcnow()
        notices: Notices = []
        touched: set[int] = set()
        with self.db.session() as s:
            ids = list(s.scalars(select(AlertRuleRow.id).where(AlertRuleRow.enabled.is_(True))))
        for rule_id in ids:
            # What one rule's round opens counts only once its transaction commits.
            found: Notices = []
            seen: set[int] = set()
            try:
                with self.db.session(write=True) as s:
                    rule = s.get(AlertRuleRow, rule_id, with_for_update=True)
                    if rule is None or not rule.enabled:
                        continue
                    if rule.source["kind"] == "monitor":
                        monitor_round(s, rule, now, found, seen)
                    else:
                        rollout_round(s, rule, now, found, seen)
            except ShipyardError as exc:  # one broken rule must not stop the others
                log.error("alert rule %s could not be evaluated: %s", rule_id, exc)
                continue
            notices += found
            touched |= seen
        self._notify(notices, wait=wait)
        with self.db.session() as s:
            query = select(AlertRow).where(AlertRow.id.in_(touched)).order_by(AlertRow.id)
            return _alerts(s, list(s.scalars(query)))

    # -- delivery ------------------------------------------------------------------------

    def _notify(self, notices: Notices, *, wait: bool = True) -> Sequence[Future[None]]:
        """Send each notice through its rule's channels, all notices at once on the
        delivery threads (retries wait there, never in the caller); with ``wait``, return
        once every one arrived or ran out of attempts."""
        sent = [
            _deliveries().submit(self._notify_one, alert_id, event) for alert_id, event in notices
        ]
        if wait:
            for future in sent:
                future.result()
        return sent

    def _notify_one(self, alert_id: int, event: str) -> None:
        with self.db.session() as s:
            row = s.get(AlertRow, alert_id)
            rule_row = None if row is None else s.get(AlertRuleRow, row.rule_id)
            if row is None or rule_row is None:
                return
            alert, rule = _alert(s, row), _rule(rule_row)
            marked = row.notified_at
        channels = [(channel_name(i, c), c) for i, c in enumerate(rule.channels)]
        if not channels:
            return
        failed = deliver(
            self.db,
            alert_id,
            event,
            channels,
            notification(event, alert, rule),
            attempts=self.attempts,
            backoff_s=self.backoff_s,
            timeout_s=self.timeout_s,
        )
        if event == "firing" and len(failed) == len(channels):
            # Nobody was told: the next breach notifies again, whatever the cooldown.
            with self.db.session(write=True) as s:
                row = s.get(AlertRow, alert_id, with_for_update=True)
                if row is not None and row.notified_at == marked:
                    row.notified_at = None

    def run_forever(self, stop: threading.Event, period_s: float = 30.0) -> None:
        """Evaluate every ``period_s`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.evaluate(wait=False)
            except Exception:
                log.exception("alerts: a round failed; trying again in %ss", period_s)
            stop.wait(period_s)
