"""Column policies of models and endpoints: ``/api/v1/models/{name}/column-policy``,
``/api/v1/endpoints/{name}/column-policy`` and ``/api/v1/column-policies``. The REST
twins of ``shipyard policy set|show|list|remove``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._deps import ActorDep, registry
from shipyard.api.errors import responses
from shipyard.api.schemas import NO_NUL
from shipyard.protection.policy import COLUMN_MAX
from shipyard.protection.service import ColumnPolicies, ColumnPolicy

router = APIRouter(tags=["column policies"], responses=responses(400, 404, 422))


def policies(request: Request) -> ColumnPolicies:
    """The column policies of the server's store, with the server's keys."""
    return ColumnPolicies.of(registry(request))


PoliciesDep = Annotated[ColumnPolicies, Depends(policies)]
Name = Annotated[str, PathParam(max_length=128, pattern=NO_NUL)]
Columns = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=COLUMN_MAX, pattern=NO_NUL)]],
    Query(alias="column", description="Remove only these columns (repeatable)."),
]


class PolicyBody(BaseModel):
    """A whole column policy: the action for each protected column."""

    model_config = ConfigDict(extra="forbid")

    columns: Annotated[dict[str, str], Field(min_length=1, max_length=10_000)]
    """``{"ssn": "encrypt", "email": "hash", "card": "mask", "notes": "drop"}``; actions:
    ``drop``, ``hash``, ``encrypt``, ``mask``."""


@router.get("/column-policies", response_model=list[ColumnPolicy], summary="List column policies")
def list_policies(
    service: PoliciesDep,
    kind: Annotated[str | None, Query(description="`model` or `endpoint`.")] = None,
) -> list[ColumnPolicy]:
    """Every column policy, models' first, by name."""
    return service.list(kind)


def _routes(kind: str, prefix: str) -> None:
    @router.get(
        f"{prefix}/{{name}}/column-policy",
        response_model=ColumnPolicy,
        summary=f"Show an {kind}'s column policy"
        if kind == "endpoint"
        else "Show a model's column policy",
        name=f"get_{kind}_column_policy",
    )
    def get(name: Name, service: PoliciesDep) -> ColumnPolicy:
        return service.get(kind, name)

    @router.put(
        f"{prefix}/{{name}}/column-policy",
        response_model=ColumnPolicy,
        summary=f"Set the {kind}'s column policy",
        name=f"set_{kind}_column_policy",
        responses=responses(500),
    )
    def put(name: Name, body: PolicyBody, service: PoliciesDep, actor: ActorDep) -> ColumnPolicy:
        """Make ``columns`` the whole policy: from the next write on, those input columns
        are dropped, hashed, encrypted or masked before anything is written. Refused
        (500, ``ConfigurationError``) when the server lacks a key an action needs."""
        return service.set(kind, name, body.columns, actor=actor)

    @router.delete(
        f"{prefix}/{{name}}/column-policy",
        response_model=ColumnPolicy | None,
        summary=f"Remove the {kind}'s column policy, or some of its columns",
        name=f"remove_{kind}_column_policy",
    )
    def delete(
        name: Name,
        service: PoliciesDep,
        actor: ActorDep,
        column: Columns = [],  # noqa: B006
    ) -> ColumnPolicy | None:
        """Remove the named columns from the policy (all of it without ``column``); what
        is left, or ``null``. Those columns are written in the clear from then on."""
        return service.remove(kind, name, column, actor=actor)


_routes("model", "/models")
_routes("endpoint", "/endpoints")

__all__ = ["router"]
