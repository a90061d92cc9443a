"""The ``email`` channel: one message per notification over SMTP (``smtplib``).

Config: ``host`` (default ``localhost``), ``port`` (default 25), ``from`` (default
``shipyard@localhost``), ``to`` (an address or a list),
optionally ``starttls`` (bool), ``username`` and ``password``.
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from shipyard.alerting.channels import Channel, DeliveryError, register
from shipyard.alerting.channels.webhook import text
from shipyard.errors import InvalidInputError


def _address(value: object) -> bool:
    return isinstance(value, str) and "@" in value and not any(c.isspace() for c in value)


@register("email")
class Email(Channel):
    """Send the notification as an email through the SMTP server at ``host:port``."""

    def __init__(self, config: Mapping[str, Any], timeout_s: float = 10.0) -> None:
        super().__init__(config, timeout_s)
        self.config.setdefault("host", "localhost")
        self.config.setdefault("from", "shipyard@localhost")
        self.host = self._required("host")
        self.sender = self._required("from")
        if not _address(self.sender):
            raise InvalidInputError(
                "channel email: from must be an address, e.g. shipyard@example.com"
            )
        to = self.config.get("to")
        self.to = [to] if isinstance(to, str) else to if isinstance(to, list) else []
        if not self.to or not all(_address(a) for a in self.to):
            raise InvalidInputError(
                f"channel email: 'to' must be an email address or a list of them, e.g. "
                f"oncall@example.com; got {to!r}"
            )
        try:
            self.port = int(self.config.get("port", 25))
        except (TypeError, ValueError):
            self.port = 0
        if not 0 < self.port < 65_536:
            raise InvalidInputError("channel email: port must be a number, e.g. 587")

    def send(self, notification: Mapping[str, Any]) -> None:
        message = EmailMessage()
        message["Subject"] = " ".join(text(notification).split())[:900]  # one header line
        message["From"] = self.sender
        message["To"] = ", ".join(self.to)
        message.set_content(json.dumps(dict(notification), indent=2, default=str))
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
                if self.config.get("starttls"):
                    smtp.starttls()
                if self.config.get("username"):
                    smtp.login(str(self.config["username"]), str(self.config.get("password", "")))
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"SMTP {self.host}:{self.port} failed: {type(exc).__name__}: {exc}"
            ) from exc
