"""What a batch schedule holds, how it is checked when saved, and what each run scores.

A run of schedule ``nightly`` at 02:00 UTC on 2026-11-27 is the batch job
``nightly-20261127T0200Z`` (its id follows from the schedule and the scheduled time, so
running that time again resumes it). Its input and output are the schedule's with
``{date}`` and ``{time}`` filled in (see :mod:`shipyard.batch.cron`); an output without a
placeholder gets a directory per run, ``OUTPUT/<job id>``. Rejected rows go to
``--rejects`` (default ``OUTPUT-rejects``), per run in the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shipyard.batch.cron import parse_cron, placeholders, render, several_a_day, stamp, zone
from shipyard.batch.engine import CHUNK_ROWS, BatchSpec, check_spec
from shipyard.batch.jobs import State
from shipyard.errors import InvalidInputError, InvalidNameError
from shipyard.registry.names import validate_model_name
from shipyard.registry.uri import ModelURI

#: A run's job id is ``NAME-YYYYMMDDTHHMMZ``, and a job id is at most 64 characters.
NAME_MAX = 64 - len("-20261127T0200Z")
#: The batch options a schedule keeps, as ``shipyard batch score`` takes them.
OPTIONS = (
    "id_column",
    "chunk_rows",
    "rejects",
    "fail_on_reject",
    "log_fraction",
    "format",
    "workers",
    "engine",
    "ray_address",
)
DEFAULTS: dict[str, Any] = {
    "id_column": None,
    "chunk_rows": CHUNK_ROWS,
    "rejects": None,
    "fail_on_reject": False,
    "log_fraction": 1.0,
    "format": "parquet",
    "workers": None,
    "engine": "local",
    "ray_address": None,
}
#: What a schedule's definition holds (besides its name); ``update`` may change any.
FIELDS = ("model", "cron", "timezone", "input", "output", *OPTIONS, "paused")


class Schedule(BaseModel):
    """A batch job on a cron schedule, as stored, with how its last run stands."""

    model_config = ConfigDict(frozen=True)

    name: str
    model: str
    """``models:/NAME@ALIAS`` (resolved at each run) or ``models:/NAME/N``."""
    cron: str
    """Five fields: minute hour day month weekday."""
    timezone: str
    """The cron expression's and ``{date}``'s time zone (IANA name)."""
    input: str
    output: str
    options: dict[str, Any]
    """``id_column``, ``chunk_rows``, ``rejects``, ``fail_on_reject``, ``log_fraction``,
    ``format``, ``workers``, ``engine``, ``ray_address``: as ``shipyard batch score``
    takes them."""
    paused: bool
    next_run_at: datetime
    """When the next run is due (it may be in the past while the scheduler is not running)."""
    last_run_at: datetime | None
    """The scheduled time of the latest run started."""
    last_job_id: str | None
    last_job_state: State | None
    """The latest run's job state; ``None`` when it could not start (see ``last_error``)."""
    last_skipped_at: datetime | None
    """The scheduled time of the latest run skipped because the one before still ran."""
    last_error: str | None
    """Why the latest run failed, could not start or was skipped."""
    created_by: str
    created_at: datetime
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class ScheduledRun(BaseModel):
    """What the scheduler did with one due schedule."""

    model_config = ConfigDict(frozen=True)

    schedule: str
    at: datetime
    """The scheduled time."""
    job_id: str
    outcome: Literal["started", "skipped", "failed"]
    """``started``; ``skipped`` (the schedule's previous run still ran); ``failed`` (it
    could not start: see ``error``)."""
    error: str | None = None


def check_name(name: str) -> str:
    """A schedule name: as a model name, at most :data:`NAME_MAX` characters."""
    try:
        validate_model_name(name)
    except InvalidNameError as exc:
        message = exc.message.replace("model name", "schedule name")
        raise InvalidNameError(message.replace("fraud-detector", "nightly-scores")) from None
    if len(name) > NAME_MAX:
        raise InvalidNameError(
            f"schedule name {name!r} is {len(name)} characters long; the limit is {NAME_MAX} "
            "(a run's job id is NAME-YYYYMMDDTHHMMZ, at most 64 characters)"
        )
    return name


