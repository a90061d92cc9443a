"""``/api/v1/log``: erasure and retention of the prediction log and feedback. The REST
twins of ``shipyard log erase|retain|retention|expire``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._deps import ActorDep, registry
from shipyard.api.errors import responses
from shipyard.api.schemas import NO_NUL
from shipyard.predictions.erasure import Retention

router = APIRouter(prefix="/log", tags=["log"], responses=responses(400, 422))


def retention(request: Request) -> Retention:
    store = registry(request)
    return Retention(store, store.settings.predictions, store.settings.feedback)


RetentionDep = Annotated[Retention, Depends(retention)]


class Subject(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: Annotated[str, Field(min_length=1, max_length=256, pattern=NO_NUL)]
    """An input column (say ``customer``)."""
    value: Annotated[str, Field(max_length=4096, pattern=NO_NUL)]
    """Its value, as text."""


class Erasure(BaseModel):
    """What to erase: request ids, a subject, or both."""

    model_config = ConfigDict(extra="forbid")

    request_ids: Annotated[
        list[Annotated[str, Field(max_length=256, pattern=NO_NUL)]], Field(max_length=10_000)
    ] = []
    subject: Subject | None = None


class Removed(BaseModel):
    """What an erasure or an expiry removed."""

    rows: int
    files_rewritten: int
    files_removed: int
    feedback_rows: int
    days_removed: list[str]


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: Annotated[int, Field(ge=1, le=100_000)] | None
    """Days kept; ``null`` keeps the log for good again."""


@router.post("/erasures", response_model=Removed, summary="Erase rows of the prediction log")
def erase(body: Erasure, service: RetentionDep, actor: ActorDep) -> dict[str, Any]:
    """Remove, for good, every logged row of the request ids or whose input column has
    the subject's value, and their feedback; the audit trail says how many, not which."""
    subject = None if body.subject is None else (body.subject.column, body.subject.value)
    return service.erase(request_ids=body.request_ids, subject=subject, actor=actor).to_dict()


@router.get("/retention", response_model=dict[str, int], summary="List retention periods")
def list_retention(service: RetentionDep) -> dict[str, int]:
    """Days kept, by endpoint (``*``: everything)."""
    return service.policies()


@router.put(
    "/retention/{endpoint}",
    response_model=dict[str, int],
    summary="Set an endpoint's retention",
    responses=responses(404),
)
def set_retention(
    endpoint: Annotated[str, PathParam(max_length=128, pattern=NO_NUL)],
    body: Period,
    service: RetentionDep,
    actor: ActorDep,
) -> dict[str, int]:
    """Keep ``days`` days of the endpoint's log (``*``: everything; ``null``: for good)."""
    return service.set(endpoint, body.days, actor=actor)


@router.post("/expire", response_model=Removed, summary="Expire the prediction log now")
def expire(service: RetentionDep) -> dict[str, Any]:
    """Remove the log past its retention now (the server does it every
    ``SHIPYARD_RETENTION_PERIOD_S``)."""
    return service.expire().to_dict()
