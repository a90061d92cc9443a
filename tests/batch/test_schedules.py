"""Batch schedules on SQLite and PostgreSQL, with an injected clock: due times across a
cron, placeholders, deterministic job ids, the alias resolved at each run, skipped
overlaps, one catch-up after missed runs, pausing, an atomic claim by one of two
schedulers, and fields refused by name."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import update

from batch.scene import FEATURES, classifier, inputs, write
from shipyard.batch import Jobs
from shipyard.batch.schedule_spec import plan
from shipyard.batch.schedules import Schedules
from shipyard.errors import (
    AliasNotFoundError,
    ConflictError,
    InvalidInputError,
    ScheduleNotFoundError,
)
from shipyard.registry import Registry
from shipyard.store.tables import BatchScheduleRow, utcnow

NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
TWO = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def _champion_v2(registry: Registry) -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(500, 5)), columns=FEATURES)
    model = LogisticRegression().fit(frame, (frame["f2"] > 0).astype(int))
    registry.register_model(model, "clf", training_data=frame)
    registry.set_alias("clf", "champion", 2)


def _nightly(registry: Registry, tmp_path: Path, **options: object) -> Schedules:
    classifier(registry)
    registry.set_alias("clf", "champion", 1)
    for day in ("2026-11-27", "2026-11-28", "2026-11-30"):
        write(inputs(3_000, bad=False), tmp_path / "in" / f"{day}.parquet")
    schedules = Schedules(registry)
    schedules.create(
        "nightly",
        "models:/clf@champion",
        cron="0 2 * * *",
        input=str(tmp_path / "in" / "{date}.parquet"),
        output=str(tmp_path / "out" / "{date}"),
        id_column="id",
        log_fraction=0,
        now=NOON,
        **options,
    )
    return schedules


def test_runs_follow_the_cron_each_with_its_partition_job_id_and_champion(
    registry: Registry, tmp_path: Path
) -> None:
    schedules = _nightly(registry, tmp_path)
    created = schedules.get("nightly")
    assert (created.next_run_at, created.last_job_id, created.paused) == (TWO, None, False)
    assert created.options["chunk_rows"] == 65_536 and created.timezone == "UTC"
    assert schedules.due(TWO - timedelta(minutes=1)) == []
    assert [s.name for s in schedules.due(TWO)] == ["nightly"]

    [run] = schedules.run_due(TWO + timedelta(seconds=20))
    assert (run.outcome, run.job_id, run.at) == ("started", "nightly-20261127T0200Z", TWO)
    assert schedules.run_due(TWO + timedelta(seconds=40)) == []  # claimed: not due again
    schedules.join()
    job = Jobs(registry).get("nightly-20261127T0200Z")
    assert (job.state, job.model, job.created_by) == (
        "succeeded",
        "models:/clf/1",
        "schedule:nightly",
    )
    assert job.input == str(tmp_path / "in" / "2026-11-27.parquet")
    assert len(pd.read_parquet(tmp_path / "out" / "2026-11-27")) == 3_000
    shown = schedules.get("nightly")
    assert (shown.next_run_at, shown.last_run_at) == (TWO + DAY, TWO)
    assert (shown.last_job_id, shown.last_job_state, shown.last_error) == (
        "nightly-20261127T0200Z",
        "succeeded",
        None,
    )

    _champion_v2(registry)  # promoted between runs: the next run scores with it
    [second] = schedules.run_due(TWO + DAY)
    schedules.join()
    assert Jobs(registry).get(second.job_id).model == "models:/clf/2"
    assert second.job_id == "nightly-20261128T0200Z"
    scored = pd.read_parquet(tmp_path / "out" / "2026-11-28")
    assert set(scored["version"]) == {2}


def test_missed_runs_are_made_up_once_with_the_latest_time(
    registry: Registry, tmp_path: Path
) -> None:
    schedules = _nightly(registry, tmp_path)
    later = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)  # 27, 28, 29 and 30 were missed
    [run] = schedules.run_due(later)
    schedules.join()
    assert (run.outcome, run.job_id) == ("started", "nightly-20261130T0200Z")
    assert schedules.get("nightly").next_run_at == datetime(2026, 12, 1, 2, tzinfo=UTC)
    assert schedules.run_due(later) == []
    assert [j.id for j in Jobs(registry).list()] == ["nightly-20261130T0200Z"]


def test_an_output_without_placeholder_gets_a_directory_per_run(
    registry: Registry, tmp_path: Path
) -> None:
    classifier(registry)
    write(inputs(3_000), tmp_path / "in.parquet")
    schedules = Schedules(registry)
    schedules.create(
        "hourly",
        "models:/clf/1",
        cron="0 * * * *",
        input=str(tmp_path / "in.parquet"),
        output=str(tmp_path / "scores"),
        log_fraction=0,
        now=NOON,
    )
    for hour in (1, 2):
        [run] = schedules.run_due(NOON + timedelta(hours=hour))
        schedules.join()
        job = Jobs(registry).get(run.job_id)
        assert job.state == "succeeded"
        assert (job.options["workers"], job.options["engine"]) == ([None, 1][hour - 1], "local")
        schedules.update("hourly", workers=1)
    runs = sorted(p.name for p in (tmp_path / "scores").iterdir())
    assert runs == ["hourly-20261126T1300Z", "hourly-20261126T1400Z"]
    # Rows 3 and 1,234 break the signature.
    assert len(pd.read_parquet(tmp_path / "scores" / runs[0])) == 2_998
    rejects = tmp_path / "scores-rejects" / runs[0]
    assert len(pd.read_parquet(rejects)) == 2


def test_a_run_is_skipped_while_the_previous_one_goes_on(
    registry: Registry, tmp_path: Path
) -> None:
    schedules = _nightly(registry, tmp_path)
    schedule = schedules.get("nightly")
    first = plan(schedule, TWO)
    schedules.runs.start(schedule, TWO, first)  # recorded running, not yet scored
    [skipped] = schedules.run_due(TWO + DAY)
    assert (skipped.outcome, skipped.job_id) == ("skipped", "nightly-20261128T0200Z")
    shown = schedules.get("nightly")
    assert shown.last_skipped_at == TWO + DAY and shown.next_run_at == TWO + 2 * DAY
    assert "job nightly-20261127T0200Z was still running" in (shown.last_error or "")
    with pytest.raises(ConflictError, match="shipyard jobs cancel nightly-20261127T0200Z"):
        schedules.run_now("nightly", at=TWO)

    # Its process stopped: no heartbeat for minutes. It blocks nothing, and resumes.
    with registry.db.session(write=True) as s:
        s.execute(update(BatchScheduleRow).values(heartbeat_at=utcnow() - timedelta(minutes=5)))
    job, result = schedules.run_now("nightly", at=TWO)
    assert job.id == "nightly-20261127T0200Z" and job.state == "succeeded"
    assert result is not None and result.rows_out == 3_000


def test_paused_schedules_do_not_run_and_resume_from_then(
    registry: Registry, tmp_path: Path
) -> None:
    schedules = _nightly(registry, tmp_path)
    assert schedules.pause("nightly").paused
    assert schedules.due(TWO + 3 * DAY) == [] and schedules.run_due(TWO + 3 * DAY) == []
    resumed = schedules.resume("nightly", now=TWO + 3 * DAY + timedelta(hours=1))
    assert not resumed.paused and resumed.next_run_at == TWO + 4 * DAY  # nothing made up
    job, _ = schedules.run_now("nightly", at=datetime(2026, 11, 28, 2, 0, 59, tzinfo=UTC))
    assert job.id == "nightly-20261128T0200Z"  # a run by hand, to the minute


def test_a_run_that_cannot_start_is_recorded_and_the_schedule_goes_on(
    registry: Registry, tmp_path: Path
) -> None:
    schedules = _nightly(registry, tmp_path)
    [run] = schedules.run_due(TWO + 2 * DAY)  # no input partition for the 29th
    assert run.outcome == "failed" and "2026-11-29.parquet" in (run.error or "")
    shown = schedules.get("nightly")
    assert shown.last_job_id == "nightly-20261129T0200Z" and shown.last_job_state is None
    assert "could not start" in (shown.last_error or "")
    assert shown.next_run_at == TWO + 3 * DAY
    [ok] = schedules.run_due(TWO + 3 * DAY)
    schedules.join()
    assert ok.outcome == "started" and schedules.get("nightly").last_error is None


def test_two_schedulers_on_one_database_start_a_run_once(
    registry: Registry, tmp_path: Path
) -> None:
    _nightly(registry, tmp_path)
    other = Registry.from_settings(registry.settings)
    try:
        pair = [Schedules(registry), Schedules(other)]
        gate = threading.Barrier(2)
        started: list[list[str]] = [[], []]

        def claim(i: int) -> None:
            gate.wait()
            started[i] = [r.job_id for r in pair[i].run_due(TWO + timedelta(seconds=5))]

        threads = [threading.Thread(target=claim, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for schedules in pair:
            schedules.join()
        assert sorted(started[0] + started[1]) == ["nightly-20261127T0200Z"]
        assert [j.id for j in Jobs(registry).list()] == ["nightly-20261127T0200Z"]
    finally:
        other.db.dispose()


def test_changes_are_checked_and_named(registry: Registry, tmp_path: Path) -> None:
    schedules = _nightly(registry, tmp_path)
    base = {"cron": "0 2 * * *", "input": "/in.parquet", "output": str(tmp_path / "o")}
    for name, changes, error, message in [
        ("n", {"cron": "61 * * * *"}, InvalidInputError, "minute must be 0-59"),
        ("n", {"timezone": "Nowhere/City"}, InvalidInputError, "timezone 'Nowhere/City'"),
        ("n", {"input": "/in/{day}.parquet"}, InvalidInputError, "input '/in/{day}.parquet'"),
        ("n", {"output": "/o/{date}", "cron": "0 * * * *"}, InvalidInputError, "add {time}"),
        ("n", {"input": "in.parquet"}, InvalidInputError, "is relative; give an absolute path"),
        ("n", {"chunk_rows": 0}, InvalidInputError, "--chunk-rows must be 1 or more"),
        ("n", {"log_fraction": 2}, InvalidInputError, "log_fraction must be between 0 and 1"),
        ("n", {"format": "xlsx"}, InvalidInputError, "--format 'xlsx' is not one of"),
        ("n", {"colour": "red"}, InvalidInputError, "unknown option(s) colour"),
        ("n", {"workers": 0}, InvalidInputError, "--workers must be 1 or more"),
        ("n", {"workers": "2"}, InvalidInputError, "--workers must be a whole number"),
        ("n", {"engine": "spark"}, InvalidInputError, "--engine 'spark' is not one of"),
        ("n", {"ray_address": "auto"}, InvalidInputError, "--ray-address needs --engine ray"),
        ("a" * 50, {}, InvalidInputError, "the limit is 49"),
        ("bad name", {}, InvalidInputError, "schedule name 'bad name' is not allowed"),
        ("nightly", {}, ConflictError, "shipyard schedules update nightly"),
    ]:
        with pytest.raises(error) as info:
            schedules.create(name, "models:/clf/1", **(base | changes), now=NOON)  # type: ignore[arg-type]
        assert message in str(info.value), (changes, str(info.value))
    with pytest.raises(AliasNotFoundError):
        schedules.create("n", "models:/clf@nope", **base, now=NOON)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="models:/NAME@ALIAS"):
        schedules.create("n", "clf", **base, now=NOON)  # type: ignore[arg-type]

    before = schedules.get("nightly")
    with pytest.raises(InvalidInputError, match="hour must be 0-23"):
        schedules.update("nightly", cron="0 24 * * *")
    assert schedules.get("nightly") == before
    changed = schedules.update(
        "nightly", cron="30 1 * * *", timezone="Europe/Paris", id_column=None, now=NOON
    )
    assert changed.next_run_at == datetime(2026, 11, 27, 0, 30, tzinfo=UTC)
    assert changed.options["id_column"] is None and changed.options["log_fraction"] == 0
    assert schedules.update("nightly", chunk_rows=1000).next_run_at == changed.next_run_at
    assert [s.name for s in schedules.list()] == ["nightly"]
    assert schedules.delete("nightly").name == "nightly"
    with pytest.raises(ScheduleNotFoundError, match="shipyard schedules list"):
        schedules.get("nightly")


def test_a_second_run_by_hand_into_the_same_days_output_says_how_to_resume(
    registry: Registry, tmp_path: Path
) -> None:
    schedules = _nightly(registry, tmp_path)
    first, _ = schedules.run_now("nightly", at=datetime(2026, 11, 27, 9, 15, tzinfo=UTC))
    assert first.state == "succeeded"
    with pytest.raises(ConflictError) as refused:
        schedules.run_now("nightly", at=datetime(2026, 11, 27, 10, 0, tzinfo=UTC))
    assert str(refused.value) == (
        f"run nightly-20261127T0915Z of schedule nightly wrote to "
        f"{tmp_path / 'out' / '2026-11-27'} already; resume it with: shipyard schedules run "
        f"nightly --at 2026-11-27T09:15Z, or remove {tmp_path / 'out' / '2026-11-27'} to score "
        "it again"
    )
    again, _ = schedules.run_now("nightly", at=datetime(2026, 11, 27, 9, 15, tzinfo=UTC))
    assert again.id == first.id and again.state == "succeeded"
