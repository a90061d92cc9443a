"""The calls of :class:`shipyard.Client` on alerts and alert rules.

:class:`Alerting` is a mixin: :class:`~shipyard.client.Client` inherits it and supplies
:meth:`~Alerting._request`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from pydantic import TypeAdapter

from shipyard.alerting import Alert, Rule


class Alerting(abc.ABC):
    """Alerts and alert rules over ``/api/v1``."""

    @abc.abstractmethod
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The server's successful response, or raise the error it answered."""

    def create_alert_rule(
        self,
        name: str,
        *,
        source: Mapping[str, Any],
        condition: str | None = None,
        severity: str = "warning",
        cooldown: str | float = "15m",
        channels: Sequence[Mapping[str, Any]] = (),
        enabled: bool = True,
    ) -> Rule:
        """A rule on a monitor's metric (``{"kind": "monitor", "monitor": M, "metric": X}``)
        or on rollbacks (``{"kind": "rollout"}``) (``shipyard alerts rules create``)."""
        body = {
            "name": name,
            "source": dict(source),
            "condition": condition,
            "severity": severity,
            "cooldown": cooldown,
            "channels": [dict(c) for c in channels],
            "enabled": enabled,
        }
        return Rule.model_validate(self._request("POST", "/alert-rules", json=body).json())

    def list_alert_rules(self) -> list[Rule]:
        found = self._request("GET", "/alert-rules").json()
        return TypeAdapter(list[Rule]).validate_python(found)

    def delete_alert_rule(self, name: str) -> Rule:
        return Rule.model_validate(self._request("DELETE", f"/alert-rules/{name}").json())

    def list_alerts(self, state: str | None = None, *, limit: int = 200) -> list[Alert]:
        """Alerts, newest first (``shipyard alerts list``)."""
        params: dict[str, Any] = {"limit": limit} | ({"state": state} if state else {})
        found = self._request("GET", "/alerts", params=params).json()
        return TypeAdapter(list[Alert]).validate_python(found)

    def get_alert(self, alert_id: int) -> Alert:
        """An alert with its delivery attempts (``shipyard alerts show``)."""
        return Alert.model_validate(self._request("GET", f"/alerts/{alert_id}").json())

    def ack_alert(self, alert_id: int, *, by: str | None = None) -> Alert:
        """Acknowledge a firing alert (``shipyard alerts ack``); ``by`` defaults to the
        client's actor."""
        body = {"by": by} if by else None
        reply = self._request("POST", f"/alerts/{alert_id}/ack", json=body)
        return Alert.model_validate(reply.json())

    def resolve_alert(self, alert_id: int, *, by: str | None = None) -> Alert:
        """Resolve an alert by hand (``shipyard alerts resolve``)."""
        body = {"by": by} if by else None
        reply = self._request("POST", f"/alerts/{alert_id}/resolve", json=body)
        return Alert.model_validate(reply.json())

    def evaluate_alerts(self) -> list[Alert]:
        """Evaluate every rule now; the alerts opened, bumped or resolved."""
        found = self._request("POST", "/alerts/evaluate").json()
        return TypeAdapter(list[Alert]).validate_python(found)
