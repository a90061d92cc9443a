"""Differentially private releases over a real server, on SQLite and PostgreSQL, through
:class:`shipyard.Client`, raw HTTP and the command line on the same store: the three
spend from one ledger, answer the same release layout, and refuse an overspend with the
same message (409 over HTTP, one error line and exit 1 on the command line)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from api.conftest import Server
from models import Echo, members
from monitored import Scene
from shipyard.cli.main import main
from shipyard.errors import InvalidInputError, MonitorNotFoundError, PrivacyBudgetError
from shipyard.privacy import Budget, PrivateRelease
from shipyard.registry import Registry

GRID = {"x": {"low": 0, "high": 100, "bins": 4}, "plan": {"categories": ["basic", "pro"]}}


@pytest.fixture
def server(control_plane: Server, registry: Registry) -> Server:
    """The control plane, with version 1 of ``members`` (alias ``champion``)."""
    registry.register_model(Echo(), "members", training_data=members())
    registry.set_alias("members", "champion", 1)
    return control_plane


@pytest.fixture
def cli(server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """``shipyard …`` in process, on the server's store; returns (exit code, out, err)."""
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", server.settings.database)
    monkeypatch.setenv("SHIPYARD_ACTOR", "cli-user")

    def run(*args: str) -> tuple[int, str, str]:
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def test_sdk_http_and_cli_spend_one_budget(server: Server, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = server.client
    release = client.release_profile("members", "champion", 0.4, GRID)
    assert isinstance(release, PrivateRelease)
    assert (release.subject, release.aggregates) == ("models:/members/1", 4)
    assert list(release.columns) == ["x", "plan", "member"]
    assert "secret-plan" not in release.model_dump_json()

    out = tmp_path / "release.json"
    code, printed, _ = cli(
        "models", "release-profile", "members", "1", "--epsilon", "0.3",
        "--bins", "x=0:100:4", "--categories", "plan=basic,pro", "-o", str(out),
    )  # fmt: skip
    assert code == 0 and "released models:/members/1 with epsilon 0.3" in printed
    written = PrivateRelease.model_validate(json.loads(out.read_text()))
    assert written.released_by == "cli-user"
    assert set(written.to_dict()) == set(release.to_dict())
    assert written.columns["x"].edges == release.columns["x"].edges

    budget = client.privacy_budget("models:/members@champion")
    assert isinstance(budget, Budget)
    assert budget.spent == pytest.approx(0.7)
    assert [r.released_by for r in budget.releases] == ["cli-user", "tester"]
    code, printed, _ = cli("privacy", "budget", "models:/members/1", "--json")
    assert code == 0 and Budget.model_validate_json(printed) == budget

    # 0.3 left: both ways refuse 0.5 with one message, and record nothing
    with pytest.raises(PrivacyBudgetError) as refused:
        client.release_profile("members", 1, 0.5, GRID)
    assert refused.value.status_code == 409
    assert "0.7 of 1 spent, 0.3 left" in refused.value.message
    raw = server.http.post(
        "/models/members/versions/1/profile/release", json={"epsilon": 0.5, "columns": GRID}
    )
    assert (raw.status_code, raw.headers["x-shipyard-error"]) == (409, "PrivacyBudgetError")
    code, _, err = cli("models", "release-profile", "members", "1", "--epsilon", "0.5")
    assert code == 1 and err == f"error: {refused.value.message}\n"
    assert client.privacy_budget("models:/members/1").spent == pytest.approx(0.7)

    raised = client.set_privacy_budget("models:/members/1", 2)
    assert (raised.budget, raised.default, raised.remaining) == (2, False, pytest.approx(1.3))
    code, printed, _ = cli("privacy", "set-budget", "models:/members/1", "3")
    assert code == 0 and "budget 3 (set), spent 0.7, 2.3 left" in printed
    assert client.release_profile("members", 1, 0.5).columns.keys() == {"member"}


def test_bad_requests_are_refused_naming_the_field(server: Server, cli) -> None:  # type: ignore[no-untyped-def]
    http = server.http
    path = "/models/members/versions/1/profile/release"
    for body, field in [
        ({"epsilon": 0}, "body.epsilon"),
        ({"epsilon": "lots"}, "body.epsilon"),
        ({"epsilon": 1, "columns": {"x": {"edges": [3, 1]}}}, "increase strictly"),
        ({"epsilon": 1, "columns": {"x": {"low": 0}}}, "low, high and bins together"),
        ({"epsilon": 1, "extra": 1}, "body.extra"),
    ]:
        answer = http.post(path, json=body)
        assert answer.status_code == 422 and field in answer.json()["error"], body
    answer = http.post(path, json={"epsilon": 1, "columns": {"age": {"edges": [0, 1]}}})
    assert answer.status_code == 400 and "'age' are not inputs" in answer.json()["error"]
    assert (
        http.post("/models/nope/versions/1/profile/release", json={"epsilon": 1}).status_code == 404
    )
    assert server.client.privacy_budget("models:/members/1").spent == 0
    code, _, err = cli(
        "models", "release-profile", "members", "1", "--epsilon", "1", "--bins", "x=0:1"
    )
    assert code == 1 and "is not COLUMN=LOW:HIGH:N" in err
    with pytest.raises(InvalidInputError, match="names no privacy budget"):
        server.client.privacy_budget("members")


def test_a_monitor_window_is_released_from_its_endpoint_budget(
    server: Server, registry: Registry, cli
) -> None:  # type: ignore[no-untyped-def]
    scene = Scene(server.settings, registry)
    scene.answer("calm", scene.inputs(200, 3))
    client = server.client
    client.create_monitor("watch", endpoint="calm", window="1h")
    grid = {"score": {"edges": [0, 0.5, 1]}}
    release = client.release_monitor_window("watch", 0.5, grid)
    assert release.subject == "endpoint:calm"
    assert release.window is not None and release.window["kind"] == "time"
    assert set(release.omitted) == {"age", "income"}
    assert abs(release.rows - 200) < 10 * release.scale
    code, printed, _ = cli(
        "monitor", "release", "watch", "--epsilon", "0.5", "--edges", "score=0,0.5,1"
    )
    assert code == 0
    assert PrivateRelease.model_validate_json(printed).subject == "endpoint:calm"
    with pytest.raises(PrivacyBudgetError, match="endpoint:calm: 1 of 1 spent"):
        client.release_monitor_window("watch", 0.1, grid)
    budget = client.privacy_budget("monitor:watch")
    assert (budget.subject, len(budget.releases)) == ("endpoint:calm", 2)
    assert client.set_privacy_budget("monitor:watch", 1.5).remaining == pytest.approx(0.5)
    with pytest.raises(MonitorNotFoundError):
        client.release_monitor_window("nope", 0.1)
    code, printed, _ = cli("privacy", "budget", "monitor:watch")
    assert code == 0 and "endpoint:calm: budget 1.5 (set), spent 1, 0.5 left" in printed
