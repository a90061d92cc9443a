"""``/api/v1/alerts`` and ``/api/v1/alert-rules``: alerts and the rules that open them.

The REST twins of ``shipyard alerts list|show|ack|resolve|evaluate`` and ``shipyard
alerts rules create|list|delete``. Who acknowledges or resolves is the
``X-Shipyard-Actor`` header (default: the server's actor).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from shipyard.alerting import Alert, AlertService, Rule
from shipyard.api._deps import ActorDep, endpoints, registry
from shipyard.api.errors import responses
from shipyard.api.schemas import MAX_INT, NO_NUL, no_nul

router = APIRouter(tags=["alerts"], responses=responses(400, 404, 422))

Short = Annotated[str, Field(min_length=1, max_length=256, pattern=NO_NUL)]
AlertId = Annotated[int, Path(ge=1, le=MAX_INT, description="The alert's id.")]


def alerts(request: Request) -> AlertService:
    """Alerts on the server's store, delivered as its settings say."""
    settings = endpoints(request).settings
    return AlertService(
        registry(request), attempts=settings.alert_attempts, backoff_s=settings.alert_backoff_s
    )


AlertsDep = Annotated[AlertService, Depends(alerts)]


class AlertSource(BaseModel):
    """What a rule watches: a monitor's metric (optionally one column), or rollouts rolled
    back by their guards (optionally on one endpoint)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["monitor", "rollout"]
    monitor: Short | None = None
    metric: Short | None = None
    column: Short | None = None
    endpoint: Short | None = None


class AlertRuleCreate(BaseModel):
    """A new alert rule."""

    model_config = ConfigDict(extra="forbid")

    name: Short
    source: AlertSource
    condition: Annotated[str, Field(max_length=256, pattern=NO_NUL)] | None = None
    """``status == breach`` (default: the monitor's own threshold) or ``value OP NUMBER``."""
    severity: Literal["info", "warning", "critical"] = "warning"
    cooldown: Annotated[str, Field(max_length=32)] | Annotated[float, Field(ge=0)] = "15m"
    """No re-notification of a firing alert within this: ``30s``, ``15m``, ``1h`` or seconds."""
    channels: Annotated[list[dict[str, Any]], Field(max_length=20)] = []
    """``{"type": "webhook", "url": …}``, ``{"type": "slack", "url": …}`` or ``{"type":
    "email", "host": …, "port": …, "from": …, "to": [...]}``."""
    enabled: bool = True


@router.get("/alert-rules", response_model=list[Rule], summary="List alert rules")
def list_rules(service: AlertsDep) -> list[Rule]:
    """Every alert rule, by name."""
    return service.list_rules()


@router.post(
    "/alert-rules",
    response_model=Rule,
    status_code=201,
    summary="Create an alert rule",
    responses=responses(409),
)
def create_rule(body: AlertRuleCreate, service: AlertsDep, actor: ActorDep) -> Rule:
    """A rule on a monitor's results or on rollbacks; it reads only results and events
    stored from now on."""
    no_nul(body, "the request body")
    return service.create_rule(
        body.name,
        source=body.source.model_dump(exclude_none=True),
        condition=body.condition,
        severity=body.severity,
        cooldown=body.cooldown,
        channels=body.channels,
        enabled=body.enabled,
        actor=actor,
    )


@router.get("/alert-rules/{name}", response_model=Rule, summary="Show an alert rule")
def get_rule(name: Annotated[str, Path(max_length=256)], service: AlertsDep) -> Rule:
    return service.get_rule(name)


@router.delete("/alert-rules/{name}", response_model=Rule, summary="Delete an alert rule")
def delete_rule(
    name: Annotated[str, Path(max_length=256)], service: AlertsDep, actor: ActorDep
) -> Rule:
    """Remove the rule with its alerts and their deliveries; returns what was removed."""
    return service.delete_rule(name, actor=actor)


@router.get("/alerts", response_model=list[Alert], summary="List alerts")
def list_alerts(
    service: AlertsDep,
    state: Annotated[Literal["firing", "acknowledged", "resolved"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
) -> list[Alert]:
    """Alerts, newest first; only those in ``state`` when given."""
    return service.list(state, limit=limit)


@router.post("/alerts/evaluate", response_model=list[Alert], summary="Evaluate alert rules now")
def evaluate(service: AlertsDep) -> list[Alert]:
    """One round over every enabled rule (the server runs one every
    ``SHIPYARD_ALERT_PERIOD_S``); returns the alerts it opened, bumped or resolved."""
    return service.evaluate()


class Who(BaseModel):
    """Who acknowledges or resolves (default: the ``X-Shipyard-Actor`` header)."""

    model_config = ConfigDict(extra="forbid")

    by: Annotated[str, Field(min_length=1, max_length=256)] | None = None


@router.get("/alerts/{alert_id}", response_model=Alert, summary="Show an alert")
def get_alert(alert_id: AlertId, service: AlertsDep) -> Alert:
    """An alert with every delivery attempt made for it, failures with their errors."""
    return service.get(alert_id)


@router.post(
    "/alerts/{alert_id}/ack",
    response_model=Alert,
    summary="Acknowledge a firing alert",
    responses=responses(409),
)
def ack(alert_id: AlertId, service: AlertsDep, actor: ActorDep, body: Who | None = None) -> Alert:
    """Someone is on it: it is not re-notified while it keeps firing. Who: ``by`` in the
    body, else the ``X-Shipyard-Actor`` header."""
    return service.ack(alert_id, body.by if body is not None and body.by else actor)


@router.post(
    "/alerts/{alert_id}/resolve",
    response_model=Alert,
    summary="Resolve an alert by hand",
    responses=responses(409),
)
def resolve(
    alert_id: AlertId, service: AlertsDep, actor: ActorDep, body: Who | None = None
) -> Alert:
    """Close the alert; a resolved notification goes out through the rule's channels.
    Who: ``by`` in the body, else the ``X-Shipyard-Actor`` header."""
    return service.resolve(alert_id, body.by if body is not None and body.by else actor)
