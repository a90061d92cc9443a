"""Alerts on SQLite and PostgreSQL, from monitor results written by the real
MonitorService on logged predictions of a real model and from a real rollout rolled back
by its guard; notifications delivered to real receivers on 127.0.0.1 (an HTTP server
for the webhook and Slack-compatible channels, aiosmtpd for email)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerting.receivers import HTTPReceiver, SMTPReceiver, free_port, receivers
from monitored import Scene
from shipyard.alerting import Alert, AlertService
from shipyard.config import Settings
from shipyard.endpoints import Endpoints, RolloutController
from shipyard.errors import (
    AlertNotFoundError,
    AlertRuleNotFoundError,
    ConflictError,
    InvalidInputError,
    MonitorNotFoundError,
)
from shipyard.monitoring import MonitorService
from shipyard.registry import Registry
from traffic import Traffic, register_churn

OPS = {"kind": "monitor", "monitor": "ops", "metric": "error_rate"}


@pytest.fixture
def inbox() -> Iterator[tuple[HTTPReceiver, SMTPReceiver]]:
    yield from receivers()


@pytest.fixture
def http(inbox: tuple[HTTPReceiver, SMTPReceiver]) -> HTTPReceiver:
    return inbox[0]


@pytest.fixture
def smtp(inbox: tuple[HTTPReceiver, SMTPReceiver]) -> SMTPReceiver:
    return inbox[1]


@pytest.fixture
def alerts(registry: Registry) -> AlertService:
    return AlertService(registry, attempts=3, backoff_s=0.01, timeout_s=5)


@pytest.fixture
def scene(settings: Settings, registry: Registry) -> Scene:
    return Scene(settings, registry)


@pytest.fixture
def monitors(settings: Settings, registry: Registry, scene: Scene) -> MonitorService:
    service = MonitorService(registry, settings.predictions, settings.feedback)
    service.create(
        "ops", endpoint="calm", checks=["operations"], rows=20, thresholds={"error_rate": 0.05}
    )
    return service


def channels(http: HTTPReceiver, smtp: SMTPReceiver) -> list[dict[str, Any]]:
    return [
        {"type": "webhook", "url": f"{http.url}/hook"},
        {"type": "slack", "url": f"{http.url}/slack"},
        {
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp.port,
            "from": "shipyard@example.com",
            "to": ["oncall@example.com"],
        },
    ]


def _at(seconds: float = 1.0) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def breach(scene: Scene, monitors: MonitorService) -> None:
    """A window of 20 requests, 10 failed: error rate 0.5 against 0.05."""
    scene.answer("calm", scene.inputs(10, 1))
    for _ in range(10):
        scene.fail("calm", 20.0)
    run = monitors.run("ops", _at())
    assert [r.status for r in run.results if r.metric == "error_rate"] == ["breach"]


def clear(scene: Scene, monitors: MonitorService) -> None:
    """A window of 20 answered requests: error rate 0."""
    scene.answer("calm", scene.inputs(20, 2))
    run = monitors.run("ops", _at(2))
    assert [r.status for r in run.results if r.metric == "error_rate"] == ["ok"]


def test_a_breach_fires_one_alert_through_every_channel_and_clears_by_itself(
    scene: Scene,
    monitors: MonitorService,
    alerts: AlertService,
    http: HTTPReceiver,
    smtp: SMTPReceiver,
) -> None:
    alerts.create_rule(
        "errors", source=OPS, severity="critical", cooldown="1h", channels=channels(http, smtp)
    )
    assert alerts.evaluate() == []
    breach(scene, monitors)
    (fired,) = alerts.evaluate()
    assert (fired.state, fired.severity, fired.count, fired.rule) == (
        "firing",
        "critical",
        1,
        "errors",
    )
    assert fired.dedup_key == "errors|ops|error_rate|"
    assert fired.summary == "monitor ops: error_rate = 0.5 (threshold 0.05)"
    (hook,) = http.bodies("/hook")
    assert hook["event"] == "firing" and hook["alert"]["id"] == fired.id
    assert hook["alert"]["detail"]["value"] == 0.5 and hook["rule"]["name"] == "errors"
    (slack,) = http.bodies("/slack")
    assert set(slack) == {"text"} and slack["text"].startswith("[FIRING] [critical] errors: ")
    (mail,) = smtp.messages
    assert mail["To"] == "oncall@example.com" and mail["Subject"].startswith("[FIRING]")

    breach(scene, monitors)
    breach(scene, monitors)
    (bumped,) = alerts.evaluate()
    assert (bumped.id, bumped.count, bumped.state) == (fired.id, 3, "firing")
    assert len(alerts.list()) == 1
    assert len(http.received) == 2 and len(smtp.messages) == 1  # within the cooldown

    clear(scene, monitors)
    (resolved,) = alerts.evaluate()
    assert (resolved.id, resolved.state, resolved.resolved_by) == (fired.id, "resolved", "shipyard")
    assert [b["event"] for b in http.bodies("/hook")] == ["firing", "resolved"]
    assert http.bodies("/slack")[-1]["text"].startswith("[RESOLVED]")
    assert smtp.messages[-1]["Subject"].startswith("[RESOLVED]")
    shown = alerts.get(fired.id)
    assert [(d.channel, d.event, d.attempt, d.ok) for d in shown.deliveries] == [
        (c, e, 1, True) for e in ("firing", "resolved") for c in ("webhook#1", "slack#2", "email#3")
    ]
    assert alerts.list(state="firing") == [] and alerts.list(state="resolved")[0].id == fired.id

    breach(scene, monitors)  # a new breach after resolving opens a new alert
    (again,) = alerts.evaluate()
    assert again.id != fired.id and again.state == "firing"
    assert len(smtp.messages) == 2  # resolved was sent; a new firing is within the cooldown
    assert again.notified_at is None


def test_a_firing_alert_is_notified_again_once_the_cooldown_passed(
    scene: Scene,
    monitors: MonitorService,
    alerts: AlertService,
    http: HTTPReceiver,
) -> None:
    alerts.create_rule(
        "errors", source=OPS, cooldown=600, channels=[{"type": "webhook", "url": http.url}]
    )
    breach(scene, monitors)
    alerts.evaluate()
    breach(scene, monitors)
    alerts.evaluate(_at(300))
    assert len(http.received) == 1
    breach(scene, monitors)
    (bumped,) = alerts.evaluate(_at(700))
    assert bumped.count == 3 and len(http.received) == 2


def test_ack_and_resolve_by_hand(
    scene: Scene,
    monitors: MonitorService,
    alerts: AlertService,
    http: HTTPReceiver,
) -> None:
    alerts.create_rule(
        "errors", source=OPS, cooldown=0, channels=[{"type": "webhook", "url": http.url}]
    )
    breach(scene, monitors)
    (fired,) = alerts.evaluate()
    acked = alerts.ack(fired.id, by="ana")
    assert (acked.state, acked.acked_by) == ("acknowledged", "ana") and acked.acked_at
    breach(scene, monitors)
    (bumped,) = alerts.evaluate()
    assert (bumped.state, bumped.count) == ("acknowledged", 2)
    assert len(http.received) == 1  # an acknowledged alert is not re-notified
    with pytest.raises(ConflictError, match="only a firing alert"):
        alerts.ack(fired.id)
    done = alerts.resolve(fired.id, by="ana")
    assert (done.state, done.resolved_by) == ("resolved", "ana")
    assert [b["event"] for _, b in http.received] == ["firing", "resolved"]
    with pytest.raises(ConflictError, match="resolved already"):
        alerts.resolve(fired.id)
    with pytest.raises(AlertNotFoundError, match="shipyard alerts list"):
        alerts.ack(999)


def test_a_receiver_failing_twice_gets_the_notification_on_the_third_attempt(
    scene: Scene,
    monitors: MonitorService,
    alerts: AlertService,
    http: HTTPReceiver,
) -> None:
    alerts.create_rule("errors", source=OPS, channels=[{"type": "webhook", "url": http.url}])
    http.failures = [500, 500]
    breach(scene, monitors)
    (fired,) = alerts.evaluate()
    assert http.answered == [500, 500, 200] and len(http.received) == 1
    deliveries = alerts.get(fired.id).deliveries
    assert [(d.attempt, d.ok) for d in deliveries] == [(1, False), (2, False), (3, True)]
    assert deliveries[0].error is not None and "answered 500" in deliveries[0].error
    assert deliveries[0].at < deliveries[1].at < deliveries[2].at


def test_an_unreachable_channel_fails_every_attempt_and_says_so(
    scene: Scene,
    monitors: MonitorService,
    alerts: AlertService,
) -> None:
    port = free_port()
    alerts.create_rule(
        "errors",
        source=OPS,
        channels=[
            {"type": "slack", "name": "team", "url": f"http://127.0.0.1:{port}"},
            {"type": "email", "host": "127.0.0.1", "port": port, "from": "a@b.c", "to": "d@e.f"},
        ],
    )
    breach(scene, monitors)
    (fired,) = alerts.evaluate()
    failed = alerts.get(fired.id).failed_deliveries
    # Each round of attempts goes to every channel still failing, then waits.
    assert [(d.channel, d.attempt) for d in failed] == [
        ("team", 1),
        ("email#2", 1),
        ("team", 2),
        ("email#2", 2),
        ("team", 3),
        ("email#2", 3),
    ]
    assert "ConnectError" in (failed[0].error or "") and "SMTP 127.0.0.1" in (failed[1].error or "")
    # Nobody was told: the alert stays un-notified, so the next breach notifies again.
    assert alerts.get(fired.id).notified_at is None


def test_the_server_round_does_not_wait_for_retries(
    registry: Registry, scene: Scene, monitors: MonitorService, http: HTTPReceiver
) -> None:
    slow = AlertService(registry, attempts=2, backoff_s=0.5, timeout_s=5)
    dead = f"http://127.0.0.1:{free_port()}"
    slow.create_rule(
        "errors",
        source=OPS,
        channels=[{"url": dead, "type": "webhook"}, {"type": "webhook", "url": http.url}],
    )
    breach(scene, monitors)
    (fired,) = slow.evaluate(wait=False)
    # The round returned before the retry's wait was over: the dead channel has at most
    # its first attempt; the working one is not held up by it.
    assert len([d for d in slow.get(fired.id).deliveries if d.channel == "webhook#1"]) <= 1
    deadline = time.monotonic() + 10
    while len(slow.get(fired.id).deliveries) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    attempts = [(d.channel, d.attempt, d.ok) for d in slow.get(fired.id).deliveries]
    assert attempts == [("webhook#1", 1, False), ("webhook#2", 1, True), ("webhook#1", 2, False)]
    assert len(http.received) == 1


def test_an_alert_id_is_never_given_again(
    scene: Scene, monitors: MonitorService, alerts: AlertService
) -> None:
    breach(scene, monitors)
    alerts.create_rule("first", source=OPS)
    (gone,) = alerts.evaluate()
    alerts.delete_rule("first")  # with its alerts
    alerts.create_rule("second", source=OPS)
    (fresh,) = alerts.evaluate()
    assert fresh.id > gone.id


def test_a_new_rule_fires_on_the_breach_standing_now(
    scene: Scene, monitors: MonitorService, alerts: AlertService, http: HTTPReceiver
) -> None:
    breach(scene, monitors)
    alerts.create_rule("late", source=OPS, channels=[{"type": "webhook", "url": http.url}])
    (fired,) = alerts.evaluate()
    assert fired.state == "firing" and fired.detail["value"] == 0.5
    assert alerts.evaluate() == []  # judged once


def test_a_value_condition_on_any_column(
    scene: Scene,
    monitors: MonitorService,
    alerts: AlertService,
    http: HTTPReceiver,
) -> None:
    alerts.create_rule(
        "slow",
        source={"kind": "monitor", "monitor": "ops", "metric": "p99_latency_ms"},
        condition="value >= 15",
        severity="info",
        channels=[{"type": "webhook", "url": http.url}],
    )
    assert alerts.get_rule("slow").condition == "value >= 15"
    breach(scene, monitors)  # the failed requests took 20 ms
    (fired,) = alerts.evaluate()
    assert fired.severity == "info" and fired.summary.endswith("(value >= 15)")
    clear(scene, monitors)  # 5 ms each
    (resolved,) = alerts.evaluate()
    assert resolved.state == "resolved"


def test_a_rollout_rolled_back_by_its_guard_fires(
    settings: Settings,
    registry: Registry,
    alerts: AlertService,
    http: HTTPReceiver,
) -> None:
    register_churn(registry)
    endpoints = Endpoints.from_settings(settings)
    single = {"kind": "single", "variants": [{"name": "main", "model": "models:/churn/1"}]}
    endpoints.create_endpoint("churn", single)
    controller = RolloutController(endpoints, settings.predictions)
    alerts.create_rule(
        "rollbacks",
        source={"kind": "rollout"},
        severity="critical",
        channels=[{"type": "webhook", "url": http.url}],
    )
    controller.start(
        "churn",
        "models:/churn/3",
        steps="20,100",
        interval=60,
        guards=["error_rate<0.05"],
        min_rows=20,
    )
    Traffic(endpoints, registry, settings.predictions).send("churn", 300)
    (rolled,) = controller.tick()
    assert rolled.state == "rolled_back"
    (fired,) = alerts.evaluate()
    assert fired.dedup_key == "rollbacks|rollout|churn" and fired.severity == "critical"
    assert fired.summary.startswith("rollout on endpoint churn rolled back: guard breached")
    assert fired.detail["rollout"] == rolled.id
    ((_, body),) = http.received
    assert body["alert"]["detail"]["reason"] == rolled.reason
    assert alerts.evaluate() == []  # nothing new

    controller.start(
        "churn",
        "models:/churn/2",
        steps="50,100",
        interval=0.2,
        guards=["error_rate<0.05"],
        min_rows=20,
    )
    good = Traffic(endpoints, registry, settings.predictions, seed=1)
    good.send("churn", 60)
    time.sleep(0.3)
    (done,) = controller.tick()  # 50% passed: on to 100%, the last step
    assert done.state == "succeeded", done.reason
    (resolved,) = alerts.evaluate()  # a later successful rollout clears it
    assert (resolved.id, resolved.state, resolved.resolved_by) == (fired.id, "resolved", "shipyard")
    assert [b["event"] for _, b in http.received] == ["firing", "resolved"]
    endpoints.db.dispose()


def test_rules_are_checked_listed_and_deleted(
    scene: Scene,
    monitors: MonitorService,
    alerts: AlertService,
    http: HTTPReceiver,
) -> None:
    with pytest.raises(MonitorNotFoundError, match="shipyard monitor list"):
        alerts.create_rule("x", source={"kind": "monitor", "monitor": "nope", "metric": "drift"})
    with pytest.raises(InvalidInputError, match="value OP NUMBER"):
        alerts.create_rule("x", source=OPS, condition="value is big")
    with pytest.raises(InvalidInputError, match="severity 'loud'"):
        alerts.create_rule("x", source=OPS, severity="loud")
    with pytest.raises(InvalidInputError, match="channel type 'pager'"):
        alerts.create_rule("x", source=OPS, channels=[{"type": "pager"}])
    with pytest.raises(InvalidInputError, match="channel webhook: give url"):
        alerts.create_rule("x", source=OPS, channels=[{"type": "webhook"}])
    with pytest.raises(InvalidInputError, match="source kind"):
        alerts.create_rule("x", source={"kind": "weather"})
    with pytest.raises(InvalidInputError, match="state 'open'"):
        alerts.list(state="open")
    alerts.create_rule("b", source=OPS, channels=[{"type": "webhook", "url": http.url}])
    alerts.create_rule("a", source={"kind": "rollout", "endpoint": "calm"}, enabled=False)
    with pytest.raises(ConflictError, match="exists"):
        alerts.create_rule("a", source=OPS)
    assert [r.name for r in alerts.list_rules()] == ["a", "b"]
    breach(scene, monitors)
    assert len(alerts.evaluate()) == 1
    alerts.delete_rule("b")
    assert alerts.list() == [] and [r.name for r in alerts.list_rules()] == ["a"]
    with pytest.raises(AlertRuleNotFoundError, match="shipyard alerts rules list"):
        alerts.delete_rule("b")


def test_concurrent_rounds_open_one_alert_and_notify_once(
    scene: Scene, monitors: MonitorService, registry: Registry, http: HTTPReceiver
) -> None:
    AlertService(registry).create_rule(
        "errors", source=OPS, channels=[{"type": "webhook", "url": http.url}]
    )
    breach(scene, monitors)
    breach(scene, monitors)
    services = [AlertService(Registry.from_settings(registry.settings)) for _ in range(4)]
    start = threading.Barrier(len(services))
    rounds: list[list[Alert]] = []

    def evaluate(service: AlertService) -> None:
        start.wait()
        rounds.append(service.evaluate())

    threads = [threading.Thread(target=evaluate, args=(s,)) for s in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for service in services:
        service.db.dispose()
    assert len(rounds) == len(services)
    (alert,) = AlertService(registry).list()
    assert alert.count == 2 and len(http.received) == 1
    assert sum(len(r) for r in rounds) == 1  # one round saw both results; the others nothing
