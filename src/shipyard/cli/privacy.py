"""Differentially private releases (``shipyard models release-profile``, ``shipyard
monitor release``) and their budgets (``shipyard privacy budget|set-budget``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import typer
from rich.table import Table

from shipyard.cli._common import console, print_json, registry, when
from shipyard.cli.monitor import service as monitor_service
from shipyard.errors import InvalidInputError
from shipyard.privacy import Budget, PrivacyService, PrivateRelease

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Differential-privacy budgets: how much epsilon releases of a version's reference "
    "data or of a monitored endpoint's windows have spent, and may spend.",
    no_args_is_help=True,
)

_TARGET = typer.Argument(
    ..., help="A version (models:/NAME/VERSION or models:/NAME@ALIAS) or monitor:NAME."
)
_EPSILON = typer.Option(
    ..., "--epsilon", help="Privacy loss to spend on this release, e.g. 0.5 (smaller: noisier)."
)
_BINS = typer.Option(
    None, "--bins", help="COLUMN=LOW:HIGH:N, N equal-width public bins (repeatable)."
)
_EDGES = typer.Option(None, "--edges", help="COLUMN=E0,E1,...: public bin edges (repeatable).")
_CATEGORIES = typer.Option(
    None, "--categories", help="COLUMN=A,B,...: the public categories to count (repeatable)."
)
_GRID = typer.Option(
    None,
    "--grid",
    help='JSON file of column grids: {"age": {"edges": [0, 18, 65]}, "plan": '
    '{"categories": ["a", "b"]}}.',
)
_OUTPUT = typer.Option(
    None, "-o", "--output", help="Write the release's JSON here (default: print it)."
)


def service() -> PrivacyService:
    """Releases and budgets on the store the current settings name."""
    return PrivacyService(registry(), monitor_service())


def _pair(option: str, text: str) -> tuple[str, str]:
    column, sep, value = text.partition("=")
    if not sep or not column.strip() or not value.strip():
        raise InvalidInputError(f"{option} {text!r} is not COLUMN=VALUE; see --help")
    return column.strip(), value.strip()


def grids(
    bins: list[str] | None,
    edges: list[str] | None,
    categories: list[str] | None,
    grid: Path | None,
) -> dict[str, dict[str, Any]]:
    """The column grids the options name (``--grid`` first, the others over it)."""
    out: dict[str, dict[str, Any]] = {}
    if grid is not None:
        try:
            loaded = json.loads(grid.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise InvalidInputError(f"--grid {grid} is not JSON ({exc})") from None
        if not isinstance(loaded, dict):
            raise InvalidInputError(f"--grid {grid}: give a JSON object of column grids")
        out.update(loaded)
    for text in bins or []:
        column, value = _pair("--bins", text)
        parts = value.split(":")
        try:
            low, high, count = float(parts[0]), float(parts[1]), int(parts[2])
        except (ValueError, IndexError):
            raise InvalidInputError(
                f"--bins {text!r} is not COLUMN=LOW:HIGH:N, e.g. --bins age=0:100:10"
            ) from None
        out[column] = {"low": low, "high": high, "bins": count}
    for text in edges or []:
        column, value = _pair("--edges", text)
        try:
            out[column] = {"edges": [float(e) for e in value.split(",")]}
        except ValueError:
            raise InvalidInputError(
                f"--edges {text!r} is not COLUMN=E0,E1,..., e.g. --edges age=0,18,65,120"
            ) from None
    for text in categories or []:
        column, value = _pair("--categories", text)
        out[column] = {"categories": [c.strip() for c in value.split(",")]}
    return out


def _show(release: PrivateRelease, output: Path | None) -> None:
    data = release.to_dict()
    if output is None:
        print_json(data)
        return
    output.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    columns = ", ".join(release.columns) or "none"
    console.print(
        f"released {release.subject} with epsilon {release.epsilon:g} (noise scale "
        f"{release.scale:.3g}): about {release.rows} rows; columns {columns}; wrote {output}"
    )
    if release.omitted:
        console.print(
            f"  left out, with no public grid given: {', '.join(release.omitted)} (why: "
            f'"omitted" in {output})'
        )


def release_profile(
    name: str = typer.Argument(..., help="Model name."),
    version: str = typer.Argument(..., help="Version number, latest, or an alias."),
    epsilon: float = _EPSILON,
    bins: list[str] = _BINS,
    edges: list[str] = _EDGES,
    categories: list[str] = _CATEGORIES,
    grid: Path = _GRID,
    output: Path = _OUTPUT,
) -> None:
    """Release the version's reference data with differential privacy: noisy row count,
    histograms and category counts on public grids, paid from its epsilon budget."""
    release = service().release_profile(
        name, version, epsilon, grids(bins, edges, categories, grid)
    )
    _show(release, output)


def release_window(
    name: str = typer.Argument(..., help="Monitor name."),
    epsilon: float = _EPSILON,
    bins: list[str] = _BINS,
    edges: list[str] = _EDGES,
    categories: list[str] = _CATEGORIES,
    grid: Path = _GRID,
    output: Path = _OUTPUT,
) -> None:
    """Release the monitor's current window with differential privacy, paid from the
    budget of the endpoint or model it watches."""
    release = service().release_window(name, epsilon, grids(bins, edges, categories, grid))
    _show(release, output)


def _print(budget: Budget) -> None:
    own = "default" if budget.default else "set"
    console.print(
        f"{budget.subject}: budget {budget.budget:g} ({own}), spent {budget.spent:.6g}, "
        f"{budget.remaining:.6g} left"
    )
    if budget.releases:
        table = Table(title="releases, newest first")
        for column in ("at", "by", "epsilon", "what", "columns"):
            table.add_column(column, justify="right" if column == "epsilon" else "left")
        for r in budget.releases:
            what = str(r.what.get("kind", ""))
            if "monitor" in r.what:
                what += f" ({r.what['monitor']})"
            columns = ", ".join(r.what.get("columns", []))
            table.add_row(when(r.released_at), r.released_by, f"{r.epsilon:g}", what, columns)
        console.print(table)


@app.command()
def budget(
    target: str = _TARGET,
    limit: int = typer.Option(100, "--limit", min=1, help="At most the latest N releases."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A budget, what was spent, and the latest releases (a monitor's is the budget of
    the endpoint or model it watches, shared by all its monitors)."""
    found = service().budget(target, limit=limit)
    if as_json:
        print_json(found.to_dict())
    else:
        _print(found)


@app.command("set-budget")
def set_budget(
    target: str = _TARGET,
    epsilon: float = typer.Argument(..., help="The total epsilon its releases may spend."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Give a version, or a monitor's endpoint or model, a budget of its own (what was
    spent stays spent)."""
    changed = service().set_budget(target, epsilon)
    if as_json:
        print_json(changed.to_dict())
    else:
        _print(changed)
