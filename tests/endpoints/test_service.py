"""Endpoints and revisions on SQLite and PostgreSQL: every change an immutable revision
with who, when, why and the diff; rollback; refused changes leave nothing half-applied."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from models import Doubler, Tripler
from shipyard.config import Settings
from shipyard.endpoints import Endpoints, TrafficPolicy
from shipyard.errors import (
    ConflictError,
    EndpointNotFoundError,
    InvalidInputError,
    VersionNotFoundError,
)
from shipyard.registry import Registry


@pytest.fixture
def endpoints(settings: Settings, registry: Registry) -> Iterator[Endpoints]:
    data = pd.DataFrame({"x": [1.0, 2.0]})
    for model in (Doubler(), Tripler(), Doubler()):
        registry.register_model(model, "m", training_data=data)
    service = Endpoints.from_settings(settings)
    yield service
    service.db.dispose()


def single(version: int) -> dict[str, object]:
    return {"kind": "single", "variants": [{"name": "main", "model": f"models:/m/{version}"}]}


def canary(old: int, new: int, share: float) -> dict[str, object]:
    return {
        "kind": "split",
        "variants": [
            {"name": "stable", "model": f"models:/m/{old}", "weight": 100 - share},
            {"name": "canary", "model": f"models:/m/{new}", "weight": share},
        ],
    }


def test_changes_are_revisions_with_who_when_why_and_the_diff(endpoints: Endpoints) -> None:
    created = endpoints.create_endpoint("churn", single(1), description="d", reason="launch")
    assert created.current.revision == 1 and created.current.parent is None
    assert created.created_by == "tester" and created.current.reason == "launch"
    updated = endpoints.update_endpoint("churn", canary(1, 2, 10), reason="try v2", actor="ana")
    assert updated.current.revision == 2 and updated.current.parent == 1
    assert updated.current.created_by == "ana"
    diff = updated.current.diff
    assert diff["kind"] == {"before": "single", "after": "split"}
    assert diff["variants.canary"]["after"]["model"] == "models:/m/2"
    assert diff["variants.main"]["before"]["model"] == "models:/m/1"
    same = endpoints.update_endpoint("churn", canary(1, 2, 10), reason="again")
    assert same.current.revision == 2  # nothing changed: no revision
    third = endpoints.update_endpoint("churn", canary(1, 2, 50))
    assert third.current.diff == {
        "variants.canary.weight": {"before": 10.0, "after": 50.0},
        "variants.stable.weight": {"before": 90.0, "after": 50.0},
    }
    revisions = endpoints.list_revisions("churn")
    assert [r.revision for r in revisions] == [1, 2, 3]
    assert revisions[0].policy == TrafficPolicy.parse(single(1))  # revisions do not change
    assert [e.name for e in endpoints.list_endpoints()] == ["churn"]


def test_rollback_makes_an_earlier_revision_current(endpoints: Endpoints) -> None:
    endpoints.create_endpoint("churn", single(1))
    endpoints.update_endpoint("churn", single(2))
    endpoints.update_endpoint("churn", single(3))
    back = endpoints.rollback_endpoint("churn", reason="v3 misbehaves")
    assert back.current.revision == 2 and back.latest_revision == 3
    assert endpoints.rollback_endpoint("churn", to=1).current.revision == 1
    after = endpoints.update_endpoint("churn", single(3))
    assert after.current.revision == 4 and after.current.parent == 1
    with pytest.raises(ConflictError, match="already at revision 4"):
        endpoints.rollback_endpoint("churn", to=4)
    with pytest.raises(EndpointNotFoundError, match="no revision 9; it has 1 to 4"):
        endpoints.rollback_endpoint("churn", to=9)
    with pytest.raises(ConflictError, match="replaced none"):
        endpoints.create_endpoint("other", single(1))
        endpoints.rollback_endpoint("other")


def test_refused_changes_leave_the_current_revision_untouched(
    endpoints: Endpoints, registry: Registry
) -> None:
    endpoints.create_endpoint("churn", single(1))
    lopsided = {
        "kind": "split",
        "variants": [
            {"name": "stable", "model": "models:/m/1", "weight": 90},
            {"name": "canary", "model": "models:/m/2", "weight": 20},
        ],
    }
    with pytest.raises(InvalidInputError, match="weights must sum to 100; they sum to 110"):
        endpoints.update_endpoint("churn", lopsided)
    with pytest.raises(VersionNotFoundError, match="has no version 7"):
        endpoints.update_endpoint("churn", canary(1, 7, 10))
    with pytest.raises(VersionNotFoundError, match="has no version 9"):
        endpoints.update_endpoint("churn", {**single(1), "fallback": "models:/m/9"})
    registry.set_status("m", 3, "archived")
    with pytest.raises(ConflictError, match="models:/m/3 is archived"):
        endpoints.update_endpoint("churn", single(3))
    with pytest.raises(ConflictError, match="exists"):
        endpoints.create_endpoint("churn", single(2))
    with pytest.raises(InvalidInputError, match="endpoint name"):
        endpoints.create_endpoint("../x", single(1))
    with pytest.raises(EndpointNotFoundError, match="no endpoint named 'nope'"):
        endpoints.get_endpoint("nope")
    current = endpoints.get_endpoint("churn")
    assert current.current.revision == 1 and current.latest_revision == 1
    assert len(endpoints.list_revisions("churn")) == 1


def test_every_change_is_an_event(endpoints: Endpoints, registry: Registry) -> None:
    endpoints.create_endpoint("churn", single(1))
    endpoints.update_endpoint("churn", single(2))
    endpoints.rollback_endpoint("churn", reason="bad")
    events = registry.events(target_kind="endpoint")[::-1]  # oldest first
    assert [e.action for e in events] == [
        "endpoint.create",
        "endpoint.update",
        "endpoint.rollback",
    ]
    assert events[-1].before == {"revision": 2}
    assert events[-1].after == {"revision": 1, "reason": "bad"}
