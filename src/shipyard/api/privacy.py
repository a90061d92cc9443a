"""Differentially private releases and their epsilon budgets: a version's reference
sample (``/models/{name}/versions/{ref}/profile/release``, ``…/privacy``) and a
monitor's current window (``/monitors/{name}/release``, ``…/privacy``).

The REST twins of ``shipyard models release-profile``, ``shipyard monitor release`` and
``shipyard privacy budget|set-budget``. A release the budget cannot pay for is 409.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._deps import ActorDep, monitors, registry
from shipyard.api._params import Name, Ref
from shipyard.api.errors import responses
from shipyard.api.schemas import NO_NUL
from shipyard.privacy import Binning, Budget, PrivacyService, PrivateRelease

router = APIRouter(tags=["privacy"], responses=responses(400, 404, 422))

MonitorName = Annotated[str, PathParam(description="Monitor name.", max_length=256, pattern=NO_NUL)]
Column = Annotated[str, Field(min_length=1, max_length=256, pattern=NO_NUL)]


def privacy(request: Request) -> PrivacyService:
    return PrivacyService(registry(request), monitors(request))


PrivacyDep = Annotated[PrivacyService, Depends(privacy)]


class ReleaseRequest(BaseModel):
    """How much privacy to spend, and the public grid of each column to release."""

    model_config = ConfigDict(extra="forbid")

    epsilon: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    """The privacy loss this release may cost, spent from the budget."""
    columns: Annotated[dict[Column, Binning], Field(max_length=1000)] = {}
    """Per input column: ``{"edges": [...]}``, ``{"low", "high", "bins"}`` or
    ``{"categories": [...]}``. Boolean columns default to ``False``/``True``; other
    columns not named are left out (see ``omitted`` in the answer)."""


class BudgetChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    """The total epsilon its releases may spend (what was spent stays spent)."""


Releases = Annotated[int, Query(ge=1, le=10_000, description="At most the latest N releases.")]


def _version(name: str, ref: str) -> str:
    """The version's URI for a number, ``latest`` or an alias."""
    if ref.isascii() and ref.isdigit() or ref == "latest":
        return f"models:/{name}/{ref}"
    return f"models:/{name}@{ref}"


@router.post(
    "/models/{name}/versions/{ref}/profile/release",
    response_model=PrivateRelease,
    summary="Release a version's reference data with differential privacy",
    responses=responses(409),
)
def release_profile(
    name: Name, ref: Ref, body: ReleaseRequest, service: PrivacyDep, actor: ActorDep
) -> PrivateRelease:
    """Noisy row count, histograms and category counts of the version's stored reference
    sample on the given public grids, ``epsilon``-differentially private; 409 when the
    version's budget has less than ``epsilon`` left (nothing is released or recorded)."""
    return service.release_profile(name, ref, body.epsilon, body.columns, actor=actor)


@router.get(
    "/models/{name}/versions/{ref}/privacy",
    response_model=Budget,
    summary="A version's privacy budget and releases",
)
def version_budget(name: Name, ref: Ref, service: PrivacyDep, limit: Releases = 100) -> Budget:
    """The version's epsilon budget, what its releases spent, and the latest of them."""
    return service.budget(_version(name, ref), limit=limit)


@router.put(
    "/models/{name}/versions/{ref}/privacy",
    response_model=Budget,
    summary="Set a version's privacy budget",
)
def set_version_budget(
    name: Name, ref: Ref, body: BudgetChange, service: PrivacyDep, actor: ActorDep
) -> Budget:
    """Give the version a budget of its own instead of ``SHIPYARD_PRIVACY_BUDGET``."""
    return service.set_budget(_version(name, ref), body.budget, actor=actor)


@router.post(
    "/monitors/{name}/release",
    response_model=PrivateRelease,
    summary="Release a monitor's current window with differential privacy",
    responses=responses(409),
)
def release_window(
    name: MonitorName, body: ReleaseRequest, service: PrivacyDep, actor: ActorDep
) -> PrivateRelease:
    """Noisy row count, histograms and category counts of the monitor's current window
    on the given public grids, ``epsilon``-differentially private, paid from the budget
    of the endpoint or model it watches (shared by all its monitors); 409 when that has
    less than ``epsilon`` left."""
    return service.release_window(name, body.epsilon, body.columns, actor=actor)


@router.get(
    "/monitors/{name}/privacy",
    response_model=Budget,
    summary="The privacy budget of a monitor's endpoint or model",
)
def monitor_budget(name: MonitorName, service: PrivacyDep, limit: Releases = 100) -> Budget:
    """The epsilon budget of the endpoint or model the monitor watches, what releases of
    its monitors spent, and the latest of them."""
    return service.budget(f"monitor:{name}", limit=limit)


@router.put(
    "/monitors/{name}/privacy",
    response_model=Budget,
    summary="Set the privacy budget of a monitor's endpoint or model",
)
def set_monitor_budget(
    name: MonitorName, body: BudgetChange, service: PrivacyDep, actor: ActorDep
) -> Budget:
    """Give the endpoint or model the monitor watches a budget of its own."""
    return service.set_budget(f"monitor:{name}", body.budget, actor=actor)
