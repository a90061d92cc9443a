"""Private releases of a version's reference sample and of a monitor's window, on
SQLite and PostgreSQL: only public grids are released, labels outside a declared domain
never show, the budget of the version or of the monitored endpoint pays for each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models import Echo, members
from monitored import Scene
from shipyard.config import Settings
from shipyard.errors import InvalidInputError, MonitorNotFoundError, PrivacyBudgetError
from shipyard.monitoring import MonitorService
from shipyard.privacy import PrivacyService
from shipyard.registry import Registry

GRID: dict[str, Any] = {
    "x": {"low": 0, "high": 100, "bins": 4},
    "plan": {"categories": ["basic", "pro", "enterprise"]},
}


@pytest.fixture
def privacy(settings: Settings, registry: Registry) -> PrivacyService:
    return PrivacyService(
        registry, MonitorService(registry, settings.predictions, settings.feedback)
    )


@pytest.fixture
def version(registry: Registry) -> int:
    found = registry.register_model(Echo(), "members", training_data=members())
    registry.set_alias("members", "champion", found.version)
    return found.version


def test_a_reference_release_counts_the_sample_on_public_grids(
    privacy: PrivacyService, version: int
) -> None:
    release = privacy.release_profile("members", "champion", 0.9, GRID, actor="ann")
    assert release.subject == f"models:/members/{version}"
    assert release.aggregates == 4  # rows, x, plan and the boolean member
    assert release.scale == pytest.approx(4 / 0.9)
    assert release.columns["x"].edges == [0, 25, 50, 75, 100]
    assert release.columns["member"].categories == ["False", "True"]
    assert release.columns["plan"].categories == ["basic", "pro", "enterprise"]
    assert "secret-plan" not in release.model_dump_json()
    assert release.omitted == {}
    assert release.released_by == "ann" and release.release_id
    # the noise is small next to 200 rows at this scale (99.99% within 10 b)
    assert abs(release.rows - 200) < 10 * release.scale
    budget = privacy.budget("models:/members@champion")
    assert budget.spent == pytest.approx(0.9)
    [entry] = budget.releases
    assert entry.release_id == release.release_id
    assert entry.what == {"kind": "reference_profile", "columns": ["x", "plan", "member"]}


def test_columns_without_a_public_grid_are_left_out_saying_why(
    privacy: PrivacyService, version: int
) -> None:
    release = privacy.release_profile("members", version, 0.5)
    assert list(release.columns) == ["member"]
    assert "public bin edges" in release.omitted["x"]
    assert "declare its public categories" in release.omitted["plan"]
    with pytest.raises(InvalidInputError, match="'age' are not inputs"):
        privacy.release_profile("members", version, 0.5, {"age": {"edges": [0, 1]}})
    with pytest.raises(InvalidInputError, match="columns: 'x': .*increase strictly"):
        privacy.release_profile("members", version, 0.5, {"x": {"edges": [2, 1]}})
    assert privacy.budget(f"models:/members/{version}").spent == pytest.approx(0.5)


def test_the_version_budget_is_enforced_and_can_be_raised(
    privacy: PrivacyService, version: int
) -> None:
    privacy.release_profile("members", version, 0.7, GRID)
    with pytest.raises(PrivacyBudgetError, match="0.7 of 1 spent, 0.3 left") as refused:
        privacy.release_profile("members", version, 0.5, GRID)
    assert f"set-budget models:/members/{version} EPSILON" in str(refused.value)
    assert len(privacy.budget(f"models:/members/{version}").releases) == 1
    privacy.set_budget("models:/members@champion", 2.0, actor="admin")
    privacy.release_profile("members", version, 0.5, GRID)
    assert privacy.budget(f"models:/members/{version}").remaining == pytest.approx(0.8)


def test_monitors_of_one_endpoint_share_its_budget(
    settings: Settings, registry: Registry, privacy: PrivacyService
) -> None:
    scene = Scene(settings, registry)
    scene.answer("calm", scene.inputs(300, 1))
    monitors = privacy.monitors
    monitors.create("first", endpoint="calm", window="1h")
    monitors.create("second", endpoint="calm", rows=100)
    now = datetime.now(UTC) + timedelta(seconds=1)
    grid = {"income": {"edges": [0, 25_000, 50_000, 75_000, 100_000]}}
    first = privacy.release_window("first", 0.6, grid, actor="ann", now=now)
    assert first.subject == "endpoint:calm"
    assert first.window is not None and first.window["kind"] == "time"
    assert list(first.columns) == ["income"]
    assert set(first.omitted) == {"age", "score"}
    assert abs(first.rows - 300) < 10 * first.scale
    column = first.columns["income"]
    assert abs(sum(column.counts) + (column.below or 0) + (column.above or 0) - 300) < 60
    second = privacy.release_window("second", 0.4, grid, now=now)
    assert second.window == {"kind": "rows", "rows": 100, "end": now.isoformat()}
    with pytest.raises(PrivacyBudgetError, match="endpoint:calm: 1 of 1 spent"):
        privacy.release_window("first", 0.1, grid, now=now)
    budget = privacy.budget("monitor:second")
    assert budget.subject == "endpoint:calm" and len(budget.releases) == 2
    assert {r.what["monitor"] for r in budget.releases} == {"first", "second"}
    with pytest.raises(MonitorNotFoundError):
        privacy.budget("monitor:nope")
    with pytest.raises(InvalidInputError, match="names no privacy budget"):
        privacy.budget("calm")
