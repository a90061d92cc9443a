"""Batch jobs as records: who started which job, with which version, on what input, and
how it stands — ``running``, then ``succeeded``, ``failed`` or ``cancelled`` (through
``cancelling``: a job asked to stop finishes its chunk and stops, unless that was its
last; its output resumes with the same job id).

:func:`run_job` runs one in the calling thread, keeps its record up to date (rows done,
at most every second) and writes its predictions to the prediction log, tagged with the
protocol ``batch``, so drift and performance monitors of the model see offline
deployments too: every row, or a fraction chosen per job (the same rows on every run:
a row is kept when a hash of its number falls below the fraction). A row's request id in
the log is its ``--id-column`` value (so feedback by that id joins it), else
``JOB:ROW``.

The model's column policy is read when the job starts (a key it needs but this process
lacks stops the job before anything is written) and applied to the output, the rejects
and the log. A protected id column gives the log's request ids only when it is hashed
(the hash, so feedback given by the hashed id joins); otherwise they are ``JOB:ROW``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, computed_field
from sqlalchemy import select

from shipyard.batch.engine import (
    BatchResult,
    BatchSpec,
    Progress,
    check_columns,
    check_output,
    check_spec,
    dataset_of,
    engine,
    input_files,
    written,
)
from shipyard.errors import ConflictError, InvalidInputError, JobNotFoundError, ShipyardError
from shipyard.predictions import PredictionLogWriter
from shipyard.protection.policy import PolicyBook
from shipyard.protection.service import ColumnPolicies
from shipyard.registry import Registry
from shipyard.registry.loaded import LoadedModel
from shipyard.store.tables import BatchJobRow, utcnow

log = logging.getLogger("shipyard.batch")

State = Literal["running", "succeeded", "failed", "cancelling", "cancelled"]
STATES: tuple[State, ...] = ("running", "succeeded", "failed", "cancelling", "cancelled")
#: Seconds between updates of a running job's record.
UPDATE_S = 1.0
#: Rows of the prediction log a job buffers at most before writing them.
LOG_FLUSH_ROWS = 131_072


class JobCancelled(ShipyardError):
    """The job was asked to stop (``shipyard jobs cancel``)."""


class Job(BaseModel):
    """A batch job as recorded."""

    model_config = ConfigDict(frozen=True)

    id: str
    model: str
    input: str
    output: str
    options: dict[str, Any]
    state: State
    rows_total: int | None
    rows_in: int
    rows_out: int
    rows_rejected: int
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime
    finished_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def duration_s(self) -> float | None:
        """Seconds from its (last) start to its end, or ``None`` while it runs."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _job(row: BatchJobRow) -> Job:
    return Job.model_validate({c.key: getattr(row, c.key) for c in BatchJobRow.__table__.columns})


