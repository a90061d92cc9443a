"""``shipyard ab``: compare an endpoint's variants from the prediction log and feedback."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from shipyard.cli._common import console, print_json
from shipyard.cli.endpoints import service
from shipyard.endpoints.abcompare import MetricComparison
from shipyard.endpoints.abreport import ABReport, Task, ab_report, window
from shipyard.errors import InvalidInputError

app = typer.Typer(
    rich_markup_mode="markdown",
    help="A/B analysis: compare an endpoint's variants on errors, latency and feedback.",
    no_args_is_help=True,
)


def _number(value: float | None, rate: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.2%}" if rate else f"{value:,.4g}"


def _variants(report: ABReport) -> Table:
    table = Table(title=f"{report.endpoint}: variants (control {report.control})")
    for column in ("variant", "versions", "requests", "rows", "errors", "error rate"):
        table.add_column(column, justify="left" if column in ("variant", "versions") else "right")
    for column in ("fallbacks", "p50 ms", "p95 ms", "p99 ms", "labelled"):
        table.add_column(column, justify="right")
    scored = {
        "accuracy": report.task == "classification",
        "MAE": report.task == "regression",
        "RMSE": report.task == "regression",
        "conversion": any(v.conversion is not None for v in report.variants),
    }
    for column, shown in scored.items():
        if shown:
            table.add_column(column, justify="right")
    for v in report.variants:
        cells = [
            v.name + (" (control)" if v.name == report.control else ""),
            ", ".join(v.versions),
            f"{v.requests:,}",
            f"{v.rows:,}",
            f"{v.errors:,}",
            _number(v.error_rate, rate=True),
            f"{v.fallbacks:,}",
            _number(v.latency_p50_ms),
            _number(v.latency_p95_ms),
            _number(v.latency_p99_ms),
            f"{v.labelled:,}",
        ]
        values = {"accuracy": v.accuracy, "MAE": v.mae, "RMSE": v.rmse, "conversion": v.conversion}
        for column, shown in scored.items():
            if shown:
                cells.append(_number(values[column], rate=column in ("accuracy", "conversion")))
        table.add_row(*cells)
    return table


def _metric(report: ABReport, metric: str, found: list[MetricComparison]) -> Table:
    rate = metric in ("error rate", "accuracy", "conversion")
    level = f"{1 - report.alpha:.0%}"
    table = Table(title=f"{metric} ({found[0].test or 'not tested'}, against {report.control})")
    for column in ("variant", "value", "n", "difference", f"{level} CI", "p-value", "winner"):
        table.add_column(column, justify="left" if column == "variant" else "right")
    first = found[0]
    table.add_row(
        f"{first.control} (control)",
        _number(first.control_value, rate),
        f"{first.n_control:,}",
        *[""] * 4,
    )
    for c in found:
        interval = (
            "-" if c.ci_low is None else f"{_shift(c.ci_low, rate)} to {_shift(c.ci_high, rate)}"
        )
        table.add_row(
            c.challenger,
            _number(c.challenger_value, rate),
            f"{c.n_challenger:,}",
            _shift(c.difference, rate),
            interval,
            "-" if c.p_value is None else f"{c.p_value:.3g}",
            c.winner or "none",
        )
    return table


def _shift(value: float | None, rate: bool) -> str:
    if value is None:
        return "-"
    return f"{value * 100:+.2f} pts" if rate else f"{value:+,.4g}"


def _print(report: ABReport) -> None:
    revisions = ", ".join(map(str, report.revisions))
    console.print(
        f"[bold]{report.endpoint}[/bold]: current revision {report.revision}; rows from "
        f"revision{'s' if len(report.revisions) > 1 else ''} {revisions}; alpha {report.alpha:g}"
        + (f"; {report.shadow_rows:,} shadow rows left out" if report.shadow_rows else "")
    )
    console.print(_variants(report))
    metrics: dict[str, list[MetricComparison]] = {}
    for comparison in report.comparisons:
        metrics.setdefault(comparison.metric, []).append(comparison)
    for metric, found in metrics.items():
        console.print(_metric(report, metric, found))
    for comparison in report.comparisons:
        console.print(f"- {comparison.verdict}")
    for note in report.notes:
        console.print(f"note: {note}")
    if report.task is None and report.comparisons:
        console.print(
            "note: no feedback labels these rows yet; load them with: shipyard feedback load "
            "FILE --id-column C --label-column L"
        )


@app.command()
def report(
    endpoint: str = typer.Argument(..., help="Endpoint name."),
    control: str = typer.Option(
        None, "--control", help="The control variant (default: the current policy's first)."
    ),
    since: str = typer.Option(None, "--since", help="Only the last while, e.g. 30m, 1h, 7d."),
    start: datetime = typer.Option(
        None, "--start", help="From this time, UTC: 2026-11-01 or 2026-11-01T09:00:00."
    ),
    end: datetime = typer.Option(None, "--end", help="Until this time (excluded), UTC."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level of every test."),
    power: float = typer.Option(0.8, "--power", help="Power assumed for samples still needed."),
    task: str = typer.Option(
        None,
        "--task",
        help="Score predictions as classification or regression (default: from the outputs).",
    ),
    revision: list[int] = typer.Option(
        None,
        "--revision",
        min=1,
        help="Only requests served by this revision (repeatable; default: every revision).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Compare ENDPOINT's variants: a table per metric, and who wins or what it would take."""
    first, last = window(since, start, end)
    chosen = _task(task)
    result = ab_report(
        service(),
        endpoint,
        control=control,
        start=first,
        end=last,
        alpha=alpha,
        power=power,
        task=chosen,
        revisions=revision or None,
    )
    if as_json:
        print_json(result.to_dict())
    else:
        _print(result)


def _task(task: str | None) -> Task | None:
    if task is None:
        return None
    if task == "classification":
        return "classification"
    if task == "regression":
        return "regression"
    raise InvalidInputError(f"--task {task!r}: use classification or regression")
