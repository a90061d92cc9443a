"""``shipyard policy``: column policies of models and endpoints, and their keys."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import typer
from rich.table import Table

from shipyard.cli._common import console, print_json, registry, when
from shipyard.errors import InvalidInputError
from shipyard.protection import Keyring, Protector, generate_key, reveal
from shipyard.protection.service import ColumnPolicies, ColumnPolicy

app = typer.Typer(
    help="Column policies: drop, hash, encrypt or mask sensitive input columns before "
    "anything is written.",
    no_args_is_help=True,
)
_JSON = typer.Option(False, "--json", help="Print JSON.")
_MODEL = typer.Option(None, "--model", help="The model (every version, endpoint and job).")
_ENDPOINT = typer.Option(None, "--endpoint", help="The endpoint (adds to its models' policy).")


def service() -> ColumnPolicies:
    return ColumnPolicies.of(registry())


def _target(model: str | None, endpoint: str | None) -> tuple[str, str]:
    if (model is None) == (endpoint is None):
        raise InvalidInputError("give --model NAME or --endpoint NAME (one of them)")
    return ("model", model) if model is not None else ("endpoint", endpoint)  # type: ignore[return-value]


def _show(policy: ColumnPolicy) -> None:
    table = Table(title=f"column policy of {policy.target_kind} {policy.target}")
    table.add_column("column")
    table.add_column("action")
    for column, action in sorted(policy.columns.items()):
        table.add_row(column, action)
    console.print(table)
    console.print(f"set by {policy.updated_by} at {when(policy.updated_at)}")


@app.command("set")
def set_(
    columns: list[str] = typer.Argument(
        ..., help="COLUMN=ACTION pairs, ACTION one of drop, hash, encrypt, mask."
    ),
    model: str = _MODEL,
    endpoint: str = _ENDPOINT,
    as_json: bool = _JSON,
) -> None:
    """Make COLUMN=ACTION pairs the whole column policy of a model or an endpoint (e.g.
    `shipyard policy set --model fraud ssn=encrypt email=hash`); it applies to what is
    written from then on."""
    kind, name = _target(model, endpoint)
    policy = service().set(kind, name, columns)
    if as_json:
        print_json(policy.model_dump(mode="json"))
        return
    _show(policy)


@app.command()
def show(model: str = _MODEL, endpoint: str = _ENDPOINT, as_json: bool = _JSON) -> None:
    """The column policy of a model or an endpoint."""
    kind, name = _target(model, endpoint)
    policy = service().get(kind, name)
    if as_json:
        print_json(policy.model_dump(mode="json"))
        return
    _show(policy)


@app.command("list")
def list_(as_json: bool = _JSON) -> None:
    """Every column policy."""
    found = service().list()
    if as_json:
        print_json([p.model_dump(mode="json") for p in found])
        return
    if not found:
        console.print(
            "no column policies; set one with: shipyard policy set --model NAME ssn=encrypt"
        )
        return
    table = Table(title="column policies")
    for heading in ("kind", "name", "columns", "set by", "at"):
        table.add_column(heading)
    for p in found:
        columns = ", ".join(f"{c}={a}" for c, a in sorted(p.columns.items()))
        table.add_row(p.target_kind, p.target, columns, p.updated_by, when(p.updated_at))
    console.print(table)


@app.command()
def remove(
    columns: list[str] = typer.Argument(None, help="Only these columns (default: all)."),
    model: str = _MODEL,
    endpoint: str = _ENDPOINT,
    as_json: bool = _JSON,
) -> None:
    """Remove a column policy, or some of its columns: they are written in the clear
    from then on."""
    kind, name = _target(model, endpoint)
    left = service().remove(kind, name, columns or [])
    if as_json:
        print_json(None if left is None else left.model_dump(mode="json"))
        return
    if left is None:
        console.print(f"{kind} {name} has no column policy any more")
    else:
        _show(left)


@app.command()
def keygen() -> None:
    """Print a new random key for SHIPYARD_COLUMN_KEYS or SHIPYARD_COLUMN_HASH_KEY."""
    typer.echo(generate_key())


@app.command("hash")
def hash_(value: str = typer.Argument(..., help="A value, as text.")) -> None:
    """The hash a `hash` action writes for VALUE (with SHIPYARD_COLUMN_HASH_KEY), to
    look a known value up in the log, an output or feedback."""
    typer.echo(Protector({"_": "hash"}, Keyring.from_settings()).check().hash_value(value))


@app.command("reveal")
def reveal_command(
    path: Path = typer.Argument(..., help="A Parquet file or directory (log, batch output)."),
    output: Path = typer.Option(..., "-o", "--output", help="Parquet file to write."),
    column: list[str] = typer.Option(
        None, "--column", help="Decrypt only this column (repeatable; default: all)."
    ),
) -> None:
    """Decrypt the encrypted columns of Parquet files (the prediction log's inputs show as
    inputs.COLUMN) with SHIPYARD_COLUMN_KEYS, into a new file. Keep it safe: it holds the
    values in the clear."""
    if not path.exists():
        raise InvalidInputError(f"{path} does not exist; give a Parquet file or directory")
    if output.exists():
        raise InvalidInputError(f"--output {output} exists; choose a new file")
    frame = ds.dataset(path, format="parquet").to_table().flatten().to_pandas()
    revealed = reveal(frame, Keyring.from_settings(), columns=column or None)
    revealed.to_parquet(output, index=False)
    console.print(f"{len(revealed):,} rows written to {output}")
