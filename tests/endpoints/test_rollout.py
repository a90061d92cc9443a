"""Progressive rollouts on SQLite and PostgreSQL, judged on real prediction-log files
written for real scikit-learn models: steps, automatic rollback, restarts, steering by
hand, and refusals that leave nothing half-applied."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from shipyard.config import Settings
from shipyard.endpoints import Endpoints, Rollout, RolloutController, TrafficPolicy
from shipyard.errors import (
    ConflictError,
    EndpointNotFoundError,
    InvalidInputError,
    RolloutNotFoundError,
    ShipyardError,
    VersionNotFoundError,
)
from shipyard.registry import Registry
from shipyard.store.tables import utcnow
from traffic import Traffic, register_churn

GUARDS = ["error_rate<0.05", "p99_latency_ms<1000", "agreement>0.8"]


@pytest.fixture
def endpoints(settings: Settings, registry: Registry) -> Iterator[Endpoints]:
    register_churn(registry)
    service = Endpoints.from_settings(settings)
    service.create_endpoint("churn", single(1), reason="launch")
    yield service
    service.db.dispose()


@pytest.fixture
def controller(endpoints: Endpoints, settings: Settings) -> RolloutController:
    return RolloutController(endpoints, settings.predictions)


@pytest.fixture
def traffic(endpoints: Endpoints, registry: Registry, settings: Settings) -> Traffic:
    return Traffic(endpoints, registry, settings.predictions)


def single(version: int) -> dict[str, object]:
    return {"kind": "single", "variants": [{"name": "main", "model": f"models:/churn/{version}"}]}


def after_interval(controller: RolloutController, endpoint: str = "churn") -> list[Rollout]:
    """Tick once the current step's interval has passed."""
    rollout = controller.get(endpoint)
    due = rollout.step_started_at + timedelta(seconds=rollout.interval_s)
    time.sleep(max(0.0, (due - utcnow()).total_seconds()))
    return controller.tick(now=utcnow())


def test_a_healthy_challenger_reaches_all_traffic_step_by_step(
    controller: RolloutController, endpoints: Endpoints, traffic: Traffic, registry: Registry
) -> None:
    started = controller.start(
        "churn",
        "models:/churn/2",
        steps="25,50,100",
        interval="200ms",
        guards=GUARDS,
        min_rows=30,
        actor="ana",
    )
    assert (started.state, started.step, started.share) == ("running", 0, 25)
    assert (started.base_revision, started.revision, started.created_by) == (1, 2, "ana")
    policy = endpoints.get_endpoint("churn").current.policy
    assert policy.kind == "split" and policy.mirror  # an agreement guard: both answer
    assert [(v.model, v.weight) for v in policy.variants] == [
        ("models:/churn/1", 75),
        ("models:/churn/2", 25),
    ]

    traffic.send("churn", 120)
    early = controller.tick(now=started.step_started_at + timedelta(milliseconds=100))
    assert [r.step for r in early] == [0]  # the interval has not passed: the step goes on
    (moved,) = after_interval(controller)
    assert (moved.state, moved.step, moved.revision) == ("running", 1, 3)
    verdicts = {j["guard"]: j["verdict"] for j in moved.judgements}
    assert verdicts == {g: "pass" for g in GUARDS}
    agreement = next(j for j in moved.judgements if j["guard"] == "agreement>0.8")
    assert agreement["value"] > 0.85 and agreement["rows"] >= 100

    idle = after_interval(controller)  # no rows in the new step's window: it waits
    assert [(r.step, {j["verdict"] for j in r.judgements}) for r in idle] == [(1, {"wait"})]
    traffic.send("churn", 120)
    (done,) = after_interval(controller)
    assert (done.state, done.step, done.share, done.revision) == ("succeeded", 2, 100, 4)
    assert "models:/churn/2 serves all traffic" in done.reason
    final = endpoints.get_endpoint("churn").current
    assert final.policy == TrafficPolicy.parse(
        {"kind": "single", "variants": [{"name": "churn-2", "model": "models:/churn/2"}]}
    )
    revisions = endpoints.list_revisions("churn")
    assert [(r.revision, r.created_by, r.reason) for r in revisions[1:]] == [
        (2, "rollout", f"rollout {started.id}: step 1/3 (25%)"),
        (3, "rollout", f"rollout {started.id}: step 2/3 (50%)"),
        (4, "rollout", f"rollout {started.id}: step 3/3 (100%)"),
    ]
    actions = [e.action for e in registry.events(target_kind="rollout")[::-1]]
    assert actions == ["rollout.start", "rollout.step", "rollout.succeeded"]
    assert controller.tick() == []  # nothing left to do
    assert controller.list(active=True) == [] and controller.list()[0].id == started.id