class Jobs:
    """Job records in the store ``registry`` uses."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.db = registry.db

    def _row(self, s: Any, job_id: str, *, lock: bool = False) -> BatchJobRow:
        found = s.get(BatchJobRow, job_id, with_for_update=lock)
        if found is None:
            raise JobNotFoundError(f"no batch job {job_id!r}; list them with: shipyard jobs list")
        assert isinstance(found, BatchJobRow)
        return found

    def get(self, job_id: str) -> Job:
        with self.db.session() as s:
            return _job(self._row(s, job_id))

    def list(self, state: str | None = None, *, limit: int = 100) -> list[Job]:
        """Jobs, newest first; only those in ``state`` when given."""
        if state is not None and state not in STATES:
            raise InvalidInputError(f"state {state!r} is not one of: {', '.join(STATES)}")
        if limit < 1:
            raise InvalidInputError("limit must be at least 1")
        with self.db.session() as s:
            query = select(BatchJobRow).order_by(BatchJobRow.started_at.desc()).limit(limit)
            if state is not None:
                query = query.where(BatchJobRow.state == state)
            return [_job(r) for r in s.scalars(query)]

    def start(
        self,
        spec: BatchSpec,
        loaded: LoadedModel,
        actor: str | None = None,
        *,
        log_fraction: float = 1.0,
    ) -> Job:
        """Record the job as running (a new one, or the same id resumed)."""
        who = self.registry._actor(actor)
        now = utcnow()
        options = {
            "id_column": spec.id_column,
            "chunk_rows": spec.chunk_rows,
            "rejects": None if spec.rejects is None else str(spec.rejects),
            "fail_on_reject": spec.fail_on_reject,
            "log_fraction": log_fraction,
            "format": spec.format,
            "workers": spec.workers,
            "engine": spec.engine,
            "ray_address": spec.ray_address,
        }
        with self.db.session(write=True) as s:
            row = s.get(BatchJobRow, spec.job_id, with_for_update=True)
            if row is not None:
                if row.model != loaded.version.uri or row.output != str(spec.output):
                    raise ConflictError(
                        f"job {spec.job_id} scored {row.model} into {row.output}; resume it "
                        "with that model and --output, or choose another --job-id"
                    )
                if row.state in ("running", "cancelling") and row.finished_at is None:
                    log.info("job %s was left running; resuming it", spec.job_id)
                row.state, row.error, row.started_at, row.finished_at = "running", None, now, None
                row.options = options
            else:
                row = BatchJobRow(
                    id=spec.job_id,
                    model=loaded.version.uri,
                    input=spec.input,
                    output=str(spec.output),
                    options=options,
                    state="running",
                    rows_total=None,
                    rows_in=0,
                    rows_out=0,
                    rows_rejected=0,
                    error=None,
                    created_by=who,
                    created_at=now,
                    started_at=now,
                    finished_at=None,
                )
                s.add(row)
            s.flush()
            return _job(row)

    def progress(self, job_id: str, done: int, total: int) -> bool:
        """Record rows done; whether the job was asked to stop."""
        with self.db.session(write=True) as s:
            row = self._row(s, job_id, lock=True)
            row.rows_in, row.rows_total = done, total
            return row.state == "cancelling"

    def cancelling(self, job_id: str) -> bool:
        """Whether the job was asked to stop."""
        with self.db.session() as s:
            state = s.scalar(select(BatchJobRow.state).where(BatchJobRow.id == job_id))
            return state == "cancelling"

    def finish(
        self,
        job_id: str,
        result: BatchResult | None,
        error: BaseException | None,
        rows_done: int | None = None,
    ) -> Job:
        with self.db.session(write=True) as s:
            row = self._row(s, job_id, lock=True)
            if result is not None:
                row.rows_in, row.rows_out = result.rows_in, result.rows_out
                row.rows_rejected = result.rejected
            if rows_done is not None:
                row.rows_in = max(row.rows_in, rows_done)
            if error is None:
                row.state, row.error = "succeeded", None
            elif isinstance(error, JobCancelled | KeyboardInterrupt):
                row.state, row.error = "cancelled", str(error) or "interrupted"
            else:
                row.state = "failed"
                row.error = str(error) or type(error).__name__
            row.finished_at = utcnow()
            s.flush()
            return _job(row)

    def cancel(self, job_id: str, actor: str | None = None) -> Job:
        """Ask a running job to stop after its current chunk."""
        with self.db.session(write=True) as s:
            row = self._row(s, job_id, lock=True)
            if row.state != "running":
                raise ConflictError(
                    f"job {job_id} is not running (its state: {row.state}); only a running "
                    "job can be cancelled"
                )
            row.state = "cancelling"
            s.flush()
            return _job(row)


def _sampled(rows: np.ndarray[Any, Any], fraction: float) -> np.ndarray[Any, Any]:
    """Which rows (by number) a fraction keeps: the same ones on every run."""
    if fraction >= 1:
        return np.ones(len(rows), dtype=bool)
    mixed = rows.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53) < fraction


class BatchLog:
    """Writes a job's scored chunks to the prediction log (see the module docs). Made
    anew in each worker process of an engine that has them: it pickles as its
    arguments."""

    def __init__(
        self, predictions: str, fraction: float, loaded: LoadedModel, spec: BatchSpec
    ) -> None:
        self.fraction = fraction
        self.loaded = loaded
        self.spec = spec
        policy = spec.column_policy
        book = None
        if policy:
            book = PolicyBook({loaded.version.name: dict(policy.columns)}, {}, policy.keyring)
        self.writer = PredictionLogWriter(
            Path(predictions), policies=None if book is None else (lambda: book)
        ).start()
        self.pending = 0
        action = None if policy is None or spec.id_column is None else policy.action(spec.id_column)
        self.ids = spec.id_column is not None and action in (None, "hash")
        """Whether request ids are the id column's values (as written to the output)."""

    def write(self, valid: pd.DataFrame, table: pa.Table) -> None:
        rows = table.column("row").to_numpy()
        keep = _sampled(rows, self.fraction)
        if not keep.any():
            return
        if self.spec.id_column is not None and self.ids:
            ids = [str(v) for v in table.column(self.spec.id_column).to_pylist()]
        else:
            ids = [f"{self.spec.job_id}:{r}" for r in rows.tolist()]
        picked = np.flatnonzero(keep)
        proba = None
        named = [c for c in table.column_names if c.startswith("probability_")]
        if named:
            proba = np.column_stack([table.column(c).to_numpy() for c in named])[picked]
        self.writer.append_batch(
            model=self.loaded.version.name,
            version=self.loaded.version.version,
            request_ids=[ids[i] for i in picked],
            protocols=["batch"] * len(picked),
            latencies_ms=[0.0] * len(picked),
            rows=[1] * len(picked),
            inputs=valid.iloc[picked].reset_index(drop=True),
            predictions=table.column("prediction").to_numpy(zero_copy_only=False)[picked],
            probabilities=proba,
        )
        # A job scores faster than a timed flush empties the buffer: write it out every
        # LOG_FLUSH_ROWS rows, so memory stays bounded and a crash loses few log rows.
        self.pending += len(picked)
        if self.pending >= LOG_FLUSH_ROWS:
            self.writer.flush()
            self.pending = 0

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def start_job(
    registry: Registry,
    spec: BatchSpec,
    model: str,
    *,
    actor: str | None = None,
    log_fraction: float = 1.0,
) -> tuple[Job, LoadedModel]:
    """Check the job (model, input and its columns, output) and record it as running;
    nothing is scored yet (:func:`execute` does that)."""
    if not 0 <= log_fraction <= 1:
        raise InvalidInputError(f"log_fraction must be between 0 and 1; got {log_fraction}")
    check_spec(spec)
    loaded = registry.load(registry.resolve(model).uri)  # pinned: a resume scores alike
    policy = ColumnPolicies.of(registry).protector(loaded.version.name)
    spec.column_policy = policy if policy else None
    files, kind = input_files(spec.input)
    check_columns(loaded, dataset_of(files, kind).schema, spec.id_column)
    check_output(spec, loaded, files)
    return Jobs(registry).start(spec, loaded, actor, log_fraction=log_fraction), loaded


