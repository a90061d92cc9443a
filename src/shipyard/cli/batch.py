"""``shipyard batch score``: score a file, a directory or a glob of files offline."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from shipyard.batch import BatchResult, BatchSpec, JobCancelled, Jobs
from shipyard.batch.engine import CHUNK_ROWS
from shipyard.batch.engine import Progress as OnProgress
from shipyard.batch.jobs import execute, start_job
from shipyard.cli._common import console, print_json, registry, when

app = typer.Typer(
    help="Offline (batch) scoring: any size of Parquet or CSV input, in chunks, resumable.",
    no_args_is_help=True,
)
log = logging.getLogger("shipyard.batch")


# The options a batch job takes, shared with ``shipyard schedules create``.
ID_COLUMN = typer.Option(
    None, "--id-column", help="An input column copied to the output, to join results."
)
CHUNK_ROWS_OPTION = typer.Option(CHUNK_ROWS, "--chunk-rows", help="Rows per chunk.")
REJECTS = typer.Option(
    None, "--rejects", help="Where rows that break the signature go (default OUTPUT-rejects)."
)
FAIL_ON_REJECT = typer.Option(
    False, "--fail-on-reject", help="Stop at the first row that breaks the signature."
)
FORMAT = typer.Option(
    "parquet", "--format", help="parquet (default) or csv: how the output parts are written."
)
LOG_FRACTION = typer.Option(
    1.0, "--log-fraction", help="Share of the rows written to the prediction log (0 to 1)."
)
WORKERS = typer.Option(
    None, "--workers", help="Workers scoring at once (default: all cores, or Ray's CPUs)."
)
ENGINE = typer.Option(
    "local", "--engine", help="local (this machine) or ray (a Ray cluster: shipyard[ray])."
)
RAY_ADDRESS = typer.Option(
    None, "--ray-address", help="With --engine ray: the cluster to join (default: a local Ray)."
)


@app.command()
def score(
    model: str = typer.Argument(..., help="The version: models:/NAME@ALIAS or models:/NAME/N."),
    input: str = typer.Option(
        ..., "--input", help="A .parquet or .csv file, a directory of them, or a glob."
    ),
    output: Path = typer.Option(
        ..., "--output", help="A new directory: one file per chunk (a dataset), and _SUCCESS."
    ),
    id_column: str = ID_COLUMN,
    chunk_rows: int = CHUNK_ROWS_OPTION,
    rejects: Path = REJECTS,
    fail_on_reject: bool = FAIL_ON_REJECT,
    job_id: str = typer.Option(
        None, "--job-id", help="Resume this job: chunks already written are not scored again."
    ),
    output_format: str = FORMAT,
    log_fraction: float = LOG_FRACTION,
    workers: int = WORKERS,
    engine: str = ENGINE,
    ray_address: str = RAY_ADDRESS,
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Score INPUT with MODEL into OUTPUT, chunk by chunk with bounded memory, on all
    cores; run it again with the same --job-id to finish an interrupted job."""
    spec = BatchSpec(
        input=input,
        output=output,
        id_column=id_column,
        chunk_rows=chunk_rows,
        rejects=rejects,
        fail_on_reject=fail_on_reject,
        format=output_format,
        workers=workers,
        engine=engine,
        ray_address=ray_address,
    )
    if job_id:
        spec.job_id = job_id
    store = registry()
    _, loaded = start_job(store, spec, model, log_fraction=log_fraction)  # checked first
    # On stderr, so a script reading --json still learns the id of a job it must resume.
    typer.echo(f"job {spec.job_id}: scoring {input} into {output}", err=True)
    done = [0]
    with progress_shown(f"job {spec.job_id}", {"job": spec.job_id}, quiet=as_json) as shown:

        def counted(rows: int, total: int) -> None:
            done[0] = rows
            shown(rows, total)

        try:
            _, result = execute(store, spec, loaded, log_fraction=log_fraction, progress=counted)
        except (KeyboardInterrupt, JobCancelled) as stop:
            how = "cancelled" if isinstance(stop, JobCancelled) else "interrupted"
            typer.echo(
                f"error: job {spec.job_id} {how} after {done[0]:,} rows; the chunks written "
                f"stay: finish it with the same command and --job-id {spec.job_id}",
                err=True,
            )
            raise typer.Exit(130 if how == "interrupted" else 1) from None
    assert result is not None
    if as_json:
        print_json(result.to_dict())
    else:
        print_result(result, f"job {result.job_id}")
    if result.rows_in and not result.rows_out:
        typer.echo(
            f"error: no row was scored: all {result.rows_in:,} broke the signature; their "
            f"reasons are in {result.rejects}",
            err=True,
        )
        raise typer.Exit(1)


