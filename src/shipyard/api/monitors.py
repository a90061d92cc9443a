"""``/api/v1/monitors``: scheduled checks of an endpoint or a model, and their results.

The REST twins of ``shipyard monitor create|list|show|update|delete|run|results|report``.
Bad settings are refused with the service's own message, naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam

from shipyard.api._deps import ActorDep, MonitorsDep
from shipyard.api.errors import responses
from shipyard.api.schemas import (
    NO_NUL,
    MonitorChange,
    MonitorCreate,
    MonitorShown,
    no_nul,
    no_nul_text,
)
from shipyard.fields import parse_time
from shipyard.monitoring import Monitor, MonitorResult, MonitorRun
from shipyard.monitoring.spec import Check
from shipyard.reports.data import ReportData

router = APIRouter(prefix="/monitors", tags=["monitors"], responses=responses(400, 404, 422))

Name = Annotated[str, PathParam(description="Monitor name.", max_length=256, pattern=NO_NUL)]


def _since(value: str | None) -> datetime | None:
    return parse_time(value, "since")


@router.post(
    "",
    response_model=Monitor,
    status_code=201,
    summary="Create a monitor",
    responses=responses(409),
)
def create_monitor(body: MonitorCreate, monitors: MonitorsDep, actor: ActorDep) -> Monitor:
    """A new monitor of ``endpoint`` or ``model`` (one of them): its checks run over the
    window against the reference every ``every``, while the server runs."""
    no_nul(body, "the request body")
    return monitors.create(
        body.name,
        endpoint=body.endpoint,
        model=body.model,
        checks=body.checks,
        window=body.window,
        rows=body.rows,
        reference=body.reference,
        every=body.every,
        thresholds=body.thresholds,
        drift=body.drift,
        performance=body.performance,
        concept=body.concept,
        enabled=body.enabled,
        actor=actor,
    )


@router.get("", response_model=list[Monitor], summary="List monitors")
def list_monitors(monitors: MonitorsDep) -> list[Monitor]:
    """Every monitor, by name."""
    return monitors.list()


@router.get("/{name}", response_model=MonitorShown, summary="Show a monitor")
def get_monitor(name: Name, monitors: MonitorsDep) -> MonitorShown:
    """The monitor's settings and the results of its latest run (``latest``, empty
    before its first run)."""
    monitor = monitors.get(name)
    newest = monitors.results(name, limit=1)
    latest = (
        [r for r in monitors.results(name, since=newest[0].at) if r.run_id == newest[0].run_id]
        if newest
        else []
    )
    return MonitorShown(**monitor.model_dump(), latest=latest)


@router.patch(
    "/{name}",
    response_model=Monitor,
    summary="Change a monitor",
    responses=responses(409),
)
def update_monitor(
    name: Name, body: MonitorChange, monitors: MonitorsDep, actor: ActorDep
) -> Monitor:
    """Change the fields given; ``thresholds``, ``drift`` and ``performance`` are merged
    into the monitor's own (a key set to ``null`` returns to its default)."""
    no_nul(body, "the request body")
    return monitors.update(
        name,
        checks=body.checks,
        window=body.window,
        rows=body.rows,
        reference=body.reference,
        every=body.every,
        thresholds=body.thresholds,
        drift=body.drift,
        performance=body.performance,
        concept=body.concept,
        enabled=body.enabled,
        actor=actor,
    )


@router.delete("/{name}", response_model=Monitor, summary="Delete a monitor")
def delete_monitor(name: Name, monitors: MonitorsDep, actor: ActorDep) -> Monitor:
    """Remove the monitor and every result it stored; answers the monitor as it was."""
    return monitors.delete(name, actor=actor)


@router.post("/{name}/run", response_model=MonitorRun, summary="Run a monitor now")
def run_monitor(name: Name, monitors: MonitorsDep) -> MonitorRun:
    """Run the monitor now (enabled or not), store its results and answer them with the
    window and the reference they were measured on."""
    return monitors.run(name)


@router.get("/{name}/results", response_model=list[MonitorResult], summary="A monitor's results")
def monitor_results(
    name: Name,
    monitors: MonitorsDep,
    metric: Annotated[
        str | None, Query(max_length=256, description="Only this metric, e.g. `drift`.")
    ] = None,
    since: Annotated[
        str | None,
        Query(max_length=64, description="Only from this time on (ISO 8601 with a zone)."),
    ] = None,
    check: Annotated[Check | None, Query(description="Only this check's results.")] = None,
    limit: Annotated[
        int, Query(ge=1, le=10_000, description="At most the latest N results.")
    ] = 500,
) -> list[MonitorResult]:
    """The monitor's results over time, oldest first."""
    no_nul_text(metric, "metric")
    return monitors.results(name, metric=metric, since=_since(since), check=check, limit=limit)


@router.get("/{name}/report", response_model=ReportData, summary="A monitor's report data")
def monitor_report(name: Name, monitors: MonitorsDep) -> ReportData:
    """The current window against the monitor's reference (drift per column, histograms
    on shared bins, never raw rows) and every stored result as trends, as ``shipyard
    monitor report --json`` prints it."""
    return monitors.report_data(name)


@router.get(
    "/{name}/report.html",
    response_class=Response,
    summary="A monitor's report as an HTML page",
    responses={200: {"content": {"text/html": {}}, "description": "The report"}},
)
def monitor_report_html(name: Name, monitors: MonitorsDep) -> Response:
    """The report as one self-contained HTML page (plotly.js embedded, so it opens
    offline), as ``shipyard monitor report --html`` writes it."""
    from shipyard.reports.html import render_html

    page = render_html(monitors.report_data(name))
    return Response(page, media_type="text/html; charset=utf-8")
