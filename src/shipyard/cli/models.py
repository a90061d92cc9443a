"""``shipyard models``: list, show, search, register, archive and read model cards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.table import Table

from shipyard.cli._common import console, location, print_json, registry, when
from shipyard.errors import InvalidInputError
from shipyard.fields import numbers, pairs
from shipyard.registry import ModelVersion
from shipyard.registry.names import validate_alias
from shipyard.registry.types import STATUSES, Event, VersionStatus
from shipyard.registry.uri import ModelURI
from shipyard.runtimes import flavors, get_runtime

app = typer.Typer(
    help="Browse and register models and their versions.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def _version_of(name: str, ref: str) -> ModelVersion:
    """A version from a number (``3``), ``latest``, or an alias (``champion``)."""
    if ref.isascii() and ref.isdigit() and int(ref) < 1:
        raise InvalidInputError(f"version {ref} does not exist; versions count from 1")
    if (ref.isascii() and ref.isdigit()) or ref == "latest":
        return registry().resolve(ModelURI.parse(f"models:/{name}/{ref}"))
    return registry().resolve(ModelURI.parse(f"models:/{name}@{ref}"))


def _version_table(versions: list[ModelVersion], *, with_name: bool = False) -> Table:
    table = Table(show_lines=False)
    if with_name:
        table.add_column("model")
    for column in ("version", "flavor", "status", "aliases", "metrics", "created"):
        table.add_column(column)
    for v in versions:
        shown = sorted(v.metrics.items())
        metrics = ", ".join(f"{k} {val:.3g}" for k, val in shown[:4])
        metrics += f", … {len(shown) - 4} more" if len(shown) > 4 else ""
        row = [
            str(v.version),
            v.flavor,
            v.status,
            ", ".join(v.aliases),
            metrics,
            f"{v.created_at:%Y-%m-%d %H:%M} {v.created_by}",
        ]
        table.add_row(*([v.name] if with_name else []), *row)
    return table


@app.command("list")
def list_(
    search: str = typer.Option(None, "--search", "-s", help="Text in the name or description."),
    owner: str = typer.Option(None, help="Only models of this owner."),
    tag: list[str] = typer.Option(None, help="KEY=VALUE; repeat to require several."),
    limit: int = typer.Option(100, min=1, help="At most this many models."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List models, with their latest version and aliases."""
    found = registry().list_models(
        search=search, owner=owner, tags=pairs(tag, "--tag"), limit=limit
    )
    if as_json:
        print_json([m.model_dump(mode="json") for m in found])
        return
    if not found:
        if search or owner or tag:
            console.print("No models match.")
        else:
            console.print(f"No models yet in {location()}. Try: shipyard quickstart")
        return
    table = Table()
    for column in ("name", "latest", "aliases", "owner", "description", "updated"):
        table.add_column(column)
    for m in found:
        aliases = ", ".join(f"{a}→{v}" for a, v in m.aliases.items())
        description = m.description if len(m.description) <= 40 else m.description[:39] + "…"
        table.add_row(
            m.name,
            str(m.latest_version),
            aliases,
            m.owner,
            description,
            f"{m.updated_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command()
def show(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(
        None, help="A version number, latest, or an alias; omit for the model."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Show a model and its versions, or one version in detail."""
    if version is None:
        model = registry().get_model(name)
        versions = registry().list_versions(name, limit=1000)
        if as_json:
            print_json(
                {
                    **model.model_dump(mode="json"),
                    "versions": [v.model_dump(mode="json") for v in versions],
                }
            )
            return
        console.print(
            f"[bold]{model.name}[/bold]  owner {model.owner}  "
            f"created {when(model.created_at)} by {model.created_by}"
        )
        if model.description:
            console.print(model.description)
        if model.tags:
            console.print("tags: " + ", ".join(f"{k}={v}" for k, v in model.tags.items()))
        console.print(_version_table(versions))
        return
    record = _version_of(name, version)
    if as_json:
        print_json(record.model_dump(mode="json"))
        return
    _print_version(record)


def _print_version(v: ModelVersion) -> None:
    console.print(
        f"[bold]{v.uri}[/bold]  {v.flavor}  {v.status}"
        + (f"  aliases: {', '.join(v.aliases)}" if v.aliases else "")
    )
    console.print(
        f"registered {when(v.created_at)} by {v.created_by}; files sha256:{v.artifact_digest[:16]}…"
    )
    if v.description:
        console.print(v.description)
    if v.metrics:
        console.print("metrics: " + ", ".join(f"{k}={x:.6g}" for k, x in sorted(v.metrics.items())))
    output = v.signature.output
    if output is not None:
        classes = f" classes {output.classes}" if output.classes is not None else ""
        console.print(f"output: {output.kind}{classes}")
    table = Table(title="signature")
    for column in ("column", "kind", "dtype", "nullable", "range or values"):
        table.add_column(column)
    for spec in v.signature.inputs:
        if spec.categories is not None:
            seen = ", ".join(map(str, spec.categories[:8]))
            seen += " …" if len(spec.categories) > 8 else ""
            detail = seen if spec.kind == "category" else f"seen: {seen}"
        elif spec.min is not None:
            detail = f"{spec.min:.6g} to {spec.max:.6g}"
        else:
            detail = ""
        table.add_row(spec.name, spec.kind, spec.dtype, "yes" if spec.nullable else "no", detail)
    console.print(table)
    console.print(f"model card: shipyard models card {v.name} {v.version}")


def _status(value: str | None) -> VersionStatus | None:
    if value is None:
        return None
    if value not in STATUSES:
        raise InvalidInputError(f"--status {value!r} is not one of: {', '.join(STATUSES)}")
    return value


@app.command()
def versions(
    name: str = typer.Argument(None, help="Model name; omit to search every model."),
    status: str = typer.Option(None, help="ready or archived."),
    flavor: str = typer.Option(None, help="Only this flavor."),
    metric: list[str] = typer.Option(None, help="Filter like 'accuracy>=0.9'; repeatable."),
    tag: list[str] = typer.Option(None, help="KEY=VALUE; repeatable."),
    limit: int = typer.Option(100, min=1, help="At most this many versions."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Search versions by model, status, flavor, tags and metrics."""
    if flavor is not None and flavor not in flavors():
        raise InvalidInputError(f"--flavor {flavor!r} is not one of: {', '.join(flavors())}")
    found = registry().list_versions(
        name,
        status=_status(status),
        flavor=flavor,
        tags=pairs(tag, "--tag"),
        metrics=metric or [],
        limit=limit,
    )
    if as_json:
        print_json([v.model_dump(mode="json") for v in found])
        return
    if not found:
        console.print(f"No versions match in {location()}.")
        return
    console.print(_version_table(found, with_name=True))


@app.command()
def card(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version number, latest, or an alias."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead."),
) -> None:
    """Print a version's Markdown model card."""
    record = _version_of(name, version)
    text = registry().card(name, record.version)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
    else:
        typer.echo(text, nl=False)


def _read_table(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InvalidInputError(f"{path} does not exist; give a CSV or Parquet file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise InvalidInputError(f"{path.name}: training data must be a .csv or .parquet file")


@app.command()
def register(
    path: Path = typer.Argument(..., help="Saved model file or directory."),
    name: str = typer.Option(..., "--name", "-n", help="Model name."),
    flavor: str = typer.Option(
        ..., "--flavor", "-f", help="sklearn, xgboost, lightgbm, onnx, river or pyfunc."
    ),
    training_data: Path = typer.Option(
        ..., help="CSV or Parquet sample of the training inputs (signature and profile)."
    ),
    target_column: str = typer.Option(None, help="Column of --training-data holding the target."),
    metric: list[str] = typer.Option(None, help="NAME=NUMBER; repeatable."),
    param: list[str] = typer.Option(None, help="NAME=VALUE; repeatable."),
    tag: list[str] = typer.Option(None, help="KEY=VALUE; repeatable."),
    description: str = typer.Option("", help="What the model does."),
    intended_use: str = typer.Option("", help="Who should use it, for what."),
    python_class: str = typer.Option(None, help="pyfunc: module:Class of a shipyard.PythonModel."),
    trust_pickle: bool = typer.Option(
        False,
        "--trust-pickle",
        help="Allow a pickle/joblib file (it can run code: only for files you made yourself).",
    ),
    alias: list[str] = typer.Option(None, help="Also point this alias at the new version."),
) -> None:
    """Register a saved model file as a new version."""
    for each in alias or []:
        validate_alias(each)  # before anything is written
    if not path.exists():
        raise InvalidInputError(f"{path} does not exist; give the path of a saved model")
    get_runtime(flavor)  # an unknown flavor is reported before any file is read
    data = _read_table(training_data)
    target: Any = None
    if target_column is not None:
        if target_column not in data.columns:
            raise InvalidInputError(
                f"--target-column {target_column!r} is not a column of {training_data.name}; "
                f"its columns are: {', '.join(map(str, data.columns))}"
            )
        target = data.pop(target_column).to_numpy()
    version = registry().register_file(
        path,
        name,
        flavor=flavor,
        trust_pickle=trust_pickle or None,
        python_class=python_class,
        training_data=data,
        target=target,
        metrics=numbers(metric, "--metric"),
        params=pairs(param, "--param") or None,
        tags=pairs(tag, "--tag"),
        description=description,
        intended_use=intended_use,
    )
    console.print(f"registered {version.uri} ({version.flavor}) in {location()}")
    for each in alias or []:
        registry().set_alias(name, each, version.version)
        console.print(f"{name}@{each} -> version {version.version}")


@app.command()
def archive(
    name: str = typer.Argument(..., help="Model name."),
    version: int = typer.Argument(..., help="Version number."),
) -> None:
    """Archive a version: it stays readable but can no longer carry an alias."""
    registry().set_status(name, version, "archived")
    console.print(f"models:/{name}/{version} archived")


@app.command()
def restore(
    name: str = typer.Argument(..., help="Model name."),
    version: int = typer.Argument(..., help="Version number."),
) -> None:
    """Make an archived version ready again."""
    registry().set_status(name, version, "ready")
    console.print(f"models:/{name}/{version} is ready")


@app.command()
def update(
    name: str = typer.Argument(..., help="Model name."),
    description: str = typer.Option(None, help="New description."),
    owner: str = typer.Option(None, help="New owner."),
    tag: list[str] = typer.Option(None, help="KEY=VALUE; replaces all tags. Repeatable."),
) -> None:
    """Change a model's description, owner or tags (versions never change)."""
    if description is None and owner is None and not tag:
        raise InvalidInputError("nothing to change; give --description, --owner or --tag")
    model = registry().update_model(
        name, description=description, owner=owner, tags=pairs(tag, "--tag") if tag else None
    )
    console.print(f"updated model {model.name}")


@app.command()
def verify(
    name: str = typer.Argument(None, help="Model name; omit to check every model."),
) -> None:
    """Check every stored file of every version against its sha256."""
    report = registry().verify(name)
    for problem in report.problems:
        typer.echo(f"error: {problem}", err=True)
    console.print(
        f"checked {report.files} files of {report.versions} versions: "
        f"{len(report.problems)} problem(s)"
    )
    if report.problems:
        raise typer.Exit(1)


@app.command()
def download(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version number, latest, or an alias."),
    output: Path = typer.Option(..., "--output", "-o", help="New or empty directory."),
) -> None:
    """Write a version's files (model, reference sample, model card), each verified."""
    record = _version_of(name, version)
    written = registry().download(name, record.version, output)
    for path in written:
        console.print(str(path))


@app.command()
def history(
    name: str = typer.Argument(..., help="Model name."),
    limit: int = typer.Option(50, min=1, help="At most this many changes."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Who changed what on a model, its versions and its aliases, newest first."""
    registry().get_model(name)  # an unknown model is an error, not an empty history
    events = registry().events(model=name, limit=limit)
    if as_json:
        print_json([e.model_dump(mode="json") for e in events])
        return
    console.print(events_table(events))


def events_table(events: list[Event]) -> Table:
    """Recorded changes as a table, newest first."""
    table = Table()
    for column in ("when", "who", "action", "target", "before", "after"):
        table.add_column(column)
    for e in events:
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M:%S}",
            e.actor,
            e.action,
            e.target,
            _brief(e.before),
            _brief(e.after),
        )
    return table


def _brief(state: dict[str, Any] | None) -> str:
    if not state:
        return ""
    return ", ".join(f"{k}={v}" for k, v in state.items() if v not in ("", {}, None))