def test_a_challenger_failing_on_a_fifth_of_rows_is_rolled_back_by_itself(
    controller: RolloutController, endpoints: Endpoints, traffic: Traffic, registry: Registry
) -> None:
    controller.start(
        "churn",
        "models:/churn/3",
        steps="20,100",
        interval=60,
        guards=["error_rate<0.05"],
        min_rows=20,
    )
    assert not endpoints.get_endpoint("churn").current.policy.mirror  # no agreement guard
    traffic.send("churn", 300)
    (rolled,) = controller.tick()  # long before the interval: a breach acts at once
    assert rolled.state == "rolled_back" and rolled.revision == 1
    assert rolled.reason.startswith(
        "guard breached at step 1/2 (20%): error_rate<0.05: breach (error_rate=0."
    )
    assert rolled.reason.endswith("endpoint back at revision 1")
    (breach,) = [j for j in rolled.judgements if j["verdict"] == "breach"]
    assert 0.1 < breach["value"] < 0.3
    endpoint = endpoints.get_endpoint("churn")
    assert endpoint.current.revision == 1 and endpoint.latest_revision == 2
    event = registry.events(target_kind="rollout")[0]
    assert (event.action, event.actor, event.target) == ("rollout.rolled_back", "rollout", "churn")
    assert event.after is not None and event.after["reason"] == rolled.reason
    back = registry.events(target_kind="endpoint")[0]
    assert back.action == "endpoint.rollback" and back.after is not None
    assert "error_rate<0.05: breach" in back.after["reason"]
    assert controller.tick() == []


def test_a_challenger_that_disagrees_with_the_champion_is_rolled_back(
    controller: RolloutController, endpoints: Endpoints, traffic: Traffic
) -> None:
    controller.start(
        "churn",
        "models:/churn/4",
        steps=[10, 50, 100],
        interval="1h",
        guards=["error_rate<0.05", "agreement>0.9"],
        min_rows=50,
    )
    traffic.send("churn", 30)
    (waiting,) = controller.tick()  # 30 rows: too few to judge either way
    assert waiting.state == "running"
    assert [j["verdict"] for j in waiting.judgements] == ["wait", "wait"]
    traffic.send("churn", 60)
    (rolled,) = controller.tick()
    assert rolled.state == "rolled_back"
    assert "agreement>0.9: breach (agreement=" in rolled.reason
    assert "error_rate" not in rolled.reason  # only the breached guard is named
    assert endpoints.get_endpoint("churn").current.revision == 1


def test_a_rollout_survives_a_restart(
    controller: RolloutController, traffic: Traffic, settings: Settings
) -> None:
    started = controller.start(
        "churn", "models:/churn/2", steps="50,100", interval=0.2, guards=GUARDS, min_rows=30
    )
    controller.db.dispose()  # the first controller's process is gone
    restarted = RolloutController.from_settings(settings)
    try:
        assert restarted.get("churn") == started
        traffic.send("churn", 80)
        (done,) = after_interval(restarted)
        assert done.state == "succeeded" and done.id == started.id
    finally:
        restarted.db.dispose()


