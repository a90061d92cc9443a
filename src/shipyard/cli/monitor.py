"""``shipyard monitor``: scheduled checks of an endpoint or a model, and their results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from shipyard.cli._common import console, parse_since, print_json, registry, when
from shipyard.endpoints.plan import format_duration
from shipyard.errors import InvalidInputError
from shipyard.monitoring import CHECKS, THRESHOLDS, Monitor, MonitorResult, MonitorRun
from shipyard.monitoring import MonitorService as Service
from shipyard.monitoring.spec import METRICS, describe_reference, describe_window

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Monitors: data drift, prediction drift, data quality, performance and operations "
    "of an endpoint or a model, checked on a schedule and stored as time series.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON.")
_CHECKS_HELP = f"A check, repeatable (default all): {', '.join(CHECKS)}."
_SEGMENT_BY = typer.Option(
    None, "--segment-by", help="Performance per value of this input column too."
)
_SEGMENT_BINS = typer.Option(
    None,
    "--segment-bins",
    help="Bin a numeric --segment-by column: a count of quantile bins (4) or edges (0,18,65,120).",
)
_THRESHOLD_HELP = f"KEY=NUMBER, repeatable; keys: {', '.join(THRESHOLDS)}."


def service() -> Service:
    """Monitors on the store, prediction log and feedback the current settings name."""
    current = registry()
    return Service(current, current.settings.predictions, current.settings.feedback)


def _thresholds(pairs: list[str] | None) -> dict[str, float | None]:
    """``KEY=NUMBER`` pairs; ``KEY=default`` (``None``) returns a threshold to its default."""
    out: dict[str, float | None] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if sep and value.strip().lower() == "default":
            out[key.strip()] = None
            continue
        try:
            out[key.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise InvalidInputError(
                f"--threshold {pair!r} is not KEY=NUMBER (or KEY=default), e.g. "
                "--threshold error_rate=0.01"
            )
    return out


def _segments(column: str | None, bins: str | None) -> dict[str, Any] | None:
    """``--segment-by`` and ``--segment-bins`` as performance options."""
    if column is None and bins is None:
        return None
    out: dict[str, Any] = {"segment_by": column}
    if bins is not None:
        try:
            numbers = [float(b) for b in bins.split(",") if b.strip()]
        except ValueError:
            raise InvalidInputError(
                f"--segment-bins {bins!r} is not a count (4) or comma-separated edges (0,18,65,120)"
            ) from None
        out["bins"] = int(numbers[0]) if "," not in bins and numbers else numbers
    return out


def _summary(monitor: Monitor) -> str:
    state = "" if monitor.enabled else " (disabled)"
    return (
        f"{monitor.name}{state}: {monitor.target_kind} {monitor.target}, "
        f"{', '.join(monitor.checks)}; window {describe_window(monitor.window)} against "
        f"{describe_reference(monitor.reference)}, every {format_duration(monitor.schedule_s)}"
    )


def _print(monitor: Monitor) -> None:
    console.print(_summary(monitor))
    thresholds = monitor.options.get("thresholds", {})
    if thresholds:
        console.print("  thresholds " + ", ".join(f"{k}={v:g}" for k, v in thresholds.items()))
    for key, label in (("drift", "drift"), ("performance", "performance"), ("concept", "concept")):
        if monitor.options.get(key):
            shown = ", ".join(f"{k}={v}" for k, v in monitor.options[key].items())
            console.print(f"  {label} options {shown}")
    last = when(monitor.last_run_at) if monitor.last_run_at else "never"
    console.print(f"  created {when(monitor.created_at)} by {monitor.created_by}; last run {last}")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _table(title: str, results: list[MonitorResult], *, at: bool = False) -> Table:
    table = Table(title=title)
    if at:
        table.add_column("at")
    for name in ("check", "metric", "column", "value", "threshold", "status"):
        table.add_column(name, justify="right" if name in ("value", "threshold") else "left")
    why = any(r.status in ("no_data", "error") for r in results)
    if why:
        table.add_column("why", overflow="fold")
    for r in results:
        cells = [r.check, r.metric, r.column or "", _number(r.value), _number(r.threshold)]
        status = r.status if r.status != "breach" else "[bold red]breach[/]"
        reason = [str(r.detail.get("reason") or r.detail.get("error") or "")] if why else []
        table.add_row(*([when(r.at)] if at else []), *cells, status, *reason)
    return table


def _run_title(run: MonitorRun) -> str:
    start = when(run.window_start) if run.window_start else "start"
    return (
        f"{run.monitor}: {run.status}, {run.rows} rows from {start} to {when(run.window_end)} "
        f"against {run.reference.get('kind')}"
        + (f" ({run.reference['version']})" if "version" in run.reference else "")
    )


@app.command()
def create(
    name: str = typer.Argument(..., help="Monitor name."),
    endpoint: str = typer.Option(None, "--endpoint", help="Monitor this endpoint."),
    model: str = typer.Option(None, "--model", help="Monitor this model (all its predictions)."),
    check: list[str] = typer.Option(None, "--check", help=_CHECKS_HELP),
    window: str = typer.Option(
        None, "--window", help="The window: the last 30m, 1h, 1d… (default 1h)."
    ),
    rows: int = typer.Option(None, "--rows", help="The window: the last N logged rows."),
    reference: str = typer.Option(
        "training",
        "--reference",
        help="Compare with: training (the version's stored sample), previous (the window "
        "before) or START..END (ISO 8601 times).",
    ),
    every: str = typer.Option("15m", "--every", help="How often the server runs it."),
    threshold: list[str] = typer.Option(
        None,
        "--threshold",
        help=_THRESHOLD_HELP,
    ),
    drift_mode: str = typer.Option(
        None, "--drift-mode", help="fixed (default) or calibrated drift thresholds."
    ),
    segment_by: str = _SEGMENT_BY,
    segment_bins: str = _SEGMENT_BINS,
    concept_detector: str = typer.Option(
        None,
        "--concept-detector",
        help="The online detector of concept_drift: adwin (default), page_hinkley or ddm.",
    ),
    disabled: bool = typer.Option(False, "--disabled", help="Create it without scheduling it."),
    as_json: bool = _JSON,
) -> None:
    """Create a monitor of an endpoint (--endpoint) or a model (--model)."""
    created = service().create(
        name,
        endpoint=endpoint,
        model=model,
        checks=check or None,
        window=window,
        rows=rows,
        reference=reference,
        every=every,
        thresholds=_thresholds(threshold),
        drift={"mode": drift_mode} if drift_mode else None,
        performance=_segments(segment_by, segment_bins),
        concept={"detector": concept_detector} if concept_detector else None,
        enabled=not disabled,
    )
    if as_json:
        print_json(created.to_dict())
    else:
        _print(created)


@app.command("list")
def list_(as_json: bool = _JSON) -> None:
    """Every monitor."""
    found = service().list()
    if as_json:
        print_json([m.to_dict() for m in found])
        return
    if not found:
        console.print("no monitors yet; create one with: shipyard monitor create NAME --endpoint E")
    for monitor in found:
        console.print(_summary(monitor))


@app.command()
def show(name: str = typer.Argument(..., help="Monitor name."), as_json: bool = _JSON) -> None:
    """A monitor's settings and its latest run's results."""
    monitors = service()
    monitor = monitors.get(name)
    latest = monitors.results(name, limit=1)
    last = (
        [r for r in monitors.results(name, since=latest[0].at) if r.run_id == latest[0].run_id]
        if latest
        else []
    )
    if as_json:
        print_json(monitor.to_dict() | {"latest": [r.to_dict() for r in last]})
        return
    _print(monitor)
    if last:
        console.print(_table(f"latest run, {when(last[0].at)}", last))


@app.command()
def update(
    name: str = typer.Argument(..., help="Monitor name."),
    check: list[str] = typer.Option(None, "--check", help="Replace the checks, repeatable."),
    window: str = typer.Option(None, "--window", help="A time window: 30m, 1h, 1d…"),
    rows: int = typer.Option(None, "--rows", help="A window of the last N rows."),
    reference: str = typer.Option(None, "--reference", help="training, previous or START..END."),
    every: str = typer.Option(None, "--every", help="How often the server runs it."),
    threshold: list[str] = typer.Option(
        None, "--threshold", help="KEY=NUMBER, or KEY=default to return to the default; repeatable."
    ),
    drift_mode: str = typer.Option(
        None, "--drift-mode", help="fixed or calibrated drift thresholds."
    ),
    segment_by: str = _SEGMENT_BY,
    segment_bins: str = _SEGMENT_BINS,
    concept_detector: str = typer.Option(
        None,
        "--concept-detector",
        help="Replace the concept_drift detector (adwin, page_hinkley, ddm); it starts afresh.",
    ),
    enable: bool = typer.Option(None, "--enable/--disable", help="Schedule it, or stop."),
    as_json: bool = _JSON,
) -> None:
    """Change a monitor; thresholds given are merged into its own."""
    changed = service().update(
        name,
        checks=check or None,
        window=window,
        rows=rows,
        reference=reference,
        every=every,
        thresholds=_thresholds(threshold) if threshold else None,
        drift={"mode": drift_mode} if drift_mode else None,
        performance=_segments(segment_by, segment_bins),
        concept={"detector": concept_detector} if concept_detector else None,
        enabled=enable,
    )
    if as_json:
        print_json(changed.to_dict())
    else:
        _print(changed)


@app.command()
def delete(name: str = typer.Argument(..., help="Monitor name.")) -> None:
    """Delete a monitor and its results."""
    gone = service().delete(name)
    console.print(f"deleted monitor {gone.name} and its results")


@app.command()
def run(
    name: str = typer.Argument(..., help="Monitor name."),
    breaches: bool = typer.Option(
        False, "--breaches", help="Print only the results that are not ok (all are stored)."
    ),
    as_json: bool = _JSON,
) -> None:
    """Run a monitor now (enabled or not), store its results and print them."""
    done = service().run(name)
    if as_json:
        print_json(done.to_dict())
        return
    shown = [r for r in done.results if r.status != "ok"] if breaches else done.results
    if shown:
        console.print(_table(_run_title(done), shown))
    else:
        console.print(_run_title(done))
    if breaches:
        console.print(f"{len(done.results) - len(shown)} results ok, not shown")


@app.command()
def results(
    name: str = typer.Argument(..., help="Monitor name."),
    metric: str = typer.Option(None, "--metric", help="Only this metric, e.g. drift."),
    since: str = typer.Option(
        None, "--since", help="Only from this time on (ISO 8601), or the last while (24h, 7d)."
    ),
    limit: int = typer.Option(500, "--limit", min=1, help="At most the latest N results."),
    as_json: bool = _JSON,
) -> None:
    """The monitor's results over time, oldest first."""
    if metric is not None and metric not in METRICS:
        raise InvalidInputError(
            f"--metric {metric!r} is not one a monitor stores; choose from "
            f"{', '.join(sorted(METRICS))}"
        )
    found = service().results(name, metric=metric, since=parse_since(since), limit=limit)
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    if not found:
        if metric is not None or since is not None:
            console.print(
                f"no results of {name} match; see its metrics with: shipyard monitor results {name}"
            )
        else:
            console.print(f"no results yet; run it with: shipyard monitor run {name}")
        return
    console.print(_table(f"{name}: {len(found)} results", found, at=True))


@app.command()
def report(
    name: str = typer.Argument(..., help="Monitor name."),
    html: Path = typer.Option(
        None, "--html", help="Write a self-contained HTML report here (opens offline)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report's data as JSON."),
) -> None:
    """The current window against the monitor's reference: drift per column, histograms
    of reference and current, and every stored result as a trend over windows."""
    if html is None and not as_json:
        raise InvalidInputError("say where the report goes: --html out.html, or --json")
    data = service().report_data(name)
    if html is not None:
        from shipyard.reports.html import render_html

        html.write_text(render_html(data), encoding="utf-8")
        size = html.stat().st_size
        console.print(f"wrote {html} ({size / 1e6:.1f} MB)")
    if as_json:
        from shipyard.reports.html import render_json

        print_json(render_json(data))
