"""``/api/v1/schedules``: batch jobs on a cron schedule, run by the server's scheduler.

The REST twins of ``shipyard schedules create|list|show|update|pause|resume|delete|run``.
A bad cron expression, time zone, placeholder or option is refused (400) with the
service's own message, naming the field. Input and output are paths on the server's
machine; ``POST /schedules/{name}/run`` checks the run, records its job and scores it
on a thread of the server (202, like ``POST /jobs``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._deps import ActorDep, SchedulesDep
from shipyard.api.errors import responses
from shipyard.api.schemas import NO_NUL, no_nul
from shipyard.batch import Job
from shipyard.batch.engine import CHUNK_ROWS
from shipyard.batch.schedule_spec import Schedule
from shipyard.fields import parse_time

router = APIRouter(prefix="/schedules", tags=["batch"], responses=responses(400, 404, 422))

Name = Annotated[str, PathParam(description="Schedule name.", max_length=64, pattern=NO_NUL)]
Path = Annotated[str, Field(min_length=1, max_length=4096, pattern=NO_NUL)]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_column: Annotated[str, Field(max_length=256, pattern=NO_NUL)] | None = None
    """An input column copied to the output, to join results back."""
    chunk_rows: Annotated[int, Field(ge=1, le=10_000_000)] = CHUNK_ROWS
    rejects: Path | None = None
    """Where rejected rows go (placeholders allowed; default ``OUTPUT-rejects``)."""
    fail_on_reject: bool = False
    log_fraction: Annotated[float, Field(ge=0, le=1)] = 1.0
    """Share of the rows written to the prediction log."""
    format: Literal["parquet", "csv"] = "parquet"
    workers: Annotated[int, Field(ge=1, le=1024)] | None = None
    """Workers scoring at once (default: all the server's cores, or the Ray cluster's)."""
    engine: Literal["local", "ray"] = "local"
    ray_address: Annotated[str, Field(max_length=1024, pattern=NO_NUL)] | None = None
    """With ``engine`` ``ray``: the cluster to join (default: a local Ray)."""


class ScheduleCreate(_Options):
    """A batch job on a cron schedule, as ``shipyard schedules create`` takes it."""

    name: Annotated[str, Field(max_length=64, pattern=NO_NUL)]
    model: Annotated[str, Field(max_length=300, pattern=NO_NUL)]
    """``models:/NAME@ALIAS`` (resolved at each run) or ``models:/NAME/N``."""
    cron: Annotated[str, Field(max_length=256, pattern=NO_NUL)]
    """Five fields: minute hour day month weekday, e.g. ``0 2 * * *``."""
    timezone: Annotated[str, Field(max_length=64, pattern=NO_NUL)] = "UTC"
    input: Path
    """A file, a directory or a glob on the server's machine; ``{date}`` and ``{time}``
    are the scheduled day (``2026-11-27``) and time (``20261127T0200Z``)."""
    output: Path
    """A directory per run: with a placeholder, or ``OUTPUT/<job id>`` without one."""
    paused: bool = False


class ScheduleChange(BaseModel):
    """The fields to change (omitted ones stay; ``id_column`` or ``rejects`` set to
    ``null`` return to their default)."""

    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, Field(max_length=300, pattern=NO_NUL)] | None = None
    cron: Annotated[str, Field(max_length=256, pattern=NO_NUL)] | None = None
    timezone: Annotated[str, Field(max_length=64, pattern=NO_NUL)] | None = None
    input: Path | None = None
    output: Path | None = None
    id_column: Annotated[str, Field(max_length=256, pattern=NO_NUL)] | None = None
    chunk_rows: Annotated[int, Field(ge=1, le=10_000_000)] | None = None
    rejects: Path | None = None
    fail_on_reject: bool | None = None
    log_fraction: Annotated[float, Field(ge=0, le=1)] | None = None
    format: Literal["parquet", "csv"] | None = None
    workers: Annotated[int, Field(ge=1, le=1024)] | None = None
    engine: Literal["local", "ray"] | None = None
    ray_address: Annotated[str, Field(max_length=1024, pattern=NO_NUL)] | None = None
    paused: bool | None = None
    """``true`` pauses the schedule; ``false`` resumes it from the next cron time."""


@router.post(
    "",
    response_model=Schedule,
    status_code=201,
    summary="Create a batch schedule",
    responses=responses(409),
)
def create_schedule(body: ScheduleCreate, schedules: SchedulesDep, actor: ActorDep) -> Schedule:
    """A new schedule: its runs score ``input`` with the version ``model`` names at
    each run, at the times ``cron`` names, while the server runs."""
    no_nul(body, "the request body")
    options = body.model_dump(include=set(_Options.model_fields))
    return schedules.create(
        body.name,
        body.model,
        cron=body.cron,
        input=body.input,
        output=body.output,
        timezone=body.timezone,
        paused=body.paused,
        actor=actor,
        **options,
    )


@router.get("", response_model=list[Schedule], summary="List batch schedules")
def list_schedules(schedules: SchedulesDep) -> list[Schedule]:
    """Every schedule, by name, with its next run and how its last run stands."""
    return schedules.list()


@router.get("/{name}", response_model=Schedule, summary="Show a batch schedule")
def get_schedule(name: Name, schedules: SchedulesDep) -> Schedule:
    """The schedule's definition, its next run and how its last run stands."""
    return schedules.get(name)


@router.patch("/{name}", response_model=Schedule, summary="Change a batch schedule")
def update_schedule(
    name: Name, body: ScheduleChange, schedules: SchedulesDep, actor: ActorDep
) -> Schedule:
    """Change the fields given; a new ``cron`` or ``timezone``, or ``paused: false``,
    sets the next run to the next cron time from now (missed runs are not made up)."""
    no_nul(body, "the request body")
    return schedules.update(name, actor=actor, **body.model_dump(exclude_unset=True))


@router.delete("/{name}", response_model=Schedule, summary="Delete a batch schedule")
def delete_schedule(name: Name, schedules: SchedulesDep, actor: ActorDep) -> Schedule:
    """Remove the schedule (its runs' jobs and outputs stay); answers it as it was."""
    return schedules.delete(name, actor=actor)


@router.post(
    "/{name}/run",
    response_model=Job,
    status_code=202,
    summary="Run a batch schedule now",
    responses=responses(409),
)
def run_schedule(
    name: Name,
    schedules: SchedulesDep,
    at: Annotated[
        str | None,
        Query(
            max_length=64,
            description="The scheduled time to run (ISO 8601 with a zone), e.g. to resume "
            "a run that stopped; default: now, to the minute.",
        ),
    ] = None,
) -> Job:
    """Start a run now (paused or not) on a thread of the server; the answer is its job
    (``running``): follow it with ``GET /jobs/{id}``. 409 while another run goes on."""
    job, _ = schedules.run_now(name, at=parse_time(at, "at"), background=True)
    return job
