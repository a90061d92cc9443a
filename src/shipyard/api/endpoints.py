"""``/api/v1/endpoints``: create endpoints, change their traffic policy, roll them back.

The REST twins of ``shipyard endpoints …``. A refused change leaves the current revision
as it was (the service checks a change whole before writing anything).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from shipyard.api._deps import ActorDep, EndpointsDep
from shipyard.api.errors import responses
from shipyard.api.schemas import EndpointChange, EndpointCreate, RollbackRequest, no_nul
from shipyard.endpoints import Endpoint, Revision
from shipyard.registry.types import Event

router = APIRouter(prefix="/endpoints", tags=["endpoints"], responses=responses(400, 404, 422))

Name = Annotated[str, PathParam(description="Endpoint name.", max_length=256)]


@router.get("", response_model=list[Endpoint], summary="List endpoints")
def list_endpoints(endpoints: EndpointsDep) -> list[Endpoint]:
    """Every endpoint, by name, with the revision serving now."""
    return endpoints.list_endpoints()


@router.post(
    "",
    response_model=Endpoint,
    status_code=201,
    summary="Create an endpoint",
    responses=responses(409),
)
def create_endpoint(body: EndpointCreate, endpoints: EndpointsDep, actor: ActorDep) -> Endpoint:
    """A new endpoint whose revision 1 serves ``policy``; every version it names must
    exist and be ready. Versions are pinned: ``models:/NAME/N``."""
    no_nul(body, "the request body")
    return endpoints.create_endpoint(
        body.name, body.policy, description=body.description, reason=body.reason, actor=actor
    )


@router.get("/{name}", response_model=Endpoint, summary="Show an endpoint")
def get_endpoint(name: Name, endpoints: EndpointsDep) -> Endpoint:
    """The endpoint and the revision serving now."""
    return endpoints.get_endpoint(name)


@router.put(
    "/{name}",
    response_model=Endpoint,
    summary="Serve a new traffic policy (a new revision)",
    responses=responses(409),
)
def update_endpoint(
    name: Name, body: EndpointChange, endpoints: EndpointsDep, actor: ActorDep
) -> Endpoint:
    """Serve ``policy`` from a new revision, recording ``reason``; an identical policy
    changes nothing. A refused policy leaves the current revision untouched."""
    no_nul(body, "the request body")
    return endpoints.update_endpoint(name, body.policy, reason=body.reason, actor=actor)


@router.get("/{name}/events", response_model=list[Event], summary="History of an endpoint")
def endpoint_events(
    name: Name, endpoints: EndpointsDep, limit: Annotated[int, Query(ge=1, le=10_000)] = 50
) -> list[Event]:
    """Who changed what on the endpoint, newest first: revisions, rollbacks with their
    reasons, and its rollouts' steps and ends."""
    return endpoints.history(name, limit=limit)


@router.get(
    "/{name}/revisions", response_model=list[Revision], summary="List an endpoint's revisions"
)
def list_revisions(name: Name, endpoints: EndpointsDep) -> list[Revision]:
    """Every revision, oldest first, each with its policy, diff, reason, author and time."""
    return endpoints.list_revisions(name)


@router.post(
    "/{name}/rollback",
    response_model=Endpoint,
    summary="Make an earlier revision current again",
    responses=responses(409),
)
def rollback_endpoint(
    name: Name,
    endpoints: EndpointsDep,
    actor: ActorDep,
    body: RollbackRequest | None = None,
) -> Endpoint:
    """Return to revision ``to``, or by default to the one the current revision replaced.
    Its versions must still be ready."""
    body = body or RollbackRequest()
    no_nul(body, "the request body")
    return endpoints.rollback_endpoint(name, body.to, reason=body.reason, actor=actor)
