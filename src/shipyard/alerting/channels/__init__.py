"""Alert channels, registered by key: a rule's channel ``{"type": KEY, ...}`` is sent
through the class registered under ``KEY``. A new channel is one module defining a
:class:`Channel` subclass decorated with :func:`register`, imported below.

Built in: ``webhook`` (POST the alert as JSON), ``slack`` (POST ``{"text": ...}`` to a
Slack-compatible incoming webhook) and ``email`` (SMTP).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from shipyard.errors import InvalidInputError


class DeliveryError(Exception):
    """A channel could not deliver; the message says why (it is recorded and retried)."""


class Channel(abc.ABC):
    """A way to send an alert's notifications. ``config`` is the rule's channel entry,
    checked when the rule is created (raise :class:`InvalidInputError` naming the field)."""

    key: ClassVar[str]

    def __init__(self, config: Mapping[str, Any], timeout_s: float = 10.0) -> None:
        self.config = dict(config)
        self.timeout_s = timeout_s

    @abc.abstractmethod
    def send(self, notification: Mapping[str, Any]) -> None:
        """Deliver ``notification`` (see :func:`shipyard.alerting.service.notification`)
        once; raise :class:`DeliveryError` when it did not arrive."""

    def _required(self, field: str) -> str:
        value = self.config.get(field)
        if not isinstance(value, str) or not value:
            raise InvalidInputError(
                f"channel {self.key}: give {field}, e.g. "
                + ("url=https://hooks.example.com/..." if field == "url" else f"{field}=VALUE")
            )
        return value


CHANNELS: dict[str, type[Channel]] = {}


def register(key: str) -> Callable[[type[Channel]], type[Channel]]:
    """Register a :class:`Channel` subclass under ``key``."""

    def add(cls: type[Channel]) -> type[Channel]:
        cls.key = key
        CHANNELS[key] = cls
        return cls

    return add


def channel(config: Mapping[str, Any], timeout_s: float = 10.0) -> Channel:
    """The channel a rule's ``{"type": KEY, ...}`` entry describes."""
    kind = config.get("type")
    found = CHANNELS.get(str(kind))
    if found is None:
        raise InvalidInputError(
            f"channel type {kind!r} is not known; use one of {', '.join(sorted(CHANNELS))}"
        )
    return found(config, timeout_s)


from shipyard.alerting.channels import email, webhook  # noqa: E402  (registers them)

__all__ = ["CHANNELS", "Channel", "DeliveryError", "channel", "email", "register", "webhook"]