class _RateColumn(ProgressColumn):
    """Rows per second so far."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} rows/s", style="progress.data.speed")


@contextlib.contextmanager
def progress_shown(
    label: str, fields: dict[str, str], *, quiet: bool = False
) -> Iterator[OnProgress]:
    """What a batch run reports its progress to: a bar (rows, rows/s, elapsed, time
    remaining) on a terminal, else a ``batch progress`` log line every 10 s (with
    ``fields``) and at the end; nothing but the log with ``quiet``."""
    if sys.stderr.isatty() and not quiet:
        with Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            _RateColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console.__class__(stderr=True),
        ) as bar:
            task = bar.add_task("score", total=None)

            def shown(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            yield shown
        return
    last = [0.0]

    def logged(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 10 or done == total:
            last[0] = now
            log.info("batch progress", extra={**fields, "rows": done, "of": total})

    yield logged


def print_result(result: BatchResult, heading: str) -> None:
    """What a batch run did, in a few lines."""
    rate = result.rows_in / result.seconds if result.seconds else 0.0
    console.print(
        f"{heading}: {result.rows_in:,} rows in, {result.rows_out:,} scored, "
        f"{result.rejected:,} rejected, in {result.seconds:.1f} s ({rate:,.0f} rows/s); "
        f"output {result.output}"
    )
    if result.chunks_skipped:
        console.print(f"  {result.chunks_skipped} of {result.chunks} chunks were done already")
    if result.rejected:
        by = ", ".join(f"{n:,} on {c}" for c, n in sorted(result.reasons.items()))
        console.print(f"  rejected rows ({by}) with their reasons: {result.rejects}")


jobs_app = typer.Typer(help="Batch jobs: list, show and cancel.", no_args_is_help=True)


@jobs_app.command("list")
def list_jobs(
    state: str = typer.Option(
        None, "--state", help="running, succeeded, failed, cancelling or cancelled."
    ),
    limit: int = typer.Option(100, "--limit", min=1, help="At most the latest N."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Batch jobs, newest first."""
    found = Jobs(registry()).list(state, limit=limit)
    if as_json:
        print_json([j.to_dict() for j in found])
        return
    if not found:
        if state is not None:
            console.print(f"no {state} batch jobs; all of them: shipyard jobs list")
            return
        console.print("no batch jobs yet; start one with: shipyard batch score MODEL --input ...")
        return
    table = Table(title=f"{len(found)} job{'' if len(found) == 1 else 's'}")
    for name in ("id", "state", "model", "rows in", "scored", "rejected", "seconds", "by"):
        table.add_column(name, justify="right" if name[0] in "rsb" and name != "by" else "left")
    for j in found:
        seconds = "" if j.duration_s is None else f"{j.duration_s:.1f}"
        table.add_row(
            j.id, j.state, j.model, f"{j.rows_in:,}", f"{j.rows_out:,}",
            f"{j.rows_rejected:,}", seconds, j.created_by,
        )  # fmt: skip
    console.print(table)


@jobs_app.command()
def show(
    job_id: str = typer.Argument(..., help="Job id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A job's record: model, input, output, state, rows, duration, error, who."""
    job = Jobs(registry()).get(job_id)
    if as_json:
        print_json(job.to_dict())
        return
    total = "?" if job.rows_total is None else f"{job.rows_total:,}"
    console.print(f"job {job.id} {job.state}: {job.model}, {job.input} -> {job.output}")
    console.print(
        f"  rows {job.rows_in:,} of {total} read, {job.rows_out:,} scored, "
        f"{job.rows_rejected:,} rejected"
    )
    ended = f", ended {when(job.finished_at)} ({job.duration_s:.1f} s)" if job.finished_at else ""
    console.print(f"  started {when(job.started_at)} by {job.created_by}{ended}")
    if job.error:
        console.print(f"  error: {job.error}")


@jobs_app.command()
def cancel(job_id: str = typer.Argument(..., help="Job id.")) -> None:
    """Ask a running job to stop after its current chunk (resume it with --job-id)."""
    job = Jobs(registry()).cancel(job_id)
    console.print(f"job {job.id} is cancelling; it stops after its current chunk")
