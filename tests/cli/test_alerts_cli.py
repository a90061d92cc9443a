"""``shipyard alerts``: rules, and alerts listed, shown, acknowledged and resolved from the
command line, on SQLite and PostgreSQL; notifications reach a real HTTP receiver and a
real SMTP server on 127.0.0.1; errors in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from alerting.receivers import HTTPReceiver, SMTPReceiver, free_port, receivers
from monitored import Scene
from shipyard.config import Settings
from shipyard.monitoring import MonitorService
from shipyard.registry import Registry


@pytest.fixture
def scene(
    settings: Settings, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SHIPYARD_ALERT_BACKOFF_S", "0.01")
    monkeypatch.setenv("SHIPYARD_ALERT_ATTEMPTS", "2")
    yield Scene(settings, registry)


@pytest.fixture
def inbox() -> Iterator[tuple[HTTPReceiver, SMTPReceiver]]:
    yield from receivers()


def test_alerts_from_the_command_line(  # type: ignore[no-untyped-def]
    run, scene: Scene, registry: Registry, settings: Settings, inbox
) -> None:
    http, smtp = inbox
    monitors = MonitorService(registry, settings.predictions, settings.feedback)
    monitors.create(
        "ops", endpoint="calm", checks=["operations"], rows=20, thresholds={"error_rate": 0.05}
    )
    created = run(
        "alerts",
        "rules",
        "create",
        "errors",
        "--monitor",
        "ops",
        "--metric",
        "error_rate",
        "--severity",
        "critical",
        "--cooldown",
        "1h",
        "--webhook",
        f"{http.url}/hook",
        "--email",
        "oncall@example.com",
        "--smtp-host",
        "127.0.0.1",
        "--smtp-port",
        str(smtp.port),
    )
    assert created.code == 0, created.err
    assert created.out.startswith(
        "errors: monitor ops error_rate, status == breach, critical, cooldown 1h; "
        "channels webhook, email"
    )
    assert [r["name"] for r in json.loads(run("alerts", "rules", "list", "--json").out)] == [
        "errors"
    ]
    assert "nothing new" in run("alerts", "evaluate").out

    scene.answer("calm", scene.inputs(10, 1))
    for _ in range(10):
        scene.fail("calm", 20.0)
    monitors.run("ops", datetime.now(UTC) + timedelta(seconds=1))
    http.failures = [503]
    evaluated = run("alerts", "evaluate")
    assert evaluated.code == 0, evaluated.err
    assert "firing" in evaluated.out and "error_rate = 0.5" in evaluated.out
    assert len(http.received) == 1 and len(smtp.messages) == 1

    (alert,) = json.loads(run("alerts", "list", "--state", "firing", "--json").out)
    shown = run("alerts", "show", str(alert["id"]))
    assert shown.code == 0, shown.err
    assert f"alert {alert['id']} [critical] firing: monitor ops" in shown.out
    assert "failed: POST" in shown.out and "answered 503" in shown.out
    assert [
        (d["channel"], d["attempt"], d["ok"])
        for d in json.loads(run("alerts", "show", str(alert["id"]), "--json").out)["deliveries"]
    ] == [("webhook#1", 1, False), ("email#2", 1, True), ("webhook#1", 2, True)]
    assert len(alert["deliveries"]) == 3  # the list shows the attempts too
    assert alert["detail"]["at"].startswith("20")  # a time in ISO 8601

    acked = run("alerts", "ack", str(alert["id"]), "--by", "ana")
    assert acked.code == 0 and "acknowledged" in acked.out and "by ana" in acked.out
    resolved = run("alerts", "resolve", str(alert["id"]))
    assert resolved.code == 0 and "resolved" in resolved.out
    assert smtp.messages[-1]["Subject"].startswith("[RESOLVED]")
    assert "no alerts firing" in run("alerts", "list", "--state", "firing").out

    for args, hint in [
        (("alerts", "ack", str(alert["id"])), "only a firing alert can be acknowledged"),
        (("alerts", "show", "999"), "shipyard alerts list"),
        (("alerts", "list", "--state", "open"), "use one of firing, acknowledged, resolved"),
        (("alerts", "rules", "create", "x"), "--monitor M --metric X, or --rollout"),
        (("alerts", "rules", "create", "x", "--rollout", "--channel", "[1]"), "JSON object"),
        (("alerts", "rules", "delete", "nope"), "shipyard alerts rules list"),
        (("alerts", "rules", "create", "x", "--rollout", "--monitor", "ops"), "not both"),
        (
            ("alerts", "rules", "create", "x", "--monitor", "ops", "--metric", "nosuch"),
            "not one a monitor stores",
        ),
        (("alerts", "rules", "create", "x", "--rollout", "--endpoint", "nope"), "endpoints list"),
        (("alerts", "rules", "create", "x", "--rollout", "--email", "nobody"), "email address"),
    ]:
        result = run(*args)
        assert result.code == 1, (args, result.out)
        assert hint in result.err, (args, result.err)

    # A new rule starts at the monitor's latest run: the breach standing now fires at once.
    # No channel takes the notification: evaluate says so and fails.
    dead = f"http://127.0.0.1:{free_port()}"
    assert (
        run(
            "alerts",
            "rules",
            "create",
            "dead",
            "--monitor",
            "ops",
            "--metric",
            "error_rate",
            "--webhook",
            dead,
        ).code
        == 0
    )
    undelivered = run("alerts", "evaluate")
    assert undelivered.code == 1 and "firing" in undelivered.out
    assert "notification through webhook#1 failed after 2 attempt(s)" in undelivered.err
    assert run("alerts", "rules", "delete", "dead").code == 0
    assert run("alerts", "rules", "delete", "errors").code == 0
    assert "no alerts" in run("alerts", "list").out
