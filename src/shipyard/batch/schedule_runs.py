"""Runs of batch schedules on threads of this process, and how they show in the store.

A run that goes on refreshes its schedule's ``heartbeat_at`` every :data:`HEARTBEAT_S`;
a run recorded ``running`` whose heartbeat is older than :data:`STALE_S` was left by a
process that stopped, and blocks no later run.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from shipyard.batch.engine import BatchResult, Progress
from shipyard.batch.jobs import Job, execute, start_job
from shipyard.batch.schedule_spec import RunPlan, Schedule
from shipyard.errors import ScheduleNotFoundError
from shipyard.registry import Registry
from shipyard.registry.loaded import LoadedModel
from shipyard.store.tables import BatchJobRow, BatchScheduleRow, utcnow

log = logging.getLogger("shipyard.schedules")

#: How often a run in progress refreshes its schedule's heartbeat (seconds).
HEARTBEAT_S = 10.0
#: A heartbeat older than this means the run's process stopped (seconds).
STALE_S = 60.0
_LIVE = ("running", "cancelling")


class Runs:
    """The runs of schedules in the store ``registry`` uses that this process scores."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.db = registry.db
        self._runs: dict[str, tuple[str, threading.Thread]] = {}  # job id -> schedule, thread
        self._lock = threading.Lock()

    def live(self, name: str) -> str | None:
        """The job id of a run of the schedule that goes on, if any: one on a thread of
        this process, or one recorded ``running`` whose schedule's heartbeat is fresh."""
        for job_id, (owner, _) in self.alive().items():
            if owner == name:
                return job_id
        with self.db.session() as s:
            row = s.scalars(select(BatchScheduleRow).where(BatchScheduleRow.name == name)).first()
            if row is None:
                raise ScheduleNotFoundError(f"no batch schedule {name!r}")
            live = s.scalars(
                select(BatchJobRow.id)
                .where(BatchJobRow.created_by == f"schedule:{name}", BatchJobRow.state.in_(_LIVE))
                .order_by(BatchJobRow.started_at.desc())
            ).first()
            beat = row.heartbeat_at
        if live is None:
            return None
        if beat is not None and utcnow() - beat < timedelta(seconds=STALE_S):
            return str(live)
        log.warning(
            "schedule %s: job %s was left running by a process that stopped; resume it with: "
            "shipyard schedules run %s --at TIME",
            name,
            live,
            name,
        )
        return None

    def start(self, schedule: Schedule, at: datetime, planned: RunPlan) -> tuple[Job, LoadedModel]:
        """Check and record the run's job (the model resolved now, or, resuming a job,
        the version it pinned); a failure is recorded on the schedule and raised."""
        self.note(
            schedule.name,
            last_run_at=at,
            last_job_id=planned.job_id,
            last_error=None,
            heartbeat_at=utcnow(),
        )
        with self.db.session() as s:
            pinned = s.scalar(select(BatchJobRow.model).where(BatchJobRow.id == planned.job_id))
        try:
            job, loaded = start_job(
                self.registry,
                planned.spec,
                pinned or schedule.model,
                actor=f"schedule:{schedule.name}",
                log_fraction=planned.log_fraction,
            )
        except Exception as exc:
            self.note(schedule.name, last_error=f"job {planned.job_id} could not start: {exc}")
            raise
        return job, loaded

    def spawn(self, name: str, planned: RunPlan, loaded: LoadedModel) -> None:
        thread = threading.Thread(
            target=self._score_logged,
            args=(name, planned, loaded),
            name=f"schedule-{planned.job_id}",
            daemon=True,
        )
        with self._lock:
            self._runs[planned.job_id] = (name, thread)
        thread.start()

    def _score_logged(self, name: str, planned: RunPlan, loaded: LoadedModel) -> None:
        try:
            self.score(name, planned, loaded)
        except Exception:  # recorded in the job and on the schedule; the server goes on
            log.exception("schedule %s: job %s stopped", name, planned.job_id)

    def score(
        self,
        name: str,
        planned: RunPlan,
        loaded: LoadedModel,
        progress: Progress | None = None,
    ) -> tuple[Job, BatchResult | None]:
        """Score a started run here, refreshing the schedule's heartbeat meanwhile."""
        ended = threading.Event()
        beating = threading.Thread(
            target=self._beat, args=(name, ended), name=f"heartbeat-{name}", daemon=True
        )
        beating.start()
        try:
            done = execute(
                self.registry,
                planned.spec,
                loaded,
                log_fraction=planned.log_fraction,
                progress=progress,
            )
        except BaseException as exc:
            why = str(exc) or type(exc).__name__
            self.note(name, last_error=f"job {planned.job_id} stopped: {why}")
            raise
        finally:
            ended.set()
        return done

    def _beat(self, name: str, ended: threading.Event) -> None:
        while not ended.wait(HEARTBEAT_S):
            try:
                self.note(name, heartbeat_at=utcnow())
            except Exception:  # a missed beat is not worth stopping the run for
                log.exception("schedule %s: heartbeat not recorded", name)

    def note(self, name: str, **values: Any) -> None:
        """Record how the schedule's runs stand (nothing when it was deleted meanwhile)."""
        with self.db.session(write=True) as s:
            s.execute(
                update(BatchScheduleRow).where(BatchScheduleRow.name == name).values(**values)
            )

    def alive(self) -> dict[str, tuple[str, threading.Thread]]:
        with self._lock:
            for job_id in [j for j, (_, t) in self._runs.items() if not t.is_alive()]:
                del self._runs[job_id]
            return dict(self._runs)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the runs on this process's threads to end."""
        for _, thread in self.alive().values():
            thread.join(timeout)
