"""``/api/v1/monitors`` over a real server, on SQLite and PostgreSQL, with real
predictions logged for a real model: a monitor created, run, read and reported through
:class:`shipyard.Client` and raw HTTP; bad settings refused naming the field; unknown
monitors answered 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.conftest import Server
from monitored import Scene
from shipyard.errors import (
    ConflictError,
    EndpointNotFoundError,
    InvalidInputError,
    ModelNotFoundError,
    MonitorNotFoundError,
)
from shipyard.monitoring import Monitor, MonitorRun
from shipyard.registry import Registry
from shipyard.reports.data import ReportData


@pytest.fixture
def server(control_plane: Server) -> Server:
    """These routes serve no predictions: the control plane alone."""
    return control_plane


@pytest.fixture
def scene(server: Server, registry: Registry) -> Scene:
    """Model ``churn`` behind endpoints ``calm`` and ``shifted``; 300 shifted requests
    logged through ``shifted``."""
    scene = Scene(server.settings, registry)
    scene.answer("shifted", scene.inputs(300, 7, shifted=True))
    return scene


def test_a_monitor_created_run_read_and_reported_through_the_client(
    server: Server, scene: Scene
) -> None:
    client = server.client
    created = client.create_monitor(
        "drift",
        endpoint="shifted",
        checks=["operations", "data_drift"],
        window="2h",
        every="5m",
        thresholds={"error_rate": 0.01},
    )
    assert isinstance(created, Monitor)
    assert (created.target_kind, created.target, created.checks) == (
        "endpoint",
        "shifted",
        ["data_drift", "operations"],
    )
    assert (created.window, created.schedule_s) == ({"kind": "time", "seconds": 7200.0}, 300.0)
    assert created.options["thresholds"] == {"error_rate": 0.01}
    assert (created.created_by, created.last_run_at) == ("tester", None)
    assert client.list_monitors() == [created]
    assert client.get_monitor("drift") == created
    with pytest.raises(ConflictError, match="monitor 'drift' exists"):
        client.create_monitor("drift", endpoint="shifted")

    ran = client.run_monitor("drift")
    assert isinstance(ran, MonitorRun)
    assert (ran.monitor, ran.rows, ran.status) == ("drift", 300, "breach")
    assert ran.reference["kind"] == "training" and ran.reference["version"] == "models:/churn/1"
    drifted = {r.column for r in ran.results if r.metric == "drift" and r.status == "breach"}
    assert "income" in drifted
    shown = server.http.get("/monitors/drift").json()
    assert shown["last_run_at"] is not None
    assert sorted(r["metric"] for r in shown["latest"]) == sorted(r.metric for r in ran.results)

    counts = client.monitor_results("drift", metric="request_count")
    assert [(r.value, r.status, r.check, r.run_id) for r in counts] == [
        (300.0, "ok", "operations", ran.run_id)
    ]
    assert {r.check for r in client.monitor_results("drift", check="data_drift")} == {"data_drift"}
    assert len(client.monitor_results("drift", limit=2)) == 2
    later = datetime.now(UTC) + timedelta(hours=1)
    assert client.monitor_results("drift", since=later) == []
    assert len(client.monitor_results("drift", since=ran.at)) == len(ran.results)

    report = client.monitor_report("drift")
    assert isinstance(report, ReportData)
    assert (report.target, report.current_rows) == ("endpoint shifted", 300)
    assert report.drift is not None
    assert "income" in {c.column for c in report.drift.columns if c.drift_detected}
    assert "income" in {h.column for h in report.histograms}
    assert any(t.metric == "request_count" and t.value == 300 for t in report.trends)
    page = server.http.get("/monitors/drift/report.html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "income" in page.text and "drifted_share" in page.text
    assert 'src="http' not in page.text and "<script src=" not in page.text
    assert "income" in client.monitor_report_html("drift")

    changed = client.update_monitor(
        "drift", rows=100, thresholds={"error_rate": None, "p99_latency_ms": 50}, enabled=False
    )
    assert changed.window == {"kind": "rows", "rows": 100}
    assert changed.options["thresholds"] == {"p99_latency_ms": 50.0}
    assert changed.enabled is False and changed.checks == created.checks
    assert client.run_monitor("drift").rows == 100

    gone = client.delete_monitor("drift")
    assert gone.name == "drift" and client.list_monitors() == []
    with pytest.raises(MonitorNotFoundError, match="no monitor named 'drift'"):
        client.monitor_results("drift")


def test_a_model_monitor_with_a_fixed_reference_over_raw_http(server: Server, scene: Scene) -> None:
    scene.answer("calm", scene.inputs(200, 3))
    start = datetime.now(UTC) - timedelta(days=1)
    body = {
        "name": "churn-all",
        "model": "churn",
        "rows": 250,
        "reference": {"start": start.isoformat(), "end": datetime.now(UTC).isoformat()},
        "every": 60,
        "drift": {"mode": "fixed"},
        "enabled": False,
    }
    created = server.http.post("/monitors", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["target"] == "churn" and created.json()["reference"]["kind"] == "fixed"
    ran = server.http.post("/monitors/churn-all/run")
    assert ran.status_code == 200, ran.text
    assert ran.json()["rows"] == 250
    assert ran.json()["status"] == MonitorRun.model_validate(ran.json()).status != "error"
    assert server.http.delete("/monitors/churn-all").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "m", "endpoint": "shifted", "checks": ["latency"]}, "checks: unknown check"),
        ({"name": "m", "endpoint": "shifted", "thresholds": {"speed": 1}}, "unknown key 'speed'"),
        ({"name": "m", "endpoint": "shifted", "thresholds": {"drift_share": 2}}, "drift_share"),
        ({"name": "m", "endpoint": "shifted", "window": "soon"}, "window"),
        ({"name": "m", "endpoint": "shifted", "window": "1h", "rows": 10}, "rows="),
        ({"name": "m", "endpoint": "shifted", "rows": 0}, "rows must be a positive"),
        ({"name": "m", "endpoint": "shifted", "reference": "yesterday"}, "reference 'yesterday'"),
        ({"name": "m", "endpoint": "shifted", "every": "-1m"}, "every"),
        ({"name": "m", "endpoint": "shifted", "every": 1e308}, "every 1e+308 is longer than"),
        ({"name": "m", "endpoint": "shifted", "window": "90000000h"}, "window '90000000h' is"),
        ({"name": "m", "endpoint": "shifted", "drift": {"speed": 1}}, "drift options"),
        ({"name": "m"}, "target: give the endpoint"),
        ({"name": "m", "endpoint": "calm", "model": "churn"}, "target: give the endpoint"),
        ({"name": "bad name!", "endpoint": "calm"}, "monitor name"),
        ({"name": "m", "endpoint": "calm", "colour": "red"}, "body.colour"),
        ({"name": "m", "endpoint": "calm", "enabled": "maybe"}, "body.enabled"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(
    server: Server, scene: Scene, body: dict[str, object], field: str
) -> None:
    answer = server.http.post("/monitors", json=body)
    assert 400 <= answer.status_code < 500, answer.text
    assert field in answer.json()["error"]
    assert server.client.list_monitors() == []


def test_bad_changes_and_queries_are_refused_and_leave_the_monitor(
    server: Server, scene: Scene
) -> None:
    client = server.client
    created = client.create_monitor("m", endpoint="shifted")
    with pytest.raises(InvalidInputError, match="thresholds: error_rate must be a number"):
        client.update_monitor("m", thresholds={"error_rate": "high"})  # type: ignore[dict-item]
    with pytest.raises(InvalidInputError, match="checks: unknown check"):
        client.update_monitor("m", checks=["speed"])
    assert client.get_monitor("m") == created
    for params, field in [
        ({"since": "yesterday"}, "since 'yesterday' is not a time"),
        ({"since": "2026-11-27T00:00"}, "has no time zone"),
        ({"limit": 0}, "limit"),
        ({"check": "speed"}, "check"),
    ]:
        answer = server.http.get("/monitors/m/results", params=params)
        assert 400 <= answer.status_code < 500 and field in answer.json()["error"], params


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/monitors/ghost"),
        ("PATCH", "/monitors/ghost"),
        ("DELETE", "/monitors/ghost"),
        ("POST", "/monitors/ghost/run"),
        ("GET", "/monitors/ghost/results"),
        ("GET", "/monitors/ghost/report"),
        ("GET", "/monitors/ghost/report.html"),
    ],
)
def test_an_unknown_monitor_is_404(server: Server, method: str, path: str) -> None:
    answer = server.http.request(method, path, json={} if method == "PATCH" else None)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"].startswith("no monitor named 'ghost'")
    assert answer.headers["x-shipyard-error"] == "MonitorNotFoundError"


def test_a_name_holding_nul_is_refused_naming_it(server: Server) -> None:
    answer = server.http.get("/monitors/a%00b")
    assert answer.status_code == 422 and answer.json()["error"].startswith("path.name:")


def test_a_monitor_of_an_unknown_endpoint_or_model_is_404(server: Server) -> None:
    with pytest.raises(EndpointNotFoundError, match="ghost") as endpoint:
        server.client.create_monitor("m", endpoint="ghost")
    with pytest.raises(ModelNotFoundError, match="ghost") as model:
        server.client.create_monitor("m", model="ghost")
    assert endpoint.value.status_code == model.value.status_code == 404
    assert server.client.list_monitors() == []


def test_the_monitor_routes_are_documented(server: Server) -> None:
    paths = server.http.get(f"{server.url}/api/v1/openapi.json").json()["paths"]
    assert set(paths["/api/v1/monitors"]) == {"get", "post"}
    assert set(paths["/api/v1/monitors/{name}"]) == {"get", "patch", "delete"}
    for path in ("run", "results", "report", "report.html"):
        assert f"/api/v1/monitors/{{name}}/{path}" in paths
    html = paths["/api/v1/monitors/{name}/report.html"]["get"]["responses"]["200"]
    assert "text/html" in html["content"]
    assert "404" in paths["/api/v1/monitors/{name}/run"]["post"]["responses"]
