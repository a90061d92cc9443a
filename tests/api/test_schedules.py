"""``/api/v1/schedules`` on a real server: the server's scheduler runs a due schedule as
an ordinary batch job with its output on disk; a run started over HTTP; bad fields
refused with a 4xx that names them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from api.conftest import Server, serve
from batch.scene import classifier, inputs, write
from shipyard.batch import Job
from shipyard.batch.schedules import Schedules
from shipyard.config import Settings
from shipyard.errors import ScheduleNotFoundError
from shipyard.registry import Registry


@pytest.fixture
def scheduling(settings: Settings) -> Iterator[Server]:
    """The control plane, looking for due schedules five times a second."""
    yield from serve(settings.model_copy(update={"schedule_period_s": 0.2}), data_plane=False)


def _until(server: Server, find: str, *, created_by: str | None = None) -> Job:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [j for j in server.client.list_batch_jobs() if j.id == find]
        if found and found[0].state not in ("running", "cancelling"):
            assert created_by is None or found[0].created_by == created_by
            return found[0]
        time.sleep(0.1)
    raise AssertionError(f"job {find} did not end within 60 s")


def test_the_servers_scheduler_runs_a_due_schedule(
    scheduling: Server, registry: Registry, tmp_path: Path
) -> None:
    classifier(registry)
    registry.set_alias("clf", "champion", 1)
    source = write(inputs(5_000, bad=False), tmp_path / "in.parquet")
    # Created two days ago: its 02:00 runs since were missed, and the latest is due now.
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    Schedules(registry).create(
        "nightly",
        "models:/clf@champion",
        cron="0 2 * * *",
        input=str(source),
        output=str(tmp_path / "scores" / "{date}"),
        id_column="id",
        log_fraction=0,
        now=two_days_ago,
    )
    due = Schedules(registry).get("nightly").next_run_at
    assert due < datetime.now(UTC)
    deadline = time.monotonic() + 60
    while scheduling.client.get_schedule("nightly").last_job_id is None:
        assert time.monotonic() < deadline, "the scheduler did not start the run"
        time.sleep(0.1)
    shown = scheduling.client.get_schedule("nightly")
    assert shown.last_job_id is not None and shown.last_job_id.startswith("nightly-")
    assert shown.next_run_at > datetime.now(UTC)
    job = _until(scheduling, shown.last_job_id, created_by="schedule:nightly")
    assert (job.state, job.model, job.rows_out) == ("succeeded", "models:/clf/1", 5_000)
    day = shown.last_run_at
    assert day is not None
    assert len(pd.read_parquet(tmp_path / "scores" / f"{day:%Y-%m-%d}")) == 5_000
    assert scheduling.client.get_schedule("nightly").last_job_state == "succeeded"


def test_schedules_over_rest(control_plane: Server, registry: Registry, tmp_path: Path) -> None:
    classifier(registry)
    source = write(inputs(4_000, bad=False), tmp_path / "in.parquet")
    client = control_plane.client
    created = client.create_schedule(
        "hourly",
        "models:/clf/1",
        cron="15 * * * *",
        input=str(source),
        output=str(tmp_path / "out"),
        timezone="Europe/Paris",
        log_fraction=0,
        chunk_rows=1_000,
    )
    assert (created.cron, created.timezone, created.options["chunk_rows"]) == (
        "15 * * * *",
        "Europe/Paris",
        1_000,
    )
    assert created.next_run_at.minute == 15 and created.created_by == "tester"
    assert [s.name for s in client.list_schedules()] == ["hourly"]
    assert client.update_schedule("hourly", paused=True).paused
    changed = client.update_schedule("hourly", paused=False, cron="45 * * * *", id_column="id")
    assert not changed.paused and changed.next_run_at.minute == 45
    assert changed.options["id_column"] == "id"
    assert client.update_schedule("hourly", id_column=None).options["id_column"] is None

    started = client.run_schedule("hourly", at="2026-11-27T02:00:30Z")
    assert (started.id, started.state) == ("hourly-20261127T0200Z", "running")
    done = _until(control_plane, "hourly-20261127T0200Z", created_by="schedule:hourly")
    assert (done.state, done.rows_out) == ("succeeded", 4_000)
    assert (tmp_path / "out" / "hourly-20261127T0200Z" / "_SUCCESS").exists()
    assert client.get_schedule("hourly").last_job_state == "succeeded"

    assert client.delete_schedule("hourly").name == "hourly"
    with pytest.raises(ScheduleNotFoundError, match="shipyard schedules list"):
        client.get_schedule("hourly")


BAD = [
    ({"cron": "61 * * * *"}, 400, "cron '61 * * * *': minute '61' is not valid"),
    ({"cron": "0 2 * *"}, 400, "give five fields: minute hour day month weekday"),
    ({"timezone": "Mars/Base"}, 400, "timezone 'Mars/Base' is not known"),
    ({"input": "/in/{day}.parquet"}, 400, "placeholder {day} is not known"),
    ({"output": "/o/{date}", "cron": "*/5 * * * *"}, 400, "add {time} to the output"),
    ({"input": "in.parquet"}, 400, "input 'in.parquet' is relative; give an absolute path"),
    ({"model": "clf"}, 400, "is not a model URI"),
    ({"model": "models:/clf@gone"}, 404, "has no alias 'gone'"),
    ({"name": "x" * 60}, 400, "the limit is 49"),
    ({"name": "x" * 65}, 422, "name"),
    ({"chunk_rows": 0}, 422, "chunk_rows"),
    ({"format": "xlsx"}, 422, "format"),
    ({"colour": "red"}, 422, "colour"),
]


def test_bad_fields_are_refused_by_name(control_plane: Server, registry: Registry) -> None:
    classifier(registry)
    body = {"name": "n", "model": "models:/clf/1", "cron": "0 2 * * *", "input": "/in.parquet"}
    for change, status, message in BAD:
        answer = control_plane.http.post("/schedules", json=body | {"output": "/o"} | change)
        assert answer.status_code == status, (change, answer.text)
        assert message in answer.json()["error"], (change, answer.text)
    assert control_plane.http.get("/schedules").json() == []
    control_plane.client.create_schedule(
        "n", "models:/clf/1", cron="0 2 * * *", input="/in.parquet", output="/o"
    )
    answer = control_plane.http.patch("/schedules/n", json={"cron": "0 2 * * 8"})
    assert answer.status_code == 400 and "weekday must be 0-7" in answer.json()["error"]
    answer = control_plane.http.patch("/schedules/n", json={"log_fraction": 3})
    assert answer.status_code == 422


def test_missing_schedules_and_bad_times_are_4xx(control_plane: Server) -> None:
    assert control_plane.http.get("/schedules/nope").status_code == 404
    assert control_plane.http.patch("/schedules/nope", json={"paused": True}).status_code == 404
    assert control_plane.http.post("/schedules/nope/run").status_code == 404
    refused = control_plane.http.patch("/schedules/nope", json={"when": 1})
    assert refused.status_code == 422
    bad_time = control_plane.http.post("/schedules/nope/run", params={"at": "yesterday"})
    assert bad_time.status_code == 400 and "give ISO 8601" in bad_time.json()["error"]
