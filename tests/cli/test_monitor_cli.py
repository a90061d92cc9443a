"""``shipyard monitor``: create, list, show, update, run, results and delete, on SQLite and
PostgreSQL, with real predictions logged for a real model; errors in one line."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from monitored import Scene
from shipyard.config import Settings
from shipyard.registry import Registry


@pytest.fixture
def scene(
    settings: Settings, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SHIPYARD_REFERENCE_SAMPLE_ROWS", "500")
    yield Scene(settings, registry)


def test_monitor_from_the_command_line(run, scene: Scene) -> None:  # type: ignore[no-untyped-def]
    scene.answer("shifted", scene.inputs(300, 7, shifted=True))
    created = run(
        "monitor",
        "create",
        "drift",
        "--endpoint",
        "shifted",
        "--check",
        "data_drift",
        "--check",
        "operations",
        "--window",
        "2h",
        "--every",
        "5m",
        "--threshold",
        "error_rate=0.01",
    )
    assert created.code == 0, created.err
    assert created.out.startswith(
        "drift: endpoint shifted, data_drift, operations; window 2h against training, every 5m"
    )
    assert "thresholds error_rate=0.01" in created.out
    listed = run("monitor", "list", "--json")
    assert [m["name"] for m in json.loads(listed.out)] == ["drift"]

    ran = run("monitor", "run", "drift")
    assert ran.code == 0, ran.err
    assert "drift: breach, 300 rows" in ran.out and "models:/churn/1" in ran.out
    assert "drifted_share" in ran.out and "income" in ran.out and "breach" in ran.out

    series = json.loads(
        run("monitor", "results", "drift", "--metric", "request_count", "--json").out
    )
    assert [(r["value"], r["status"], r["check"]) for r in series] == [(300.0, "ok", "operations")]
    table = run("monitor", "results", "drift", "--metric", "drifted_share")
    assert "drifted_share" in table.out and "request_count" not in table.out

    page = scene.settings.home / "drift.html"
    written = run("monitor", "report", "drift", "--html", str(page))
    assert written.code == 0, written.err
    text = page.read_text()
    assert "income" in text and "drifted_share" in text and 'src="http' not in text
    assert page.stat().st_size < 5_000_000
    data = json.loads(run("monitor", "report", "drift", "--json").out)
    assert data["current_rows"] == 300 and data["target"] == "endpoint shifted"
    drifted = {c["column"] for c in data["drift"]["columns"] if c["drift_detected"]}
    assert "income" in drifted
    assert {h["column"] for h in data["histograms"]} >= {"income"}
    assert any(t["metric"] == "request_count" and t["value"] == 300 for t in data["trends"])
    nowhere = run("monitor", "report", "drift")
    assert nowhere.code == 1 and "--html out.html, or --json" in nowhere.err

    shown = run("monitor", "show", "drift")
    assert "last run 20" in shown.out and "latest run" in shown.out
    changed = run("monitor", "update", "drift", "--every", "1h", "--disable", "--json")
    assert (json.loads(changed.out)["schedule_s"], json.loads(changed.out)["enabled"]) == (
        3600.0,
        False,
    )
    options = json.loads(
        run(
            "monitor",
            "update",
            "drift",
            "--drift-mode",
            "calibrated",
            "--threshold",
            "error_rate=default",
            "--segment-by",
            "age",
            "--segment-bins",
            "18,65,90",
            "--json",
        ).out
    )["options"]
    assert options == {
        "thresholds": {},
        "drift": {"mode": "calibrated"},
        "performance": {"segment_by": "age", "bins": [18.0, 65.0, 90.0]},
        "concept": {},
    }
    bad = run("monitor", "update", "drift", "--drift-mode", "strict")
    assert bad.code == 1 and "mode must be 'fixed' or 'calibrated'" in bad.err
    gone = run("monitor", "delete", "drift")
    assert gone.code == 0 and "deleted monitor drift" in gone.out
    assert "no monitors yet" in run("monitor", "list").out


def test_monitor_errors_say_what_to_do(run, scene: Scene) -> None:  # type: ignore[no-untyped-def]
    cases = [
        (["create", "m", "--endpoint", "nowhere"], "shipyard endpoints list"),
        (["create", "m", "--endpoint", "calm", "--window", "soon"], "window 'soon'"),
        (["create", "m", "--endpoint", "calm", "--check", "speed"], "choose from data_drift"),
        (["create", "m", "--endpoint", "calm", "--threshold", "error_rate"], "KEY=NUMBER"),
        (["create", "m", "--endpoint", "calm", "--reference", "lastweek"], "START..END"),
        (["create", "m"], "--endpoint NAME"),
        (["run", "m"], "shipyard monitor list"),
        (["results", "m", "--since", "yesterday"], "ISO 8601"),
    ]
    for args, hint in cases:
        result = run("monitor", *args)
        assert result.code != 0, args
        assert hint in result.err, (args, result.err)
        assert len(result.err.strip().splitlines()) == 1, result.err
    assert "no monitors yet" in run("monitor", "list").out
    run("monitor", "create", "m", "--model", "churn", "--rows", "100")
    assert (
        "no results yet; run it with: shipyard monitor run m" in run("monitor", "results", "m").out
    )
    ran = run("monitor", "run", "m")
    assert "why" in ran.out and "no feedback labels" in ran.out  # no_data says why
    other = run("monitor", "results", "m", "--metric", "nosuch")
    assert other.code == 1 and "--metric 'nosuch' is not one a monitor stores" in other.err
    none = run("monitor", "results", "m", "--metric", "accuracy", "--since", "24h")
    assert "no results of m match; see its metrics with: shipyard monitor results m" in none.out
