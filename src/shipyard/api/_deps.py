"""What every route needs: the services, the caller (their token checked against what the
route needs), and who is acting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shipyard.auth import Authenticator, Principal
from shipyard.auth.roles import control_plane_action, control_plane_target
from shipyard.batch.schedules import Schedules
from shipyard.endpoints import Endpoints, RolloutController
from shipyard.monitoring import MonitorService
from shipyard.predictions import FeedbackStore
from shipyard.registry import Registry
from shipyard.store import audit

ACTOR_HEADER = "X-Shipyard-Actor"
API_PREFIX = "/api/v1"

bearer = HTTPBearer(
    auto_error=False,
    description="API token (`Authorization: Bearer <token>`): `shipyard init` saves an "
    "admin token to `$SHIPYARD_HOME/credentials`; `shipyard tokens create --role ROLE` makes "
    "others. Roles: admin, maintainer, viewer, predictor.",
)


async def caller(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    """Who calls, if they may call this route (401, 403 or 429 otherwise); ``None`` on
    an open route or with authentication off."""
    guard = cast(Authenticator, request.app.state.auth)
    route = request.scope.get("route")
    template = str(getattr(route, "path", request.url.path))
    path = template.partition(API_PREFIX)[2] if API_PREFIX in template else template
    action = control_plane_action(request.method, path)
    kind, name = control_plane_target(path, request.path_params)
    return await guard.check(request.headers.get("authorization"), action, kind, name)


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
    who_calls: Annotated[Principal | None, Depends(caller)],
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
    """The actor a change is recorded under: the caller's user (an admin's token may name
    someone else in the header, say a deployment bot acting for a person); ``None`` lets
    the service use its default. The request's changes join the audit trail as theirs."""
    named = (x_shipyard_actor or "").strip() or None
    if who_calls is None:
        who = named
    elif named is not None and who_calls.role == "admin" and named != who_calls.user:
        who = f"{named} (by {who_calls.user})"
    else:
        who = who_calls.user
    with audit.acting_as(who):
        yield who


RegistryDep = Annotated[Registry, Depends(registry)]
EndpointsDep = Annotated[Endpoints, Depends(endpoints)]
RolloutsDep = Annotated[RolloutController, Depends(rollouts)]
FeedbackDep = Annotated[FeedbackStore, Depends(feedback)]
MonitorsDep = Annotated[MonitorService, Depends(monitors)]
SchedulesDep = Annotated[Schedules, Depends(schedules)]
ActorDep = Annotated[str | None, Depends(actor)]
CallerDep = Annotated[Principal | None, Depends(caller)]
