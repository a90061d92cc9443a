"""``shipyard schedules``: batch jobs on a cron schedule, run by ``shipyard server``."""

from __future__ import annotations

import os
from typing import Any

import typer
from rich.table import Table

from shipyard.batch.engine import BatchResult
from shipyard.batch.jobs import Job
from shipyard.batch.schedule_spec import Schedule
from shipyard.batch.schedules import Schedules
from shipyard.cli._common import console, print_json, registry, when
from shipyard.cli.batch import (
    CHUNK_ROWS_OPTION,
    ENGINE,
    FAIL_ON_REJECT,
    FORMAT,
    ID_COLUMN,
    LOG_FRACTION,
    RAY_ADDRESS,
    REJECTS,
    WORKERS,
    print_result,
    progress_shown,
)
from shipyard.errors import InvalidInputError
from shipyard.fields import parse_time

app = typer.Typer(
    help="Batch schedules: batch jobs on a cron schedule, each run an ordinary batch job "
    "(shipyard jobs list), run by shipyard server.",
    no_args_is_help=True,
)
_JSON = typer.Option(False, "--json", help="Print JSON.")
_NAME = typer.Argument(..., help="Schedule name.")
_PLACES = "{date} (YYYY-MM-DD) and {time} (YYYYMMDDTHHMMZ) are the run's scheduled time."


def service() -> Schedules:
    """Schedules on the store the current settings name."""
    current = registry()
    return Schedules(current, max_runs=current.settings.schedule_max_runs)


def _last(schedule: Schedule) -> str:
    if schedule.last_job_id is None:
        return "never run"
    state = schedule.last_job_state or "not started"
    return f"{schedule.last_job_id} {state}"


def _print(schedule: Schedule) -> None:
    paused = " (paused)" if schedule.paused else ""
    console.print(
        f"schedule {schedule.name}{paused}: {schedule.model}, cron '{schedule.cron}' "
        f"{schedule.timezone}"
    )
    console.print(f"  {schedule.input} -> {schedule.output}")
    shown = ", ".join(f"{k}={v}" for k, v in schedule.options.items() if v is not None)
    console.print(f"  options {shown}")
    upcoming = "none (paused)" if schedule.paused else f"{when(schedule.next_run_at)} UTC"
    console.print(f"  next run {upcoming}; last run {_last(schedule)}")
    if schedule.last_skipped_at is not None:
        console.print(f"  last skipped {when(schedule.last_skipped_at)} UTC")
    if schedule.last_error:
        console.print(f"  last error: {schedule.last_error}")
    console.print(f"  created {when(schedule.created_at)} by {schedule.created_by}")


def _options(**given: Any) -> dict[str, Any]:
    """The options given on the command line (``None``: not given); paths made absolute
    from here, since the server runs the schedule from its own directory."""
    found = {k: v for k, v in given.items() if v is not None}
    for key in ("input", "output", "rejects"):
        if found.get(key):
            found[key] = os.path.abspath(found[key])
    return found


@app.command()
def create(
    name: str = _NAME,
    model: str = typer.Argument(
        ..., help="models:/NAME@ALIAS (resolved at each run) or models:/NAME/N."
    ),
    cron: str = typer.Option(
        ..., "--cron", help="Five fields: minute hour day month weekday, e.g. '0 2 * * *'."
    ),
    input: str = typer.Option(
        ..., "--input", help=f"A .parquet or .csv file, a directory or a glob; {_PLACES}"
    ),
    output: str = typer.Option(
        ...,
        "--output",
        help="A directory per run: with a placeholder, else OUTPUT/<job id>.",
    ),
    timezone: str = typer.Option("UTC", "--timezone", help="The cron's time zone (IANA name)."),
    id_column: str = ID_COLUMN,
    chunk_rows: int = CHUNK_ROWS_OPTION,
    rejects: str = REJECTS,
    fail_on_reject: bool = FAIL_ON_REJECT,
    output_format: str = FORMAT,
    log_fraction: float = LOG_FRACTION,
    workers: int = WORKERS,
    engine: str = ENGINE,
    ray_address: str = RAY_ADDRESS,
    paused: bool = typer.Option(False, "--paused", help="Create it paused."),
    as_json: bool = _JSON,
) -> None:
    """Run MODEL over --input into --output at the times --cron names."""
    schedule = service().create(
        name,
        model,
        cron=cron,
        timezone=timezone,
        paused=paused,
        **_options(
            input=input,
            output=output,
            id_column=id_column,
            chunk_rows=chunk_rows,
            rejects=rejects,
            fail_on_reject=fail_on_reject,
            format=output_format,
            log_fraction=log_fraction,
            workers=workers,
            engine=engine,
            ray_address=ray_address,
        ),
    )
    if as_json:
        print_json(schedule.to_dict())
        return
    console.print(f"created schedule {name}: next run {when(schedule.next_run_at)} UTC")


