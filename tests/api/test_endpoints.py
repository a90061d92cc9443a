"""``/api/v1/endpoints`` over a real server: create, update, revisions, rollback, and
refused changes that leave the current revision as it was."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from api.conftest import Server
from models import Doubler, Tripler
from shipyard.endpoints import TrafficPolicy
from shipyard.errors import ConflictError, EndpointNotFoundError, VersionNotFoundError


@pytest.fixture
def versions(server: Server) -> None:
    """Two versions of ``m``, uploaded through the API."""
    for model in (Doubler, Tripler):
        server.client.register(
            _saved(server, model),
            "m",
            flavor="pyfunc",
            python_class=f"models:{model.__name__}",
            training_data=pd.DataFrame({"x": [1.0, 2.0]}),
        )


def _saved(server: Server, model: type) -> Any:
    from pathlib import Path

    directory = Path(server.settings.home).parent / f"saved-{model.__name__}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "weights.txt").write_text(model.__name__)
    return directory


def _single(version: int) -> dict[str, Any]:
    return {
        "kind": "single",
        "variants": [{"name": f"v{version}", "model": f"models:/m/{version}"}],
    }


def _split(first: float, second: float) -> dict[str, Any]:
    return {
        "kind": "split",
        "variants": [
            {"name": "stable", "model": "models:/m/1", "weight": first},
            {"name": "canary", "model": "models:/m/2", "weight": second},
        ],
    }


def test_an_endpoint_through_its_life(server: Server, versions: None) -> None:
    client = server.client
    created = client.create_endpoint("e", _single(1), description="demo", reason="launch")
    assert (created.name, created.current.revision, created.current.reason) == ("e", 1, "launch")
    assert created.current.created_by == "tester"
    assert isinstance(created.current.policy, TrafficPolicy)
    canary = client.update_endpoint("e", TrafficPolicy.parse(_split(90, 10)), reason="canary")
    assert (canary.current.revision, canary.current.parent) == (2, 1)
    assert canary.current.diff["kind"] == {"before": "single", "after": "split"}
    same = client.update_endpoint("e", _split(90, 10), reason="again")
    assert same.current.revision == 2  # an identical policy changes nothing
    reply = server.http.put(
        "/endpoints/e",
        json={"policy": _split(50, 50), "reason": "half"},
        headers={"X-Shipyard-Actor": "ana"},
    )
    assert reply.status_code == 200
    assert reply.json()["current"]["created_by"] == "ana (by tester)"
    revisions = client.list_revisions("e")
    assert [(r.revision, r.reason, r.created_by) for r in revisions] == [
        (1, "launch", "tester"),
        (2, "canary", "tester"),
        (3, "half", "ana (by tester)"),
    ]
    back = client.rollback_endpoint("e", reason="half is worse")
    assert (back.current.revision, back.latest_revision) == (2, 3)
    first = client.rollback_endpoint("e", to=1)
    assert first.current.policy.kind == "single"
    assert client.get_endpoint("e").current.revision == 1
    assert [e.name for e in client.list_endpoints()] == ["e"]
    history = client.endpoint_history("e")
    assert [e.action for e in history][:2] == ["endpoint.rollback", "endpoint.rollback"]
    assert history[1].after == {"revision": 2, "reason": "half is worse"}
    raw = server.http.post("/endpoints/e/rollback")  # no body: back to what 1 replaced
    assert raw.status_code == 409 and "replaced none" in raw.json()["error"]


def _refused(server: Server, body: Any, status: int, *words: str, raw: bool = False) -> None:
    if raw:
        reply = server.http.put(
            "/endpoints/e", content=body, headers={"content-type": "application/json"}
        )
    else:
        reply = server.http.put("/endpoints/e", json=body)
    assert reply.status_code == status, reply.text
    message = reply.json()["error"]
    for word in words:
        assert word in message, message


def test_refused_changes_name_the_field_and_leave_the_revision_untouched(
    server: Server, versions: None
) -> None:
    server.client.create_endpoint("e", _single(1))
    before = server.client.get_endpoint("e")
    _refused(server, {"policy": _split(90, 20)}, 422, "body.policy", "must sum to 100", "110")
    _refused(server, {"policy": _single(9)}, 404, "has no version 9")
    _refused(
        server, {"policy": _single(0) | {"kind": "single"}}, 422, "body.policy.variants.0.model"
    )
    bad_weight = _split(90, 10)
    bad_weight["variants"][1]["weight"] = "ten"
    _refused(server, {"policy": bad_weight}, 422, "body.policy.variants.1.weight")
    alias = {"kind": "single", "variants": [{"name": "a", "model": "models:/m@champion"}]}
    _refused(server, {"policy": alias}, 422, "body.policy.variants.0.model", "pins versions")
    _refused(server, b'{"policy": {"kind": ', 400, "not valid JSON", raw=True)
    _refused(server, {"reason": "no policy"}, 422, "body.policy", "Field required")
    _refused(server, {"policy": _single(1), "extra": 1}, 422, "body.extra")
    _refused(server, {"policy": _single(2), "reason": "nul\x00"}, 422, "body.reason")
    server.client.set_status("m", 2, "archived")
    _refused(server, {"policy": _single(2)}, 409, "models:/m/2 is archived", "models restore")
    after = server.client.get_endpoint("e")
    assert after == before
    assert [r.revision for r in server.client.list_revisions("e")] == [1]


def test_unknown_endpoints_and_models_and_conflicts(server: Server, versions: None) -> None:
    client = server.client
    with pytest.raises(EndpointNotFoundError, match="no endpoint named 'ghost'") as missing:
        client.get_endpoint("ghost")
    assert missing.value.status_code == 404
    with pytest.raises(EndpointNotFoundError):
        client.update_endpoint("ghost", _single(1))
    with pytest.raises(EndpointNotFoundError):
        client.list_revisions("ghost")
    with pytest.raises(VersionNotFoundError, match="has no version 7"):
        client.create_endpoint("e", _single(7))
    assert client.list_endpoints() == []  # the refused create wrote nothing
    no_model = {"kind": "single", "variants": [{"name": "a", "model": "models:/ghost/1"}]}
    reply = server.http.post("/endpoints", json={"name": "e", "policy": no_model})
    assert reply.status_code == 404 and "ghost" in reply.json()["error"]
    assert reply.headers["x-shipyard-error"] == "ModelNotFoundError"
    client.create_endpoint("e", _single(1))
    with pytest.raises(ConflictError, match="endpoint 'e' exists"):
        client.create_endpoint("e", _single(2))
    with pytest.raises(EndpointNotFoundError, match="has no revision 5"):
        client.rollback_endpoint("e", to=5)
    bad_name = server.http.post("/endpoints", json={"name": "no spaces", "policy": _single(1)})
    assert bad_name.status_code == 400 and "endpoint name" in bad_name.json()["error"]