def check_model(model: str) -> str:
    """A reference a run resolves: ``models:/NAME@ALIAS``, ``models:/NAME/N`` or
    ``models:/NAME/latest``."""
    ModelURI.parse(model)
    return model


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The batch options, complete (defaults filled in) and checked, naming the option."""
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise InvalidInputError(
            f"unknown option(s) {', '.join(sorted(unknown))}; a schedule takes {', '.join(OPTIONS)}"
        )
    out = DEFAULTS | dict(options)
    fraction = out["log_fraction"]
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, int | float)
        or not 0 <= fraction <= 1
    ):
        raise InvalidInputError(f"log_fraction must be between 0 and 1; got {fraction!r}")
    out["log_fraction"] = float(fraction)
    if isinstance(out["chunk_rows"], bool) or not isinstance(out["chunk_rows"], int):
        raise InvalidInputError(f"--chunk-rows must be a whole number; got {out['chunk_rows']!r}")
    if out["id_column"] == "":
        out["id_column"] = None
    if out["rejects"] == "":
        out["rejects"] = None
    if out["ray_address"] == "":
        out["ray_address"] = None
    workers = out["workers"]
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
        raise InvalidInputError(f"--workers must be a whole number; got {workers!r}")
    check_spec(
        BatchSpec(
            input="",
            output=Path("."),
            chunk_rows=out["chunk_rows"],
            format=out["format"],
            job_id="check",
            workers=workers,
            engine=str(out["engine"]),
            ray_address=out["ray_address"],
        )
    )
    out["fail_on_reject"] = bool(out["fail_on_reject"])
    return out


def _absolute(path: str, field: str) -> None:
    if not Path(path).is_absolute():
        raise InvalidInputError(
            f"{field} {path!r} is relative; give an absolute path (the server runs "
            "schedules from its own working directory, not yours)"
        )


def check_definition(values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A schedule's definition (``model``, ``cron``, ``timezone``, ``input``, ``output``,
    ``options``), checked: the cron expression and time zone, the model reference, the
    placeholders of the paths, and the options. Returns it with the options complete."""
    trigger = parse_cron(values["cron"], values["timezone"])
    check_model(values["model"])
    if not str(values["input"]).strip():
        raise InvalidInputError("input is empty; give a file, a directory or a glob")
    if not str(values["output"]).strip():
        raise InvalidInputError("output is empty; give a directory")
    for field in ("input", "output"):
        _absolute(values[field], field)
    placeholders(values["input"], "input")
    named = placeholders(values["output"], "output")
    options = check_options(values["options"])
    if options["rejects"] is not None:
        _absolute(options["rejects"], "rejects")
    if options["rejects"] is not None:
        placeholders(options["rejects"], "rejects")
    if named == {"date"} and several_a_day(trigger, zone(values["timezone"]), now):
        raise InvalidInputError(
            f"output {values['output']!r} names one directory a day ({{date}}), but cron "
            f"{values['cron']!r} runs several times a day; add {{time}} to the output"
        )
    return {**values, "options": options}


@dataclass(frozen=True)
class RunPlan:
    """What one run of a schedule scores, and where its results go."""

    job_id: str
    spec: BatchSpec
    log_fraction: float


def plan(schedule: Schedule, at: datetime) -> RunPlan:
    """The batch job of ``schedule``'s run at ``at`` (see the module docs)."""
    job_id = f"{schedule.name}-{stamp(at)}"
    where = zone(schedule.timezone)
    options = schedule.options

    def directory(template: str) -> Path:
        rendered = Path(render(template, at, where))
        return rendered if placeholders(template, "output") else rendered / job_id

    rejects = options.get("rejects") or f"{schedule.output}-rejects"
    spec = BatchSpec(
        input=render(schedule.input, at, where),
        output=directory(schedule.output),
        id_column=options.get("id_column"),
        chunk_rows=int(options.get("chunk_rows") or CHUNK_ROWS),
        rejects=directory(rejects),
        fail_on_reject=bool(options.get("fail_on_reject")),
        job_id=job_id,
        format=str(options.get("format") or "parquet"),
        workers=options.get("workers"),
        engine=str(options.get("engine") or "local"),
        ray_address=options.get("ray_address"),
    )
    return RunPlan(job_id, spec, float(options.get("log_fraction", 1.0)))
