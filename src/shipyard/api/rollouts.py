"""``/api/v1/endpoints/{name}/rollout`` and ``/api/v1/rollouts``: progressive rollouts.

The REST twins of ``shipyard rollout start|show|list|pause|resume|abort``. ``shipyard
rollout run`` has none: it is the controller loop that advances rollouts, not a change
to make. A refused start leaves the endpoint's current revision as it was (the service
checks the plan, the guards and the versions before writing anything).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shipyard.api._deps import ActorDep, RolloutsDep
from shipyard.api.endpoints import Name
from shipyard.api.errors import responses
from shipyard.api.schemas import RolloutReason, RolloutStart, no_nul
from shipyard.endpoints import Rollout

router = APIRouter(tags=["rollouts"], responses=responses(400, 404, 422))


@router.post(
    "/endpoints/{name}/rollout",
    response_model=Rollout,
    status_code=201,
    summary="Start a rollout to a new version",
    responses=responses(409),
)
def start_rollout(
    name: Name, body: RolloutStart, rollouts: RolloutsDep, actor: ActorDep
) -> Rollout:
    """Start moving the endpoint to version ``to`` step by step, and apply the first step.
    The endpoint must serve one version (a ``single`` policy) and have no running or
    paused rollout. Steps advance while a rollout controller runs."""
    no_nul(body, "the request body")
    return rollouts.start(
        name,
        body.to,
        steps=body.steps,
        interval=body.interval,
        guards=body.guards,
        min_rows=body.min_rows,
        actor=actor,
    )


@router.get("/endpoints/{name}/rollout", response_model=Rollout, summary="Show a rollout")
def get_rollout(name: Name, rollouts: RolloutsDep) -> Rollout:
    """The endpoint's latest rollout: state, step, the guards' last verdicts, and why it
    ended."""
    return rollouts.get(name)


@router.post(
    "/endpoints/{name}/rollout/pause",
    response_model=Rollout,
    summary="Pause a running rollout",
    responses=responses(409),
)
def pause_rollout(
    name: Name, rollouts: RolloutsDep, actor: ActorDep, body: RolloutReason | None = None
) -> Rollout:
    """Hold the running rollout: traffic stays where it is until resumed."""
    body = body or RolloutReason()
    no_nul(body, "the request body")
    return rollouts.pause(name, reason=body.reason, actor=actor)


@router.post(
    "/endpoints/{name}/rollout/resume",
    response_model=Rollout,
    summary="Resume a paused rollout",
    responses=responses(409),
)
def resume_rollout(name: Name, rollouts: RolloutsDep, actor: ActorDep) -> Rollout:
    """Run a paused rollout again; its current step is judged afresh from now."""
    return rollouts.resume(name, actor=actor)


@router.post(
    "/endpoints/{name}/rollout/abort",
    response_model=Rollout,
    summary="Abort a rollout",
    responses=responses(409),
)
def abort_rollout(
    name: Name, rollouts: RolloutsDep, actor: ActorDep, body: RolloutReason | None = None
) -> Rollout:
    """End the rollout and return the endpoint to the revision it started from (left as
    it is if the endpoint was changed by hand meanwhile)."""
    body = body or RolloutReason()
    no_nul(body, "the request body")
    return rollouts.abort(name, reason=body.reason, actor=actor)


@router.get("/rollouts", response_model=list[Rollout], summary="List rollouts")
def list_rollouts(
    rollouts: RolloutsDep,
    active: Annotated[bool, Query(description="Only running and paused rollouts.")] = False,
    endpoint: Annotated[
        str | None, Query(max_length=256, description="Only this endpoint's.")
    ] = None,
) -> list[Rollout]:
    """Rollouts, newest first."""
    return rollouts.list(endpoint=endpoint, active=active)
