"""What every route needs: the services, who is acting, and the (not yet enforced) token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shipyard.batch.schedules import Schedules
from shipyard.endpoints import Endpoints, RolloutController
from shipyard.monitoring import MonitorService
from shipyard.predictions import FeedbackStore
from shipyard.registry import Registry
from shipyard.store import audit

ACTOR_HEADER = "X-Shipyard-Actor"

bearer = HTTPBearer(
    auto_error=False,
    description="API token (`Authorization: Bearer <token>`). Accepted; not yet enforced.",
)


def token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str | None:
    """The caller's bearer token, if any (read, not checked: auth comes later)."""
    return credentials.credentials if credentials is not None else None


def registry(request: Request) -> Registry:
    return cast(Registry, request.app.state.registry)


def endpoints(request: Request) -> Endpoints:
    return cast(Endpoints, request.app.state.endpoints)


def rollouts(request: Request) -> RolloutController:
    """Rollouts on the server's store, judged on its prediction log."""
    service = endpoints(request)
    return RolloutController(service, service.settings.predictions)


def feedback(request: Request) -> FeedbackStore:
    """The server's feedback store, checked against its prediction log."""
    return FeedbackStore.from_settings(endpoints(request).settings)


def monitors(request: Request) -> MonitorService:
    """Monitors on the server's store, reading its prediction log and feedback."""
    settings = endpoints(request).settings
    return MonitorService(registry(request), settings.predictions, settings.feedback)


def schedules(request: Request) -> Schedules:
    """Batch schedules on the server's store; runs started here score on its threads."""
    return cast(Schedules, request.app.state.schedules)


async def actor(
    x_shipyard_actor: Annotated[
        str | None,
        Header(
            alias=ACTOR_HEADER,
            max_length=256,
            pattern=r"^[^\x00-\x1f]*$",
            description="Who makes the change (recorded in events and revisions); "
            "default: the server's SHIPYARD_ACTOR, else its operating-system user.",
        ),
    ] = None,
) -> AsyncIterator[str | None]:
    """The actor a change is recorded under; ``None`` lets the service use its default.
    The request's changes join the audit trail as theirs."""
    who = (x_shipyard_actor or "").strip() or None
    with audit.acting_as(who):
        yield who


RegistryDep = Annotated[Registry, Depends(registry)]
EndpointsDep = Annotated[Endpoints, Depends(endpoints)]
RolloutsDep = Annotated[RolloutController, Depends(rollouts)]
FeedbackDep = Annotated[FeedbackStore, Depends(feedback)]
MonitorsDep = Annotated[MonitorService, Depends(monitors)]
SchedulesDep = Annotated[Schedules, Depends(schedules)]
ActorDep = Annotated[str | None, Depends(actor)]
