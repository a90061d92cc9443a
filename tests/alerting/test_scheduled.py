"""``shipyard server`` evaluates alert rules by itself and sends their notifications."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from alerting.receivers import HTTPReceiver
from monitored import Scene
from serving.conftest import ServerThread
from shipyard.alerting import AlertService
from shipyard.config import Settings
from shipyard.monitoring import MonitorService
from shipyard.registry import Registry
from shipyard.server import create_server_app


@pytest.fixture
def http() -> Iterator[HTTPReceiver]:
    receiver = HTTPReceiver()
    yield receiver
    receiver.close()


def test_the_server_evaluates_alert_rules(
    settings: Settings, registry: Registry, http: HTTPReceiver
) -> None:
    fast = settings.model_copy(update={"alert_period_s": 0.1})
    scene = Scene(fast, registry)
    monitors = MonitorService(registry, fast.predictions, fast.feedback)
    monitors.create(
        "ops", endpoint="calm", checks=["operations"], rows=20, thresholds={"error_rate": 0.05}
    )
    AlertService(registry).create_rule(
        "errors",
        source={"kind": "monitor", "monitor": "ops", "metric": "error_rate"},
        channels=[{"type": "webhook", "url": http.url}],
    )
    scene.answer("calm", scene.inputs(10, 1))
    for _ in range(10):
        scene.fail("calm", 20.0)
    app = create_server_app(fast, data_plane=False, rollouts=False, monitors=False)
    with ServerThread(app):
        monitors.run("ops", datetime.now(UTC) + timedelta(seconds=1))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not http.received:
            time.sleep(0.05)
    ((_, body),) = http.received
    assert body["event"] == "firing" and body["alert"]["rule"] == "errors"
