"""HTTP channels: ``webhook`` POSTs the notification as JSON, ``slack`` POSTs
``{"text": ...}`` as Slack's (and Mattermost's, Rocket.Chat's…) incoming webhooks take it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from shipyard.alerting.channels import Channel, DeliveryError, register
from shipyard.errors import InvalidInputError


class _Post(Channel):
    def __init__(self, config: Mapping[str, Any], timeout_s: float = 10.0) -> None:
        super().__init__(config, timeout_s)
        self.url = self._required("url")
        if not self.url.startswith(("http://", "https://")):
            raise InvalidInputError(f"channel {self.key}: url {self.url!r} must be http(s)://")

    def body(self, notification: Mapping[str, Any]) -> dict[str, Any]:
        return dict(notification)

    def send(self, notification: Mapping[str, Any]) -> None:
        try:
            reply = httpx.post(self.url, json=self.body(notification), timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"POST {self.url} failed: {type(exc).__name__}: {exc}") from exc
        if reply.status_code >= 300:
            raise DeliveryError(f"POST {self.url} answered {reply.status_code}: {reply.text[:200]}")


@register("webhook")
class Webhook(_Post):
    """POST the notification (event, alert and rule) as JSON to ``url``."""


@register("slack")
class Slack(_Post):
    """POST ``{"text": ...}`` to a Slack-compatible incoming webhook at ``url``."""

    def body(self, notification: Mapping[str, Any]) -> dict[str, Any]:
        return {"text": text(notification)}


def text(notification: Mapping[str, Any]) -> str:
    """One line for people: event, severity, rule and summary."""
    alert = notification["alert"]
    mark = "RESOLVED" if notification["event"] == "resolved" else "FIRING"
    return (
        f"[{mark}] [{alert['severity']}] {alert['rule']}: {alert['summary']} "
        f"(alert {alert['id']}, seen {alert['count']}x)"
    )