def test_pause_resume_and_abort_by_hand(
    controller: RolloutController, endpoints: Endpoints, traffic: Traffic
) -> None:
    controller.start(
        "churn", "models:/churn/2", steps="10,50,100", interval=0.2, guards=GUARDS, min_rows=30
    )
    paused = controller.pause("churn", reason="holiday freeze", actor="ana")
    assert paused.state == "paused" and paused.reason == "paused by ana: holiday freeze"
    with pytest.raises(ConflictError, match="paused already; resume it with"):
        controller.pause("churn")
    traffic.send("churn", 60)
    assert after_interval(controller) == []  # paused: nothing moves
    assert endpoints.get_endpoint("churn").current.revision == 2
    resumed = controller.resume("churn")
    assert resumed.state == "running" and resumed.step_started_at > paused.step_started_at
    with pytest.raises(ConflictError, match="running already"):
        controller.resume("churn")
    (waiting,) = after_interval(controller)  # the rows before resuming do not count
    assert waiting.step == 0 and {j["verdict"] for j in waiting.judgements} == {"wait"}
    traffic.send("churn", 60)
    (moved,) = after_interval(controller)
    assert moved.step == 1 and moved.revision == 3
    aborted = controller.abort("churn", reason="not now", actor="ana")
    assert aborted.state == "aborted" and aborted.revision == 1
    assert aborted.reason == "aborted by ana: not now; endpoint back at revision 1"
    assert endpoints.get_endpoint("churn").current.revision == 1
    with pytest.raises(RolloutNotFoundError, match="no running or paused rollout"):
        controller.abort("churn")
    again = controller.start(
        "churn", "models:/churn/2", steps="50,100", interval=1, guards=GUARDS
    )  # an ended rollout does not hold the endpoint
    assert again.id != aborted.id and again.base_revision == 1


def test_a_change_by_hand_stops_the_rollout_and_is_left_alone(
    controller: RolloutController, endpoints: Endpoints, traffic: Traffic, registry: Registry
) -> None:
    controller.start(
        "churn", "models:/churn/2", steps="50,100", interval=0.2, guards=GUARDS, min_rows=30
    )
    traffic.send("churn", 60)
    endpoints.update_endpoint("churn", single(3), reason="hotfix", actor="ana")
    (stopped,) = after_interval(controller)
    assert stopped.state == "aborted" and "was changed by hand at step 1/2 (50%)" in stopped.reason
    assert "it is at revision 3, the rollout set 2; traffic left as it is" in stopped.reason
    current = endpoints.get_endpoint("churn").current
    assert (current.revision, current.reason) == (3, "hotfix")
    assert endpoints.get_endpoint("churn").latest_revision == 3
    event = registry.events(target_kind="rollout")[0]
    assert event.action == "rollout.aborted" and event.after is not None
    assert event.after["reason"] == stopped.reason


def test_bad_starts_are_refused_and_change_nothing(
    controller: RolloutController, endpoints: Endpoints
) -> None:
    ok = {"steps": "5,25,50,100", "interval": "5m", "guards": ["error_rate<0.01"]}
    cases: list[tuple[type[ShipyardError], str, dict[str, object]]] = [
        (
            ConflictError,
            "models:/churn/1 already serves endpoint 'churn'",
            {"to": "models:/churn/1"},
        ),
        (VersionNotFoundError, "has no version 9", {"to": "models:/churn/9"}),
        (EndpointNotFoundError, "no endpoint named 'nope'", {"endpoint": "nope"}),
        (InvalidInputError, "is not METRIC<NUMBER", {"guards": ["error_rate"]}),
        (InvalidInputError, "unknown metric 'errors'", {"guards": ["errors<0.1"]}),
        (InvalidInputError, "at least one guard", {"guards": []}),
        (InvalidInputError, "strictly up", {"steps": "50,25,100"}),
        (InvalidInputError, "must end at 100", {"steps": "5,25"}),
        (InvalidInputError, "a step below 100", {"steps": "100"}),
        (InvalidInputError, "not a share of traffic in (0, 100]", {"steps": "0,100"}),
        (InvalidInputError, "not comma-separated percentages", {"steps": "5;100"}),
        (InvalidInputError, "is not a duration", {"interval": "5 minutes"}),
        (InvalidInputError, "must be a positive duration", {"interval": "0s"}),
        (InvalidInputError, "min_rows must be a positive integer", {"min_rows": 0}),
    ]
    for error, message, change in cases:
        arguments: dict[str, object] = {"endpoint": "churn", "to": "models:/churn/2", **ok}
        arguments |= change
        with pytest.raises(error) as caught:
            controller.start(**arguments)  # type: ignore[arg-type]
        assert message in str(caught.value), (change, caught.value)
    endpoints.update_endpoint(
        "churn",
        {
            "kind": "split",
            "variants": [
                {"name": "a", "model": "models:/churn/1", "weight": 50},
                {"name": "b", "model": "models:/churn/2", "weight": 50},
            ],
        },
    )
    with pytest.raises(ConflictError, match="serves a split policy; a rollout starts from one"):
        controller.start("churn", "models:/churn/3", **ok)  # type: ignore[arg-type]
    assert len(endpoints.list_revisions("churn")) == 2 and controller.list() == []


