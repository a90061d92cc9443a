"""``shipyard rollout``: start, show, list, run, pause, resume and abort, with requests
logged for real models between ticks; errors in one line that change nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipyard.config import Settings
from shipyard.endpoints import Endpoints
from shipyard.registry import Registry
from traffic import Traffic, register_churn

GUARDS = ["--guard", "error_rate<0.05", "--guard", "agreement>0.8", "--min-rows", "30"]


@pytest.fixture
def traffic(shipyard_home: Path) -> Iterator[Traffic]:
    settings = Settings(home=shipyard_home, reference_sample_rows=100)
    registry = Registry.from_settings(settings)
    register_churn(registry)
    registry.set_alias("churn", "challenger", 2)
    endpoints = Endpoints.from_settings(settings)
    endpoints.create_endpoint(
        "churn", {"kind": "single", "variants": [{"name": "main", "model": "models:/churn/1"}]}
    )
    yield Traffic(endpoints, registry, settings.predictions)
    endpoints.db.dispose()
    registry.db.dispose()


def test_a_rollout_from_the_command_line(run, traffic: Traffic) -> None:  # type: ignore[no-untyped-def]
    started = run(
        "rollout",
        "start",
        "churn",
        "--to",
        "models:/churn@challenger",
        "--steps",
        "50,100",
        "--interval",
        "200ms",
        *GUARDS,
    )
    assert started.code == 0, started.err
    assert started.out.startswith(
        "churn: rollout 1 running, step 1/2 (50%): models:/churn/1 -> models:/churn/2, "
        "endpoint at revision 2 (started from 1)"
    )
    assert "guards error_rate<0.05, agreement>0.8" in started.out
    shown = json.loads(run("rollout", "show", "churn", "--json").out)
    assert (shown["state"], shown["step"], shown["steps"]) == ("running", 0, [50.0, 100.0])

    traffic.send("churn", 60)
    time.sleep(0.2)
    ticked = run("rollout", "run", "--once")
    assert ticked.code == 0, ticked.err
    assert "churn: rollout 1 succeeded, step 2/2 (100%)" in ticked.out
    assert "agreement>0.8: pass (agreement=" in ticked.out
    listed = run("rollout", "list")
    assert listed.out.startswith("churn: rollout 1 succeeded")
    assert run("rollout", "list", "--active", "--json").out.strip() == "[]"
    endpoint = json.loads(run("endpoints", "show", "churn", "--json").out)
    assert endpoint["current"]["policy"]["variants"][0]["model"] == "models:/churn/2"


def test_a_failing_version_is_rolled_back_by_the_controller(run, traffic: Traffic) -> None:  # type: ignore[no-untyped-def]
    started = run(
        "rollout",
        "start",
        "churn",
        "--to",
        "models:/churn/3",
        "--steps",
        "50,100",
        "--interval",
        "1h",
        *GUARDS,
    )
    assert started.code == 0, started.err
    traffic.send("churn", 60)
    ticked = run("rollout", "run", "--once")
    assert "churn: rollout 1 rolled back, step 1/2 (50%)" in ticked.out
    assert "guard breached at step 1/2 (50%): error_rate<0.05: breach" in ticked.out
    shown = json.loads(run("rollout", "show", "churn", "--json").out)
    assert shown["state"] == "rolled_back" and shown["revision"] == 1
    revisions = json.loads(run("endpoints", "show", "churn", "--json").out)
    assert revisions["current"]["revision"] == 1


def test_pause_resume_abort_and_errors_in_one_line(run, traffic: Traffic) -> None:  # type: ignore[no-untyped-def]
    start = ["rollout", "start", "churn", "--steps", "10,100", "--interval", "5m", *GUARDS]
    for args, message in [
        (["--to", "models:/churn/1"], "models:/churn/1 already serves endpoint 'churn'"),
        (["--to", "models:/churn/9"], "has no version 9"),
        (["--to", "models:/churn@nope"], "has no alias 'nope'"),
        (["--to", "models:/churn/2", "--guard", "errors<1"], "unknown metric 'errors'"),
        (["--to", "models:/churn/2", "--steps", "5,50"], "steps must end at 100"),
        (["--to", "models:/churn/2", "--interval", "soon"], "is not a duration"),
    ]:
        result = run(*start, *args)
        assert result.code != 0 and message in result.err, (args, result.err)
        assert len(result.err.strip().splitlines()) == 1
    assert run("rollout", "list", "--json").out.strip() == "[]"
    no_guard = run("rollout", "start", "churn", "--to", "models:/churn/2")
    assert no_guard.code != 0 and "give at least one guard" in no_guard.err
    missing = run("rollout", "show", "churn")
    assert missing.code != 0 and "has had no rollout; start one with" in missing.err

    assert run(*start, "--to", "models:/churn/2").code == 0
    twice = run(*start, "--to", "models:/churn/3")
    assert twice.code != 0 and "already has rollout 1 (running" in twice.err
    paused = run("rollout", "pause", "churn", "--reason", "freeze")
    assert paused.code == 0 and "rollout 1 paused" in paused.out and "freeze" in paused.out
    assert "already" in run("rollout", "pause", "churn").err
    assert "rollout 1 running" in run("rollout", "resume", "churn").out
    aborted = run("rollout", "abort", "churn", "--reason", "not today")
    assert aborted.code == 0 and "rollout 1 aborted" in aborted.out
    assert "endpoint back at revision 1" in aborted.out
    gone = run("rollout", "abort", "churn")
    assert gone.code != 0 and "has no running or paused rollout" in gone.err
    unknown = run("rollout", "pause", "nope")
    assert unknown.code != 0 and "no endpoint named 'nope'" in unknown.err