@app.command("list")
def list_schedules(as_json: bool = _JSON) -> None:
    """Every schedule: its cron, next run and last run."""
    found = service().list()
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    if not found:
        console.print(
            "no batch schedules yet; create one with: shipyard schedules create NAME MODEL "
            "--cron '0 2 * * *' --input ... --output ..."
        )
        return
    table = Table(title=f"{len(found)} schedule{'' if len(found) == 1 else 's'}")
    for column in ("name", "model", "cron", "next run (UTC)", "last run", "state"):
        table.add_column(column)
    for s in found:
        cron = f"{s.cron} {s.timezone}" if s.timezone != "UTC" else s.cron
        state = s.last_job_state or ("not started" if s.last_job_id else "")
        table.add_row(
            s.name + (" (paused)" if s.paused else ""),
            s.model,
            cron,
            "" if s.paused else when(s.next_run_at),
            s.last_job_id or "never",
            state,
        )
    console.print(table)


@app.command()
def show(name: str = _NAME, as_json: bool = _JSON) -> None:
    """A schedule: its definition, next run and last run (and why it failed or was skipped)."""
    schedule = service().get(name)
    if as_json:
        print_json(schedule.to_dict())
    else:
        _print(schedule)


@app.command()
def update(
    name: str = _NAME,
    model: str = typer.Option(None, "--model", help="models:/NAME@ALIAS or models:/NAME/N."),
    cron: str = typer.Option(None, "--cron", help="A new cron expression."),
    timezone: str = typer.Option(None, "--timezone", help="A new time zone (IANA name)."),
    input: str = typer.Option(None, "--input", help=f"A new input; {_PLACES}"),
    output: str = typer.Option(None, "--output", help="A new output."),
    id_column: str = typer.Option(None, "--id-column", help="An id column ('' for none)."),
    chunk_rows: int = typer.Option(None, "--chunk-rows", help="Rows per chunk."),
    rejects: str = typer.Option(None, "--rejects", help="Where rejects go ('' for the default)."),
    fail_on_reject: bool = typer.Option(
        None, "--fail-on-reject/--keep-on-reject", help="Stop a run at a bad row, or not."
    ),
    output_format: str = typer.Option(None, "--format", help="parquet or csv."),
    log_fraction: float = typer.Option(None, "--log-fraction", help="0 to 1."),
    workers: int = typer.Option(None, "--workers", help="Workers scoring at once."),
    engine: str = typer.Option(None, "--engine", help="local or ray."),
    ray_address: str = typer.Option(
        None, "--ray-address", help="The Ray cluster to join ('' for a local Ray)."
    ),
    as_json: bool = _JSON,
) -> None:
    """Change the options given; a new --cron or --timezone counts from now."""
    changes = _options(
        model=model,
        cron=cron,
        timezone=timezone,
        input=input,
        output=output,
        id_column=id_column,
        chunk_rows=chunk_rows,
        rejects=rejects,
        fail_on_reject=fail_on_reject,
        format=output_format,
        log_fraction=log_fraction,
        workers=workers,
        engine=engine,
        ray_address=ray_address,
    )
    for key in ("id_column", "rejects", "ray_address"):
        if changes.get(key) == "":
            changes[key] = None
    if not changes:
        raise InvalidInputError(
            f"nothing to change; give the options to change, e.g. shipyard schedules update "
            f"{name} --cron '30 3 * * *' (see --help)"
        )
    schedule = service().update(name, **changes)
    if as_json:
        print_json(schedule.to_dict())
    else:
        _print(schedule)


@app.command()
def pause(name: str = _NAME) -> None:
    """Stop starting runs (a run going on goes on)."""
    service().pause(name)
    console.print(f"schedule {name} is paused; resume it with: shipyard schedules resume {name}")


@app.command()
def resume(name: str = _NAME) -> None:
    """Start runs again from the next cron time (runs missed while paused are not made up)."""
    schedule = service().resume(name)
    console.print(f"schedule {name} resumed: next run {when(schedule.next_run_at)} UTC")


@app.command()
def delete(name: str = _NAME) -> None:
    """Remove the schedule; its runs' jobs and outputs stay."""
    service().delete(name)
    console.print(f"deleted schedule {name}")


@app.command()
def run(
    name: str = _NAME,
    at: str = typer.Option(
        None,
        "--at",
        help="The scheduled time to run, e.g. 2026-11-27T02:00Z, to resume that run "
        "(default: now, to the minute).",
    ),
    as_json: bool = _JSON,
) -> None:
    """Run the schedule here and now (paused or not), as an ordinary batch job."""
    service_ = service()
    when_ = parse_time(at, "--at")
    with progress_shown(f"schedule {name}", {"schedule": name}, quiet=as_json) as shown:
        job, result = service_.run_now(name, at=when_, progress=shown)
    _report(job, result, as_json)


def _report(job: Job, result: BatchResult | None, as_json: bool) -> None:
    if as_json:
        print_json(job.to_dict() | {"result": None if result is None else result.to_dict()})
        return
    assert result is not None
    print_result(result, f"job {job.id} ({job.model})")
