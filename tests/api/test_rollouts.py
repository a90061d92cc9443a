"""``/api/v1/endpoints/{name}/rollout`` and ``/api/v1/rollouts`` over a real server: a
rollout started, steered and ended through :class:`shipyard.Client`, plans in either
form, and refused starts that leave the endpoint's current revision as it was."""

from __future__ import annotations

from typing import Any

import pytest

from api.conftest import Server, register_doubler_and_tripler
from shipyard.errors import (
    ConflictError,
    EndpointNotFoundError,
    InvalidInputError,
    RolloutNotFoundError,
)


@pytest.fixture
def server(control_plane: Server) -> Server:
    """These routes serve no predictions: the control plane alone."""
    return control_plane


GUARDS = ["error_rate<0.05", "p99_latency_ms<1000"]


@pytest.fixture
def endpoint(server: Server) -> str:
    """Endpoint ``e`` serving ``models:/m/1`` (revision 1); ``models:/m/2`` is ready too."""
    register_doubler_and_tripler(server)
    single = {"kind": "single", "variants": [{"name": "main", "model": "models:/m/1"}]}
    server.client.create_endpoint("e", single, reason="launch")
    return "e"


def test_a_rollout_started_steered_and_aborted_through_the_client(
    server: Server, endpoint: str
) -> None:
    client = server.client
    started = client.start_rollout(
        endpoint, "models:/m/2", steps="25,50,100", interval="5m", guards=GUARDS, min_rows=30
    )
    assert (started.state, started.step, started.share) == ("running", 0, 25)
    assert (started.steps, started.interval_s, started.min_rows) == ([25, 50, 100], 300, 30)
    assert (started.base_revision, started.revision, started.created_by) == (1, 2, "tester")
    current = client.get_endpoint(endpoint).current
    assert current.revision == 2 and current.created_by == "rollout"
    assert [(v.model, v.weight) for v in current.policy.variants] == [
        ("models:/m/1", 75),
        ("models:/m/2", 25),
    ]
    assert client.get_rollout(endpoint) == started

    with pytest.raises(ConflictError, match="already has rollout 1"):
        client.start_rollout(endpoint, "models:/m/2", guards=GUARDS)
    assert client.get_endpoint(endpoint).current.revision == 2

    paused = client.pause_rollout(endpoint, reason="freeze")
    assert (paused.state, paused.reason) == ("paused", "paused by tester: freeze")
    with pytest.raises(ConflictError, match="paused already; resume it"):
        client.pause_rollout(endpoint)
    assert [r.id for r in client.list_rollouts(active=True)] == [1]
    resumed = client.resume_rollout(endpoint)
    assert (resumed.state, resumed.reason) == ("running", "")
    assert resumed.step_started_at > started.step_started_at

    reply = server.http.post(
        f"/endpoints/{endpoint}/rollout/abort",
        json={"reason": "not now"},
        headers={"X-Shipyard-Actor": "ana"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["state"] == "aborted"
    assert (
        reply.json()["reason"] == "aborted by ana (by tester): not now; endpoint back at revision 1"
    )
    back = client.get_endpoint(endpoint).current
    assert back.revision == 1 and back.policy.variants[0].model == "models:/m/1"
    assert client.list_rollouts(active=True) == []
    assert [(r.id, r.state) for r in client.list_rollouts(endpoint=endpoint)] == [(1, "aborted")]
    with pytest.raises(RolloutNotFoundError, match="no running or paused rollout"):
        client.resume_rollout(endpoint)


def test_steps_and_interval_in_either_form(server: Server, endpoint: str) -> None:
    as_numbers = server.http.post(
        f"/endpoints/{endpoint}/rollout",
        json={"to": "models:/m/2", "steps": [10, 100], "interval": 30, "guards": GUARDS},
    )
    assert as_numbers.status_code == 201, as_numbers.text
    assert (as_numbers.json()["steps"], as_numbers.json()["interval_s"]) == ([10, 100], 30)
    server.client.abort_rollout(endpoint)
    as_text = server.client.start_rollout(
        endpoint, "models:/m/2", steps="5%,50,100", interval="500ms", guards=GUARDS
    )
    assert (as_text.steps, as_text.interval_s, as_text.min_rows) == ([5, 50, 100], 0.5, 50)
    assert [r.id for r in server.client.list_rollouts()] == [2, 1]  # newest first


REFUSED: list[tuple[dict[str, Any], int, str]] = [
    ({"steps": "5,200"}, 400, "step 200% is not a share of traffic"),
    ({"steps": "five,100"}, 400, "steps 'five,100' are not comma-separated percentages"),
    ({"steps": [50, 25, 100]}, 400, "steps must go strictly up"),
    ({"steps": [100]}, 400, "a rollout needs a step below 100"),
    ({"steps": [True, 100]}, 422, "body.steps: give the steps as a list of percentages"),
    ({"steps": {"a": 1}}, 422, "body.steps: give the steps as a list of percentages"),
    ({"interval": None}, 422, "body.interval: give the interval as seconds, e.g. 300"),
    ({"interval": "5x"}, 400, "interval '5x' is not a duration"),
    ({"interval": -1}, 400, "interval -1.0 must be a positive duration"),
    ({"guards": []}, 400, "give at least one guard"),
    ({"guards": ["latency<5"]}, 400, "guard 'latency<5': unknown metric 'latency'"),
    ({"guards": ["error_rate"]}, 400, "guard 'error_rate' is not METRIC<NUMBER"),
    ({"min_rows": 0}, 422, "body.min_rows: Input should be greater than or equal to 1"),
    ({"to": "models:/m/1"}, 409, "models:/m/1 already serves endpoint 'e'"),
    ({"to": "models:/m/9"}, 404, "model 'm' has no version 9"),
    ({"to": "m-2"}, 400, "'m-2' is not a model URI"),
    ({"reason": "x"}, 422, "body.reason: Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("change", "status", "message"), REFUSED)
def test_a_refused_start_names_the_field_and_changes_nothing(
    server: Server, endpoint: str, change: dict[str, Any], status: int, message: str
) -> None:
    body = {"to": "models:/m/2", "guards": GUARDS} | change
    reply = server.http.post(f"/endpoints/{endpoint}/rollout", json=body)
    assert reply.status_code == status and message in reply.json()["error"], reply.text
    assert server.client.get_endpoint(endpoint).current.revision == 1
    assert [r.revision for r in server.client.list_revisions(endpoint)] == [1]
    assert server.client.list_rollouts() == []


def test_unknown_endpoints_and_missing_rollouts_are_404(server: Server, endpoint: str) -> None:
    client = server.client
    with pytest.raises(EndpointNotFoundError, match="nope"):
        client.start_rollout("nope", "models:/m/2", guards=GUARDS)
    with pytest.raises(EndpointNotFoundError, match="nope"):
        client.list_rollouts(endpoint="nope")
    with pytest.raises(RolloutNotFoundError, match="has had no rollout; start one"):
        client.get_rollout(endpoint)
    for action in ("pause", "resume", "abort"):
        reply = server.http.post(f"/endpoints/{endpoint}/rollout/{action}")
        assert reply.status_code == 404, reply.text
        assert reply.headers["X-Shipyard-Error"] == "RolloutNotFoundError"
    with pytest.raises(InvalidInputError, match="give at least one guard"):
        client.start_rollout(endpoint, "models:/m/2", guards=[])
