"""``GET /api/v1/endpoints/{name}/ab``: the A/B report of an endpoint's variants.

The REST twin of ``shipyard ab report``, with the same options as query parameters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from shipyard.api._deps import EndpointsDep
from shipyard.api.endpoints import Name
from shipyard.api.errors import responses
from shipyard.endpoints import ABReport, ab_report
from shipyard.endpoints.abreport import Task, window

router = APIRouter(tags=["endpoints"], responses=responses(400, 404, 422))


@router.get(
    "/endpoints/{name}/ab",
    response_model=ABReport,
    summary="Compare an endpoint's variants (A/B report)",
)
def get_ab_report(
    name: Name,
    endpoints: EndpointsDep,
    control: Annotated[
        str | None,
        Query(max_length=64, description="The control variant (default: the policy's first)."),
    ] = None,
    since: Annotated[
        str | None,
        Query(max_length=64, description="Only the last while: 30m, 1h, 7d (not with start)."),
    ] = None,
    start: Annotated[
        datetime | None,
        Query(description="From this time (UTC unless it says): 2026-11-01T09:00:00."),
    ] = None,
    end: Annotated[datetime | None, Query(description="Until this time (excluded).")] = None,
    alpha: Annotated[float, Query(description="Significance level of every test.")] = 0.05,
    power: Annotated[float, Query(description="Power assumed for samples still needed.")] = 0.8,
    task: Annotated[
        Task | None,
        Query(
            description="Score predictions as classification or regression (default: "
            "from the outputs)."
        ),
    ] = None,
    revision: Annotated[
        list[Annotated[int, Field(ge=1)]] | None,
        Query(description="Only requests served by these revisions (default: all)."),
    ] = None,
) -> ABReport:
    """Per variant: requests, errors, latency and, where feedback labels the rows,
    accuracy, MAE/RMSE and conversion; each challenger compared with the control, with a
    winner only where the difference is significant at ``alpha``."""
    first, last = window(since, start, end)
    return ab_report(
        endpoints,
        name,
        control=control,
        start=first,
        end=last,
        alpha=alpha,
        power=power,
        task=task,
        revisions=revision,
    )
