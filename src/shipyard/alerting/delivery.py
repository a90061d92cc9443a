"""Sending one notification through one channel: retried with exponential backoff, every
attempt stored in ``alert_deliveries`` with its error."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from shipyard.alerting.channels import DeliveryError, channel
from shipyard.alerting.spec import Alert, Rule
from shipyard.errors import InvalidInputError
from shipyard.store.database import Database
from shipyard.store.tables import AlertDeliveryRow, utcnow

log = logging.getLogger("shipyard.alerts")


class Attempt(NamedTuple):
    """Which notification: the alert, the event (firing or resolved) and the channel's name."""

    alert_id: int
    event: str
    channel: str


def notification(event: str, alert: Alert, rule: Rule) -> dict[str, Any]:
    """What a channel sends: the event (firing or resolved), the alert and its rule."""
    body = alert.to_dict()
    body.pop("deliveries", None)
    return {
        "event": event,
        "alert": body,
        "rule": {
            "name": rule.name,
            "source": rule.source,
            "condition": rule.condition,
            "severity": rule.severity,
        },
    }


def _send(
    db: Database,
    what: Attempt,
    config: Mapping[str, Any],
    body: Any,
    attempt: int,
    timeout_s: float,
) -> str | None:
    """One attempt, stored; its error, or ``None`` when it arrived."""
    error = None
    try:
        channel(config, timeout_s).send(body)
    except (DeliveryError, InvalidInputError) as exc:
        error = str(exc)
    except Exception as exc:  # a broken channel must not stop the others
        log.exception("alert %s: channel %s failed", what.alert_id, what.channel)
        error = f"{type(exc).__name__}: {exc}"
    with db.session(write=True) as s:
        s.add(
            AlertDeliveryRow(
                alert_id=what.alert_id,
                channel=what.channel,
                event=what.event,
                attempt=attempt,
                at=utcnow(),
                ok=error is None,
                error=error,
            )
        )
    return error


def deliver(
    db: Database,
    alert_id: int,
    event: str,
    channels: Sequence[tuple[str, Mapping[str, Any]]],
    body: Mapping[str, Any],
    *,
    attempts: int,
    backoff_s: float,
    timeout_s: float,
) -> dict[str, str]:
    """Send ``body`` through every channel (``(name, config)`` pairs): each attempt goes
    to every channel still failing, up to ``attempts`` times, waiting ``backoff_s`` ×
    2^(n-1) after the n-th round of failures (so a dead channel never delays a working
    one). Returns the last error of each channel that never received it."""
    pending = list(channels)
    failed: dict[str, str] = {}
    for attempt in range(1, attempts + 1):
        still = []
        for name, config in pending:
            error = _send(db, Attempt(alert_id, event, name), config, body, attempt, timeout_s)
            if error is None:
                failed.pop(name, None)
                continue
            failed[name] = error
            still.append((name, config))
            log.warning(
                "alert %s: %s notification through %s failed (attempt %s/%s): %s",
                alert_id,
                event,
                name,
                attempt,
                attempts,
                error,
            )
        pending = still
        if not pending:
            break
        if attempt < attempts:
            time.sleep(backoff_s * 2 ** (attempt - 1))
    return failed
