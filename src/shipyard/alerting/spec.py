"""Alert rules, alerts and deliveries as the service hands them out, and the parsing of
what a rule is made of: its source, its condition, its severity and its channels."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shipyard.errors import InvalidInputError
from shipyard.monitoring.spec import METRICS

Severity = Literal["info", "warning", "critical"]
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
State = Literal["firing", "acknowledged", "resolved"]
STATES: tuple[State, ...] = ("firing", "acknowledged", "resolved")
MAX_COOLDOWN_S = 30 * 86_400.0

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_VALUE = re.compile(r"^\s*value\s*(>=|<=|==|!=|>|<)\s*([-+]?[0-9.]+(?:[eE][-+]?\d+)?)\s*$")
_STATUS = re.compile(r"^\s*status\s*==\s*breach\s*$")


def parse_source(source: Mapping[str, Any]) -> dict[str, Any]:
    """``{"kind": "monitor", "monitor": M, "metric": X, "column": C}`` (column optional:
    every column) or ``{"kind": "rollout", "endpoint": E}`` (endpoint optional: every
    endpoint); a rollout source fires on each rollout rolled back by a guard."""
    kind = source.get("kind")
    if kind == "monitor":
        monitor, metric = source.get("monitor"), source.get("metric")
        if not isinstance(monitor, str) or not monitor or not isinstance(metric, str) or not metric:
            raise InvalidInputError(
                "source: a monitor source needs the monitor and the metric, e.g. "
                "--monitor ops --metric error_rate"
            )
        if metric not in METRICS:
            raise InvalidInputError(
                f"source: metric {metric!r} is not one a monitor stores; choose from "
                f"{', '.join(sorted(METRICS))} (see shipyard monitor results NAME)"
            )
        return {
            "kind": "monitor",
            "monitor": monitor,
            "metric": metric,
            "column": _optional(source, "column"),
        }
    if kind == "rollout":
        return {"kind": "rollout", "endpoint": _optional(source, "endpoint")}
    raise InvalidInputError(
        f"source kind {kind!r} is not known; use monitor (--monitor M --metric X) or "
        "rollout (--rollout)"
    )


def _optional(source: Mapping[str, Any], key: str) -> str | None:
    value = source.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"source: {key} must be a name, e.g. income, or left out")
    return value or None


def parse_cooldown(seconds: float) -> float:
    """A cooldown of at most 30 days (0: notify on every round that sees a breach)."""
    if not 0 <= seconds <= MAX_COOLDOWN_S:
        raise InvalidInputError("cooldown must be between 0 and 30 days, e.g. 15m or 1h")
    return seconds


def parse_condition(condition: str | None, kind: str) -> str:
    """``status == breach`` (the default: the monitor's own threshold) or ``value OP
    NUMBER`` with OP one of > >= < <= == != (monitor sources only)."""
    if condition is None or _STATUS.match(condition):
        return "status == breach"
    found = _VALUE.match(condition)
    if found is None:
        raise InvalidInputError(
            f"condition {condition!r} is not understood; write status == breach, or "
            "value OP NUMBER, e.g. 'value > 0.05'"
        )
    if kind != "monitor":
        raise InvalidInputError(
            "a rollout rule fires on every rollback; leave --condition out (status == breach)"
        )
    try:
        number = float(found.group(2))
    except ValueError:
        raise InvalidInputError(
            f"condition {condition!r}: {found.group(2)!r} is no number"
        ) from None
    return f"value {found.group(1)} {number:g}"


def breached(condition: str, status: str, value: float | None) -> bool | None:
    """Whether a result breaches ``condition``: ``True``, ``False`` (the condition is
    clear), or ``None`` when the result says neither (no data, an error)."""
    if condition == "status == breach":
        return {"breach": True, "ok": False}.get(status)
    if value is None:
        return None
    _, op, number = condition.split()
    return _OPS[op](value, float(number))


def parse_severity(severity: str | None) -> Severity:
    if severity is None:
        return "warning"
    for known in SEVERITIES:
        if severity == known:
            return known
    raise InvalidInputError(f"severity {severity!r}: use one of {', '.join(SEVERITIES)}")


def parse_state(state: str | None) -> State | None:
    if state is None:
        return None
    for known in STATES:
        if state == known:
            return known
    raise InvalidInputError(f"state {state!r}: use one of {', '.join(STATES)}")


def channel_name(index: int, config: Mapping[str, Any]) -> str:
    """How a rule's channel is named in deliveries: its ``name``, else type and position."""
    return str(config.get("name") or f"{config.get('type')}#{index + 1}")[:128]


class Rule(BaseModel):
    """An alert rule as stored."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    source: dict[str, Any]
    condition: str
    severity: Severity
    cooldown_s: float
    channels: list[dict[str, Any]]
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Delivery(BaseModel):
    """One attempt to send one notification through one channel."""

    model_config = ConfigDict(frozen=True)

    channel: str
    event: Literal["firing", "resolved"]
    attempt: int
    at: datetime
    ok: bool
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class Alert(BaseModel):
    """A rule's breach for one de-duplication key, and where it stands."""

    model_config = ConfigDict(frozen=True)

    id: int
    rule: str
    dedup_key: str
    state: State
    severity: Severity
    first_seen: datetime
    last_seen: datetime
    fired_at: datetime
    notified_at: datetime | None
    acked_by: str | None
    acked_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None
    summary: str
    detail: dict[str, Any]
    count: int
    deliveries: list[Delivery] = []

    @property
    def failed_deliveries(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.ok]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


Alerts = list[Alert]
Rules = list[Rule]
Deliveries = Sequence[Delivery]
