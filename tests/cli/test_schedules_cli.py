"""``shipyard schedules`` from the command line: create, list, show, update, pause,
resume, run and delete, and one-line errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from batch.scene import classifier, inputs, write
from shipyard.config import Settings
from shipyard.registry import Registry


def test_schedules_from_the_command_line(  # type: ignore[no-untyped-def]
    run, registry: Registry, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", settings.database_url)
    classifier(registry)
    registry.set_alias("clf", "champion", 1)
    write(inputs(4_000), tmp_path / "in" / "2026-11-27.parquet")
    assert "no batch schedules yet" in run("schedules", "list").out
    created = run(
        "schedules", "create", "nightly", "models:/clf@champion", "--cron", "0 2 * * *",
        "--input", str(tmp_path / "in" / "{date}.parquet"),
        "--output", str(tmp_path / "out" / "{date}"), "--id-column", "id",
        "--log-fraction", "0", "--timezone", "Europe/Paris",
    )  # fmt: skip
    assert created.code == 0, created.err
    assert created.out.startswith("created schedule nightly: next run ")
    listed = run("schedules", "list")
    assert "nightly" in listed.out and "0 2 * * * Europe/Paris" in listed.out
    assert "never" in listed.out

    done = run("schedules", "run", "nightly", "--at", "2026-11-27T02:00+01:00")
    assert done.code == 0, done.err
    assert done.out.startswith(
        "job nightly-20261127T0100Z (models:/clf/1): 4,000 rows in, 3,998 scored, 2 rejected"
    )
    assert len(pd.read_parquet(tmp_path / "out" / "2026-11-27")) == 3_998
    jobs = run("jobs", "show", "nightly-20261127T0100Z", "--json")
    assert json.loads(jobs.out)["created_by"] == "schedule:nightly"
    listed = run("schedules", "list")
    assert "nightly-20261127T0100Z" in listed.out and "succeeded" in listed.out
    again = json.loads(
        run("schedules", "run", "nightly", "--at", "2026-11-27T01:00Z", "--json").out
    )
    assert again["id"] == "nightly-20261127T0100Z" and again["result"]["chunks_skipped"] == 1

    assert "is paused" in run("schedules", "pause", "nightly").out
    assert "(paused)" in run("schedules", "show", "nightly").out
    assert "resumed: next run" in run("schedules", "resume", "nightly").out
    changed = run("schedules", "update", "nightly", "--cron", "30 3 * * 1-5", "--id-column", "")
    assert changed.code == 0, changed.err
    shown = json.loads(run("schedules", "show", "nightly", "--json").out)
    assert shown["cron"] == "30 3 * * 1-5" and shown["options"]["id_column"] is None
    assert shown["last_job_state"] == "succeeded" and not shown["paused"]

    for args, hint in [
        (("update", "nightly", "--cron", "61 * * * *"), "minute must be 0-59"),
        (("update", "nightly", "--cron", "0 2 * *"), "give five fields: minute hour day"),
        (("update", "nightly", "--timezone", "Mars/Base"), "timezone 'Mars/Base' is not known"),
        (("update", "nightly", "--input", "in/{day}"), "placeholder {day} is not known"),
        (("show", "nope"), "shipyard schedules list"),
        (("run", "nightly", "--at", "tomorrow"), "--at 'tomorrow' is not a time"),
        (
            ("create", "nightly", "models:/clf/1", "--cron", "0 2 * * *", "--input", "i",
             "--output", "o"),
            "shipyard schedules update nightly",
        ),
    ]:  # fmt: skip
        failed = run("schedules", *args)
        assert failed.code == 1, args
        assert hint in failed.err and len(failed.err.strip().splitlines()) == 1, failed.err

    assert "deleted schedule nightly" in run("schedules", "delete", "nightly").out
    assert run("schedules", "show", "nightly").code == 1
