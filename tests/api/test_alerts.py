"""``/api/v1/alerts`` and ``/api/v1/alert-rules`` on a real server, on SQLite and
PostgreSQL: a rule made over REST fires on a real monitor breach and notifies a real HTTP
receiver; alerts are listed, shown, acknowledged and resolved through the client's
alerting calls; refusals carry their status and what to do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from alerting.receivers import HTTPReceiver
from api.conftest import Server
from monitored import Scene
from shipyard.client import Client
from shipyard.errors import AlertNotFoundError, ConflictError, InvalidInputError
from shipyard.monitoring import MonitorService
from shipyard.registry import Registry


@pytest.fixture
def http() -> Iterator[HTTPReceiver]:
    receiver = HTTPReceiver()
    yield receiver
    receiver.close()


def test_alerts_over_rest(control_plane: Server, registry: Registry, http: HTTPReceiver) -> None:
    settings = control_plane.settings
    scene = Scene(settings, registry)
    monitors = MonitorService(registry, settings.predictions, settings.feedback)
    monitors.create(
        "ops", endpoint="calm", checks=["operations"], rows=20, thresholds={"error_rate": 0.05}
    )
    rest = control_plane.http
    created = rest.post(
        "/alert-rules",
        json={
            "name": "errors",
            "source": {"kind": "monitor", "monitor": "ops", "metric": "error_rate"},
            "severity": "critical",
            "cooldown": "1h",
            "channels": [{"type": "webhook", "url": http.url}],
        },
        headers={"X-Shipyard-Actor": "ana"},
    )
    assert created.status_code == 201, created.text
    assert (
        created.json()["created_by"] == "ana (by tester)" and created.json()["cooldown_s"] == 3600
    )
    assert rest.get("/alert-rules/errors").json()["condition"] == "status == breach"

    scene.answer("calm", scene.inputs(10, 1))
    for _ in range(10):
        scene.fail("calm", 20.0)
    monitors.run("ops", datetime.now(UTC) + timedelta(seconds=1))

    with Client(control_plane.url, actor="bo") as client:
        (fired,) = client.evaluate_alerts()
        assert (fired.state, fired.severity, fired.rule) == ("firing", "critical", "errors")
        assert [a.id for a in client.list_alerts("firing")] == [fired.id]
        shown = client.get_alert(fired.id)
        assert [(d.channel, d.attempt, d.ok) for d in shown.deliveries] == [("webhook#1", 1, True)]
        assert http.received[0][1]["alert"]["id"] == fired.id
        acked = client.ack_alert(fired.id)
        assert (acked.state, acked.acked_by) == ("acknowledged", "bo (by tester)")
        with pytest.raises(ConflictError, match="only a firing alert"):
            client.ack_alert(fired.id)
        resolved = client.resolve_alert(fired.id, by="ana")
        assert (resolved.state, resolved.resolved_by) == ("resolved", "ana")
        assert [b["event"] for _, b in http.received] == ["firing", "resolved"]
        with pytest.raises(AlertNotFoundError, match="shipyard alerts list"):
            client.get_alert(12345)
        with pytest.raises(InvalidInputError, match="value OP NUMBER"):
            client.create_alert_rule(
                "x",
                source={"kind": "monitor", "monitor": "ops", "metric": "error_rate"},
                condition="big",
            )
        rules = client.list_alert_rules()
        assert [r.name for r in rules] == ["errors"]
        assert client.delete_alert_rule("errors").name == "errors"
        assert client.list_alerts() == []

    assert rest.get("/alerts", params={"state": "open"}).status_code == 422
    assert rest.post("/alerts/0/ack").status_code == 422
    refused = rest.post(
        "/alert-rules",
        json={"name": "x", "source": {"kind": "rollout"}, "channels": [{"type": "email", "to": 5}]},
    )
    assert refused.status_code == 400 and "channel email" in refused.json()["error"]