def run_job(
    registry: Registry,
    spec: BatchSpec,
    model: str,
    *,
    actor: str | None = None,
    log_fraction: float = 1.0,
    progress: Progress | None = None,
) -> tuple[Job, BatchResult | None]:
    """Run a batch job here and now, recorded (see the module docs); returns its record
    and what it did. A failure or a cancellation is recorded, then raised."""
    _, loaded = start_job(registry, spec, model, actor=actor, log_fraction=log_fraction)
    return execute(registry, spec, loaded, log_fraction=log_fraction, progress=progress)


def execute(
    registry: Registry,
    spec: BatchSpec,
    loaded: LoadedModel,
    *,
    log_fraction: float = 1.0,
    progress: Progress | None = None,
) -> tuple[Job, BatchResult | None]:
    """Score a job :func:`start_job` recorded, keeping its record up to date."""
    jobs = Jobs(registry)
    last = [0.0]
    seen = [0]

    def tick(done: int, total: int) -> None:
        seen[0] = done
        # After every chunk: whether to stop (one small read); every UPDATE_S seconds
        # also the rows done. A job whose last chunk is written has finished.
        now = time.monotonic()
        if now - last[0] >= UPDATE_S:
            last[0] = now
            stop = jobs.progress(spec.job_id, done, total)
        else:
            stop = jobs.cancelling(spec.job_id)
        if stop and done < total:
            raise JobCancelled(f"cancelled after {done:,} rows")
        if progress is not None:
            progress(done, total)

    sink = None
    if log_fraction > 0:
        sink = functools.partial(BatchLog, str(registry.settings.predictions), log_fraction)
    result = None
    try:
        result = engine(spec.engine)(loaded, spec, tick, sink)
    except BaseException as exc:
        if result is None:  # what the chunks written so far hold
            with contextlib.suppress(OSError, pa.ArrowException):
                result = written(spec)
        if isinstance(exc, KeyboardInterrupt):
            # Ctrl-C may have stopped a statement mid-way: record on fresh connections.
            registry.db.dispose()
        job = jobs.finish(spec.job_id, result, exc, rows_done=seen[0])
        log.info("batch job %s %s: %s", spec.job_id, job.state, job.error)
        raise
    return jobs.finish(spec.job_id, result, None), result
