"""``/api/v1/jobs``: batch scoring jobs started, listed, shown and cancelled through the
server. The REST twins of ``shipyard batch score`` and ``shipyard jobs list|show|cancel``.

A job started here is checked (model, input and its columns, output) before the answer,
then scored on a thread of the server; its record shows how far it got. Input and output
are paths on the server's machine. A job that was running when the server stopped stays
``running`` in its record; start it again with the same ``job_id`` to finish it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._deps import ActorDep, registry
from shipyard.api.errors import responses
from shipyard.api.schemas import NO_NUL, no_nul
from shipyard.batch import BatchSpec, Job, JobCancelled, Jobs
from shipyard.batch.engine import CHUNK_ROWS, JOB_ID
from shipyard.batch.jobs import execute, start_job
from shipyard.errors import ShipyardError
from shipyard.registry import Registry

router = APIRouter(prefix="/jobs", tags=["batch"], responses=responses(400, 404, 422))
log = logging.getLogger("shipyard.batch")

JobId = Annotated[str, PathParam(description="Job id.", max_length=64, pattern=NO_NUL)]


class JobCreate(BaseModel):
    """A batch scoring job, as ``shipyard batch score`` takes it."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, Field(max_length=300)]
    """``models:/NAME@ALIAS`` or ``models:/NAME/N`` (pinned when the job starts)."""
    input: Annotated[str, Field(max_length=4096)]
    """A Parquet or CSV file, a directory of them, or a glob, on the server's machine."""
    output: Annotated[str, Field(max_length=4096)]
    """A new directory on the server's machine."""
    id_column: Annotated[str, Field(max_length=256)] | None = None
    chunk_rows: Annotated[int, Field(ge=1, le=10_000_000)] = CHUNK_ROWS
    rejects: Annotated[str, Field(max_length=4096)] | None = None
    fail_on_reject: bool = False
    job_id: Annotated[str, Field(pattern=JOB_ID)] | None = None
    """Resume this job (its chunks already written are not scored again)."""
    log_fraction: Annotated[float, Field(ge=0, le=1)] = 1.0
    """Share of the rows written to the prediction log."""
    format: Literal["parquet", "csv"] = "parquet"
    """How the output parts are written."""
    workers: Annotated[int, Field(ge=1, le=1024)] | None = None
    """Workers scoring at once (default: all the server's cores, or the Ray cluster's)."""
    engine: Literal["local", "ray"] = "local"
    """``local`` (the server's machine) or ``ray`` (a Ray cluster; ``shipyard[ray]``)."""
    ray_address: Annotated[str, Field(max_length=1024)] | None = None
    """With ``engine`` ``ray``: the cluster to join (default: a local Ray)."""


def _run(registry: Registry, spec: BatchSpec, loaded: object, fraction: float) -> None:
    try:
        execute(registry, spec, loaded, log_fraction=fraction)  # type: ignore[arg-type]
    except JobCancelled as stop:  # asked for: no error
        log.info("batch job %s %s", spec.job_id, stop)
    except ShipyardError as exc:  # the job's own failure, recorded in it
        log.warning("batch job %s failed: %s", spec.job_id, exc)
    except Exception:  # recorded in the job; the server goes on
        log.exception("batch job %s stopped", spec.job_id)


RegistryDep = Annotated[Registry, Depends(registry)]


@router.post(
    "",
    response_model=Job,
    status_code=202,
    summary="Start a batch scoring job",
    responses=responses(409),
)
def start(body: JobCreate, actor: ActorDep, store: RegistryDep) -> Job:
    """Check the job and start scoring it on the server; the answer is its record
    (``running``). Follow it with ``GET /jobs/{id}``."""
    no_nul(body, "the request body")
    spec = BatchSpec(
        input=body.input,
        output=Path(body.output),
        id_column=body.id_column,
        chunk_rows=body.chunk_rows,
        rejects=None if body.rejects is None else Path(body.rejects),
        fail_on_reject=body.fail_on_reject,
        format=body.format,
        workers=body.workers,
        engine=body.engine,
        ray_address=body.ray_address,
    )
    if body.job_id:
        spec.job_id = body.job_id
    job, loaded = start_job(store, spec, body.model, actor=actor, log_fraction=body.log_fraction)
    threading.Thread(
        target=_run,
        args=(store, spec, loaded, body.log_fraction),
        name=f"batch-{spec.job_id}",
        daemon=True,
    ).start()
    return job


@router.get("", response_model=list[Job], summary="List batch jobs")
def list_jobs(
    store: RegistryDep,
    state: Annotated[
        Literal["running", "succeeded", "failed", "cancelling", "cancelled"] | None, Query()
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[Job]:
    """Jobs, newest first (only those in ``state`` when given)."""
    return Jobs(store).list(state, limit=limit)


@router.get("/{job_id}", response_model=Job, summary="Show a batch job")
def get_job(job_id: JobId, store: RegistryDep) -> Job:
    """The job's record: model, input, output, state, rows, duration, error, who."""
    return Jobs(store).get(job_id)


@router.post(
    "/{job_id}/cancel",
    response_model=Job,
    summary="Cancel a running batch job",
    responses=responses(409),
)
def cancel(job_id: JobId, store: RegistryDep) -> Job:
    """Ask the job to stop after its current chunk (``cancelling``, then ``cancelled``);
    start it again with the same ``job_id`` to finish it."""
    return Jobs(store).cancel(job_id)
