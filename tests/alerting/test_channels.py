"""Each channel against a real receiver on 127.0.0.1, called directly."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alerting.receivers import HTTPReceiver, SMTPReceiver
from shipyard.alerting import CHANNELS, DeliveryError
from shipyard.alerting.channels import channel

NOTICE = {
    "event": "firing",
    "alert": {
        "id": 3,
        "rule": "r",
        "severity": "warning",
        "count": 2,
        "summary": "rollout on endpoint e rolled back:\nguard breached",
    },
    "rule": {"name": "r"},
}


@pytest.fixture
def smtp() -> Iterator[SMTPReceiver]:
    receiver = SMTPReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def http() -> Iterator[HTTPReceiver]:
    receiver = HTTPReceiver()
    yield receiver
    receiver.close()


def test_the_built_in_channels_are_registered() -> None:
    assert sorted(CHANNELS) == ["email", "slack", "webhook"]


def test_email_puts_a_multi_line_summary_on_one_subject_line(smtp: SMTPReceiver) -> None:
    config = {
        "type": "email",
        "host": "127.0.0.1",
        "port": smtp.port,
        "from": "s@x.org",
        "to": ["a@x.org", "b@x.org"],
    }
    channel(config).send(NOTICE)
    (mail,) = smtp.messages
    assert mail["Subject"] == (
        "[FIRING] [warning] r: rollout on endpoint e rolled back: guard breached (alert 3, seen 2x)"
    )
    assert mail["To"] == "a@x.org, b@x.org" and '"id": 3' in mail.get_content()


def test_http_channels_post_and_raise_on_an_error_status(http: HTTPReceiver) -> None:
    channel({"type": "webhook", "url": f"{http.url}/w"}).send(NOTICE)
    channel({"type": "slack", "url": f"{http.url}/s"}).send(NOTICE)
    assert http.bodies("/w") == [NOTICE]
    assert http.bodies("/s")[0]["text"].startswith("[FIRING] [warning] r: rollout on endpoint")
    http.failures = [404]
    with pytest.raises(DeliveryError, match="answered 404"):
        channel({"type": "webhook", "url": http.url}).send(NOTICE)
