"""``shipyard feedback``: load ground truth, joined to the prediction log by request id."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import typer

from shipyard.cli._common import console, print_json
from shipyard.config import Settings
from shipyard.errors import InvalidInputError
from shipyard.predictions import FeedbackReceipt, FeedbackStore

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Feedback: ground truth that arrives later, joined to predictions by request id.",
    no_args_is_help=True,
)


def read_table(path: Path, id_column: str) -> pd.DataFrame:
    """A CSV or Parquet file as a frame, request ids read as text."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InvalidInputError(f"{path} is not a file; give the path of a .csv or .parquet file")
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype={id_column: str})
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError) as exc:
        raise InvalidInputError(f"could not read {path}: {exc}; check that it is valid") from exc
    raise InvalidInputError(f"{path}: unknown file type {suffix!r}; give a .csv or .parquet file")


def _print(receipt: FeedbackReceipt) -> None:
    console.print(f"{receipt.source}: {receipt.received} rows read, {receipt.stored} labels stored")
    lines: list[tuple[str, int, str | None]] = []
    if receipt.matched is not None and receipt.unmatched is not None:
        lines.append(("matched to logged predictions", receipt.matched, None))
        lines.append(
            (
                "unmatched (kept; matched once their predictions are logged)",
                receipt.unmatched,
                "unmatched",
            )
        )
    lines += [
        ("replaced labels stored earlier", receipt.replaced, "replaced"),
        ("duplicates in this file (the last one kept)", receipt.duplicates, "duplicates"),
    ]
    reasons = ", ".join(f"{n} {why}" for why, n in receipt.rejected_reasons.items())
    rejected = "rejected, not stored" + (f" ({reasons})" if reasons else "")
    lines.append((rejected, receipt.rejected, "rejected"))
    for text, count, kind in lines:
        examples: list[str] = receipt.examples.get(kind, []) if kind and count else []
        tail = f"  e.g. {', '.join(examples)}" if examples else ""
        console.print(f"  {count:>8}  {text}{tail}")
    if receipt.rejected:
        console.print(
            "fix the rejected rows (each needs a request id, a label and, if given, a row "
            "number from 0) and load them again"
        )


@app.command()
def load(
    file: Path = typer.Argument(..., help="A .csv or .parquet file of labels."),
    id_column: str = typer.Option(
        "request_id", "--id-column", help="Column holding the request id."
    ),
    label_column: str = typer.Option("label", "--label-column", help="Column holding the label."),
    row_column: str = typer.Option(
        None,
        "--row-column",
        help="Column holding the row within a multi-row request (default: every label "
        "belongs to row 0, a single-row request).",
    ),
    source: str = typer.Option(None, "--source", help="Recorded with each label (default: FILE)."),
    as_json: bool = typer.Option(False, "--json", help="Print the receipt as JSON."),
) -> None:
    """Store labels from FILE and report what was matched, replaced and rejected."""
    frame = read_table(file, id_column)
    store = FeedbackStore.from_settings(Settings())
    receipt = store.add(
        frame,
        id_column=id_column,
        label_column=label_column,
        row_column=row_column,
        source=source or file.name,
    )
    if as_json:
        print_json(receipt.to_dict())
    else:
        _print(receipt)
    if receipt.received and not receipt.stored:
        typer.echo(f"error: nothing stored: every row of {file} was rejected", err=True)
        raise typer.Exit(1)
