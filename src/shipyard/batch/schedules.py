"""Batch schedules: batch jobs run on a cron schedule by ``shipyard server``.

A schedule is a stored batch job template (see :mod:`shipyard.batch.schedule_spec`).
Each run is an ordinary batch job, ``NAME-YYYYMMDDTHHMMZ``, created by
``schedule:NAME``, scoring with the version the model reference names *when the run
starts* (a newly promoted champion is used from the next run on); the job record pins
that version, so running the same time again resumes the job with it.

``shipyard server`` calls :meth:`Schedules.run_due` every ``SHIPYARD_SCHEDULE_PERIOD_S``:

- A due schedule is *claimed* first: its ``next_run_at`` is moved on in one conditional
  update (``UPDATE … WHERE next_run_at = <as read>``), so of several servers on one
  database exactly one starts a given run.
- Runs missed while no server ran are not all made up: the latest missed time runs once,
  then the schedule goes on from the next time after now.
- A run whose schedule's previous run still goes on is skipped, and that is recorded
  (``last_skipped_at``, ``last_error``) and logged. A run left ``running`` by a server
  that stopped blocks no later run (see :mod:`shipyard.batch.schedule_runs`); resume it
  with ``shipyard schedules run NAME --at TIME``.
- At most ``max_runs`` runs score at once in one process; a schedule due while all are
  busy is left unclaimed until a run ends (another server may take it meanwhile).
- Paused schedules do not run; resuming one goes on from the next time after then.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from shipyard.batch.cron import following, latest, next_time, parse_cron
from shipyard.batch.engine import JOB_FILE, BatchResult, Progress
from shipyard.batch.jobs import Job
from shipyard.batch.schedule_runs import Runs
from shipyard.batch.schedule_spec import (
    DEFAULTS,
    FIELDS,
    OPTIONS,
    Schedule,
    ScheduledRun,
    check_definition,
    check_name,
    plan,
)
from shipyard.errors import ConflictError, InvalidInputError, ScheduleNotFoundError
from shipyard.registry import Registry
from shipyard.store.tables import BatchJobRow, BatchScheduleRow, utcnow

log = logging.getLogger("shipyard.schedules")
ScheduleList = list[Schedule]
RunList = list[ScheduledRun]


def _aware(now: datetime | None) -> datetime:
    now = now or utcnow()
    if now.tzinfo is None:
        raise InvalidInputError("now must be a timezone-aware time, e.g. datetime.now(UTC)")
    return now.astimezone(UTC)


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


class Schedules:
    """Batch schedules in the store ``registry`` uses; runs started here score on
    threads of this process, at most ``max_runs`` of the scheduler's at once."""

    def __init__(self, registry: Registry, *, max_runs: int = 2) -> None:
        self.registry = registry
        self.db = registry.db
        self.max_runs = max_runs
        self.runs = Runs(registry)

    # -- definitions -------------------------------------------------------------------

    def _row(self, s: Any, name: str) -> BatchScheduleRow:
        found = s.scalars(select(BatchScheduleRow).where(BatchScheduleRow.name == name)).first()
        if found is None:
            raise ScheduleNotFoundError(
                f"no batch schedule {name!r}; list them with: shipyard schedules list"
            )
        assert isinstance(found, BatchScheduleRow)
        return found

    def _record(self, s: Any, row: BatchScheduleRow) -> Schedule:
        state = None
        if row.last_job_id is not None:
            state = s.scalar(select(BatchJobRow.state).where(BatchJobRow.id == row.last_job_id))
        values = {c.key: getattr(row, c.key) for c in BatchScheduleRow.__table__.columns}
        return Schedule.model_validate(values | {"last_job_state": state})

    def create(
        self,
        name: str,
        model: str,
        *,
        cron: str,
        input: str,
        output: str,
        timezone: str = "UTC",
        paused: bool = False,
        actor: str | None = None,
        now: datetime | None = None,
        **options: Any,
    ) -> Schedule:
        """A new schedule running ``model`` over ``input`` into ``output`` at the times
        ``cron`` names in ``timezone``; ``options`` as :data:`~shipyard.batch.
        schedule_spec.OPTIONS` (``id_column``, ``chunk_rows`` …). The first run is the
        first cron time at or after ``now``."""
        check_name(name)
        now = _aware(now)
        values = check_definition(
            {"model": model, "cron": cron, "timezone": timezone, "input": input,
             "output": output, "options": options},
            now,
        )  # fmt: skip
        self.registry.resolve(model)  # a typo in the model or alias shows now, not at 02:00
        who = self.registry._actor(actor)
        with self.db.session(write=True) as s:
            if s.scalar(select(BatchScheduleRow.id).where(BatchScheduleRow.name == name)):
                raise ConflictError(
                    f"batch schedule {name!r} exists; change it with: shipyard schedules "
                    f"update {name}, or choose another name"
                )
            stamp = utcnow()
            row = BatchScheduleRow(
                name=name,
                **values,
                paused=bool(paused),
                next_run_at=next_time(parse_cron(cron, timezone), now),
                created_by=who,
                created_at=stamp,
                updated_at=stamp,
            )
            s.add(row)
            s.flush()
            log.info("batch schedule %s created by %s: %s %s", name, who, cron, timezone)
            return self._record(s, row)

    def list(self) -> ScheduleList:
        """Every schedule, by name."""
        with self.db.session() as s:
            rows = s.scalars(select(BatchScheduleRow).order_by(BatchScheduleRow.name))
            return [self._record(s, r) for r in rows]

    def get(self, name: str) -> Schedule:
        with self.db.session() as s:
            return self._record(s, self._row(s, name))

    def update(
        self,
        name: str,
        *,
        actor: str | None = None,
        now: datetime | None = None,
        **changes: Any,
    ) -> Schedule:
        """Change the fields given (any of :data:`~shipyard.batch.schedule_spec.FIELDS`;
        ``id_column`` or ``rejects`` set to ``None`` returns to the default). A new
        ``cron`` or ``timezone``, or resuming a paused schedule, sets the next run to the
        first cron time at or after ``now``: runs missed while paused are not made up."""
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise InvalidInputError(
                f"a schedule has no field(s) {', '.join(sorted(unknown))}; change any of "
                f"{', '.join(FIELDS)}"
            )
        now = _aware(now)
        with self.db.session(write=True) as s:
            row = self._row(s, name)
            options = dict(row.options)
            options.update({k: v for k, v in changes.items() if k in OPTIONS and v is not None})
            for key in ("id_column", "rejects"):
                if key in changes and changes[key] is None:
                    options[key] = DEFAULTS[key]
            merged = {k: getattr(row, k) for k in ("model", "cron", "timezone", "input", "output")}
            merged |= {k: v for k, v in changes.items() if k in merged and v is not None}
            values = check_definition(merged | {"options": options}, now)
            if "model" in changes and changes["model"] is not None:
                self.registry.resolve(values["model"])
            resumed = changes.get("paused") is False and row.paused
            timing = (row.cron, row.timezone) != (values["cron"], values["timezone"])
            for key, value in values.items():
                setattr(row, key, value)
            if changes.get("paused") is not None:
                row.paused = bool(changes["paused"])
            if resumed or timing:
                row.next_run_at = next_time(parse_cron(row.cron, row.timezone), now)
            row.updated_at = utcnow()
            s.flush()
            log.info("batch schedule %s changed by %s", name, self.registry._actor(actor))
            return self._record(s, row)

    def pause(self, name: str, *, actor: str | None = None) -> Schedule:
        """Stop starting runs of the schedule (a run going on goes on)."""
        return self.update(name, paused=True, actor=actor)

    def resume(
        self, name: str, *, actor: str | None = None, now: datetime | None = None
    ) -> Schedule:
        """Start runs again, from the first cron time at or after ``now``."""
        return self.update(name, paused=False, actor=actor, now=now)

    def delete(self, name: str, *, actor: str | None = None) -> Schedule:
        """Remove the schedule (its runs' job records and outputs stay); answers it as it was."""
        with self.db.session(write=True) as s:
            row = self._row(s, name)
            gone = self._record(s, row)
            s.delete(row)
        log.info("batch schedule %s deleted by %s", name, self.registry._actor(actor))
        return gone

    # -- running -----------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> ScheduleList:
        """Schedules not paused whose next run is at or before ``now``, soonest first."""
        now = _aware(now)
        with self.db.session() as s:
            rows = s.scalars(
                select(BatchScheduleRow)
                .where(BatchScheduleRow.paused.is_(False), BatchScheduleRow.next_run_at <= now)
                .order_by(BatchScheduleRow.next_run_at, BatchScheduleRow.name)
            )
            return [self._record(s, r) for r in rows]

    def run_due(self, now: datetime | None = None) -> RunList:
        """Claim each due schedule and start its run on a thread of this process (the
        latest missed time when several were missed); see the module docs for skips and
        the bound on runs at once. Returns what was done with each schedule claimed."""
        now = _aware(now)
        done: RunList = []
        for schedule in self.due(now):
            if len(self.runs.alive()) >= self.max_runs:
                log.info("schedules: %d runs going; due ones wait for a slot", self.max_runs)
                break
            at = self._claim(schedule, now)
            if at is None:
                continue  # another scheduler took it
            done.append(self._start_claimed(schedule, at))
        return done

    def _claim(self, schedule: Schedule, now: datetime) -> datetime | None:
        """Move the schedule's next run on past ``now``; the scheduled time claimed, or
        ``None`` when another scheduler moved it first."""
        trigger = parse_cron(schedule.cron, schedule.timezone)
        at = latest(trigger, schedule.next_run_at, now)
        with self.db.session(write=True) as s:
            claimed = s.execute(
                update(BatchScheduleRow)
                .where(
                    BatchScheduleRow.name == schedule.name,
                    BatchScheduleRow.next_run_at == schedule.next_run_at,
                    BatchScheduleRow.paused.is_(False),
                )
                .values(next_run_at=following(trigger, at))
            )
            return at if getattr(claimed, "rowcount", 0) == 1 else None

    def _start_claimed(self, schedule: Schedule, at: datetime) -> ScheduledRun:
        planned = plan(schedule, at)
        busy = self.runs.live(schedule.name)
        if busy is not None:
            why = f"the run of {at:%Y-%m-%d %H:%M}Z was skipped: job {busy} was still running"
            self.runs.note(schedule.name, last_skipped_at=at, last_error=why)
            log.warning(why, extra={"schedule": schedule.name, "job": planned.job_id})
            return ScheduledRun(
                schedule=schedule.name, at=at, job_id=planned.job_id, outcome="skipped", error=why
            )
        try:
            _, loaded = self.runs.start(schedule, at, planned)
        except Exception as exc:  # recorded on the schedule; the scheduler goes on
            log.error("schedule %s: run %s could not start: %s", schedule.name, planned.job_id, exc)
            return ScheduledRun(
                schedule=schedule.name,
                at=at,
                job_id=planned.job_id,
                outcome="failed",
                error=str(exc),
            )
        self.runs.spawn(schedule.name, planned, loaded)
        log.info("schedule %s: started job %s", schedule.name, planned.job_id)
        return ScheduledRun(schedule=schedule.name, at=at, job_id=planned.job_id, outcome="started")

    def run_now(
        self,
        name: str,
        *,
        at: datetime | None = None,
        now: datetime | None = None,
        background: bool = False,
        progress: Progress | None = None,
    ) -> tuple[Job, BatchResult | None]:
        """Run the schedule (paused or not) for the scheduled time ``at`` (default:
        ``now`` to the minute): here, returning the finished job and what it did, or
        with ``background`` on a thread, returning the job as started. The same ``at``
        again resumes that run's job. Refused while another run of the schedule goes on."""
        schedule = self.get(name)
        when = _minute(_aware(at or now))
        busy = self.runs.live(name)
        if busy is not None:
            raise ConflictError(
                f"schedule {name} has a run going, job {busy}; wait for it to end, or stop it "
                f"with: shipyard jobs cancel {busy}"
            )
        planned = plan(schedule, when)
        _check_output_free(name, planned.spec.output, planned.job_id)
        job, loaded = self.runs.start(schedule, when, planned)
        if background:
            self.runs.spawn(name, planned, loaded)
            return job, None
        return self.runs.score(name, planned, loaded, progress)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the runs started on this process's threads to end."""
        self.runs.join(timeout)

    def run_forever(
        self,
        stop: threading.Event,
        period_s: float = 15.0,
        on_run: Callable[[RunList], None] | None = None,
    ) -> None:
        """Start due runs every ``period_s`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                started = self.run_due()
                if on_run is not None:
                    on_run(started)
            except Exception:
                log.exception("schedules: a round failed; trying again in %ss", period_s)
            stop.wait(period_s)


def _check_output_free(name: str, output: Path, job_id: str) -> None:
    """Refuse a run whose output (a day's, say) holds another run of the schedule,
    saying how to resume that run or score again."""
    marker = output / JOB_FILE
    if not marker.exists():
        return
    other = str(json.loads(marker.read_text()).get("job_id", ""))
    if other == job_id or not other.startswith(f"{name}-"):
        return  # a resume, or another job's output, which the engine refuses itself
    stamp = other.removeprefix(f"{name}-")
    at = f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}Z"
    raise ConflictError(
        f"run {other} of schedule {name} wrote to {output} already; resume it with: "
        f"shipyard schedules run {name} --at {at}, or remove {output} to score it again"
    )