def test_one_rollout_at_a_time_per_endpoint(
    controller: RolloutController, endpoints: Endpoints, settings: Settings
) -> None:
    ok = {"steps": "5,100", "interval": "5m", "guards": ["error_rate<0.01"]}
    others = [RolloutController.from_settings(settings) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def start(other: RolloutController, version: int) -> None:
        barrier.wait()
        try:
            outcomes.append(other.start("churn", f"models:/churn/{version}", **ok))  # type: ignore[arg-type]
        except ShipyardError as exc:
            outcomes.append(exc)

    threads = [
        threading.Thread(target=start, args=(o, v)) for o, v in zip(others, (2, 3), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.db.dispose()
    started = [o for o in outcomes if isinstance(o, Rollout)]
    refused = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(started) == 1 and len(refused) == 1, outcomes
    assert f"already has rollout {started[0].id} (running" in str(refused[0])
    assert [r.id for r in controller.list(active=True)] == [started[0].id]
    assert len(endpoints.list_revisions("churn")) == 2  # one rollout's first step only


def test_two_controllers_ticking_at_once_move_a_rollout_once(
    controller: RolloutController, traffic: Traffic, settings: Settings, registry: Registry
) -> None:
    controller.start(
        "churn", "models:/churn/2", steps="10,50,100", interval=0.2, guards=GUARDS, min_rows=30
    )
    traffic.send("churn", 60)
    time.sleep(0.2)
    others = [RolloutController.from_settings(settings) for _ in range(2)]
    now = utcnow()
    barrier = threading.Barrier(2)

    def tick(other: RolloutController) -> None:
        barrier.wait()
        other.tick(now=now)

    threads = [threading.Thread(target=tick, args=(o,)) for o in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.db.dispose()
    assert controller.get("churn").step == 1
    steps = [e for e in registry.events(target_kind="rollout") if e.action == "rollout.step"]
    assert len(steps) == 1


def test_a_rollout_that_cannot_move_does_not_hold_up_the_others(
    controller: RolloutController,
    endpoints: Endpoints,
    traffic: Traffic,
    registry: Registry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoints.create_endpoint("other", single(1))
    plan = {"steps": "50,100", "interval": 0.2, "guards": ["p99_latency_ms<1000"], "min_rows": 20}
    controller.start("churn", "models:/churn/4", **plan)  # type: ignore[arg-type]
    controller.start("other", "models:/churn/2", **plan)  # type: ignore[arg-type]
    traffic.send("churn", 80)
    traffic.send("other", 80)
    registry.set_status("churn", 4, "archived")  # churn's next step cannot be served
    ticked = after_interval(controller)
    assert [(r.endpoint, r.state) for r in ticked] == [("other", "succeeded")]
    stuck = controller.get("churn")
    assert (stuck.state, stuck.step) == ("running", 0)
    assert endpoints.get_endpoint("churn").current.revision == 2  # nothing half-applied
    assert "rollout 1 of 'churn' could not move: models:/churn/4 is archived" in caplog.text


def test_the_controller_loop_advances_rollouts_until_stopped(
    controller: RolloutController, traffic: Traffic
) -> None:
    controller.start(
        "churn", "models:/churn/2", steps="50,100", interval=0.2, guards=GUARDS, min_rows=30
    )
    traffic.send("churn", 60)
    stop = threading.Event()
    seen: list[list[Rollout]] = []
    loop = threading.Thread(target=controller.run, args=(stop, 0.05, seen.append))
    loop.start()
    deadline = time.monotonic() + 10
    while controller.get("churn").state == "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    loop.join(timeout=5)
    assert not loop.is_alive()
    assert controller.get("churn").state == "succeeded"
    assert [r.state for ticked in seen for r in ticked][-1] == "succeeded"
