"""``shipyard batch score``: score a file, a directory or a glob of files offline."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from shipyard.batch import BatchSpec, run_local
from shipyard.batch.engine import CHUNK_ROWS
from shipyard.cli._common import console, print_json, registry

app = typer.Typer(
    help="Offline (batch) scoring: any size of Parquet or CSV input, in chunks, resumable.",
    no_args_is_help=True,
)
log = logging.getLogger("shipyard.batch")


@app.command()
def score(
    model: str = typer.Argument(..., help="The version: models:/NAME@ALIAS or models:/NAME/N."),
    input: str = typer.Option(
        ..., "--input", help="A .parquet or .csv file, a directory of them, or a glob."
    ),
    output: Path = typer.Option(
        ..., "--output", help="A new directory: one Parquet file per chunk (a dataset)."
    ),
    id_column: str = typer.Option(
        None, "--id-column", help="An input column copied to the output, to join results."
    ),
    chunk_rows: int = typer.Option(CHUNK_ROWS, "--chunk-rows", help="Rows per chunk."),
    rejects: Path = typer.Option(
        None, "--rejects", help="Where rows that break the signature go (default OUTPUT-rejects)."
    ),
    fail_on_reject: bool = typer.Option(
        False, "--fail-on-reject", help="Stop the job at the first row that breaks the signature."
    ),
    job_id: str = typer.Option(
        None, "--job-id", help="Resume this job: chunks already written are not scored again."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Score INPUT with MODEL into OUTPUT, chunk by chunk with bounded memory; run it
    again with the same --job-id to finish an interrupted job."""
    loaded = registry().load(model)
    spec = BatchSpec(
        input=input,
        output=output,
        id_column=id_column,
        chunk_rows=chunk_rows,
        rejects=rejects,
        fail_on_reject=fail_on_reject,
    )
    if job_id:
        spec.job_id = job_id
    if sys.stderr.isatty() and not as_json:
        with Progress(
            TextColumn(f"job {spec.job_id}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console.__class__(stderr=True),
        ) as bar:
            task = bar.add_task("score", total=None)

            def shown(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = run_local(loaded, spec, shown)
    else:
        last = [0.0]

        def logged(done: int, total: int) -> None:
            now = time.monotonic()
            if now - last[0] >= 10 or done == total:
                last[0] = now
                log.info("batch progress", extra={"job": spec.job_id, "rows": done, "of": total})

        result = run_local(loaded, spec, logged)
    if as_json:
        print_json(result.to_dict())
        return
    rate = result.rows_in / result.seconds if result.seconds else 0.0
    console.print(
        f"job {result.job_id}: {result.rows_in:,} rows in, {result.rows_out:,} scored, "
        f"{result.rejected:,} rejected, in {result.seconds:.1f} s ({rate:,.0f} rows/s); "
        f"output {result.output}"
    )
    if result.chunks_skipped:
        console.print(f"  {result.chunks_skipped} of {result.chunks} chunks were done already")
    if result.rejected:
        by = ", ".join(f"{n:,} on {c}" for c, n in sorted(result.reasons.items()))
        console.print(f"  rejected rows ({by}) with their reasons: {result.rejects}")
