"""The ``email`` channel: one message per notification over SMTP (``smtplib``).

Config: ``host``, ``port`` (default 25), ``from``, ``to`` (an address or a list),
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


@register("email")
class Email(Channel):
    """Send the notification as an email through the SMTP server at ``host:port``."""

    def __init__(self, config: Mapping[str, Any], timeout_s: float = 10.0) -> None:
        super().__init__(config, timeout_s)
        self.host = self._required("host")
        self.sender = self._required("from")
        to = self.config.get("to")
        self.to = [to] if isinstance(to, str) else list(to or [])
        if not self.to or not all(isinstance(a, str) and "@" in a for a in self.to):
            raise InvalidInputError("channel email: give to, an address or a list of them")
        try:
            self.port = int(self.config.get("port", 25))
        except (TypeError, ValueError):
            raise InvalidInputError("channel email: port must be a number, e.g. 587") from None

    def send(self, notification: Mapping[str, Any]) -> None:
        message = EmailMessage()
        message["Subject"] = text(notification)
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
