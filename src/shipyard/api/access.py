"""``/api/v1/whoami``, ``/api/v1/users`` and ``/api/v1/tokens``: who calls, and the users
and API tokens an admin manages. The REST twins of ``shipyard whoami``, ``shipyard users``
and ``shipyard tokens``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._deps import ActorDep, CallerDep, registry
from shipyard.api.errors import responses
from shipyard.api.schemas import NO_NUL
from shipyard.auth import Authenticator, AuthService, NewToken, Role, Token, User
from shipyard.auth.service import expiry
from shipyard.store.database import os_user

router = APIRouter(tags=["access"], responses=responses(400, 401, 403, 404, 422))

Name = Annotated[str, PathParam(max_length=128, pattern=NO_NUL, description="A user's name.")]
Key = Annotated[
    str, PathParam(max_length=128, pattern=NO_NUL, description="A token's key (sy_KEY).")
]


def service(request: Request, actor: ActorDep) -> AuthService:
    return AuthService(registry(request).db, actor)


ServiceDep = Annotated[AuthService, Depends(service)]


def _forget(request: Request, key: str | None = None) -> None:
    """This server stops trusting what it read of a token (every other one does within
    ``SHIPYARD_AUTH_CACHE_S``)."""
    guard = getattr(request.app.state, "auth", None)
    if isinstance(guard, Authenticator):
        guard.forget(key)


class Caller(BaseModel):
    """Who the request's token belongs to and what it may do."""

    user: str
    role: Role | None
    """``None`` when the server does not authenticate callers (``SHIPYARD_AUTH=false``)."""
    token: str | None
    """The token's key."""
    scopes: list[str] | None
    authenticated: bool


@router.get("/whoami", response_model=Caller, summary="Who the token belongs to")
def whoami(caller: CallerDep) -> Caller:
    if caller is None:
        return Caller(user=os_user(), role=None, token=None, scopes=None, authenticated=False)
    return Caller(
        user=caller.user,
        role=caller.role,  # type: ignore[arg-type]
        token=caller.key,
        scopes=list(caller.scopes) if caller.scopes is not None else None,
        authenticated=True,
    )


# -- users ------------------------------------------------------------------------------


class NewUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]
    role: Role
    """The most the user's tokens may do."""


class UserChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    disabled: bool | None = None
    """``true`` stops every token of the user; ``false`` lets them work again."""


@router.get("/users", response_model=list[User], summary="List users")
def list_users(access: ServiceDep) -> list[User]:
    return access.list_users()


@router.post("/users", response_model=User, status_code=201, summary="Create a user")
def create_user(body: NewUser, access: ServiceDep) -> User:
    return access.create_user(body.name, body.role)


@router.get("/users/{name}", response_model=User, summary="Show a user")
def get_user(name: Name, access: ServiceDep) -> User:
    return access.get_user(name)


@router.patch("/users/{name}", response_model=User, summary="Change a user's role, or disable")
def update_user(name: Name, body: UserChange, access: ServiceDep, request: Request) -> User:
    changed = access.update_user(name, role=body.role, disabled=body.disabled)
    _forget(request)
    return changed


# -- tokens -----------------------------------------------------------------------------


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: Annotated[str | None, Field(max_length=128, pattern=NO_NUL)] = None
    """Whose token (default: the caller's own user)."""
    role: Role | None = None
    """What it may do (default: all its user may; never more)."""
    name: Annotated[str, Field(max_length=128, pattern=NO_NUL)] = ""
    """What it is for, e.g. ``ci`` or ``fraud-service``."""
    expires: Annotated[str | None, Field(max_length=64, pattern=NO_NUL)] = None
    """When it stops working: a time (ISO 8601 with a zone) or a while from now
    (``90d``); default never."""
    scopes: Annotated[list[str] | None, Field(max_length=100)] = None
    """``model:NAME`` / ``endpoint:NAME`` it is limited to (``*`` a wildcard)."""
    rate_limit: Annotated[float | None, Field(gt=0)] = None
    """Requests per second per server process (default: ``SHIPYARD_RATE_LIMIT``)."""


@router.get("/tokens", response_model=list[Token], summary="List tokens (never their secret)")
def list_tokens(
    access: ServiceDep,
    user: Annotated[str | None, Query(max_length=128, description="Only this user's.")] = None,
    all: Annotated[bool, Query(description="Expired and revoked ones too.")] = False,
) -> list[Token]:
    return access.list_tokens(user=user, all=all)


@router.post(
    "/tokens",
    response_model=NewToken,
    status_code=201,
    summary="Create a token (its value is in this answer only)",
)
def create_token(body: TokenRequest, access: ServiceDep, caller: CallerDep) -> NewToken:
    user = body.user or (caller.user if caller is not None else os_user())
    when: datetime | None = expiry(body.expires)
    return access.create_token(
        user,
        body.role,
        name=body.name,
        expires_at=when,
        scopes=body.scopes,
        rate_limit=body.rate_limit,
    )


@router.get("/tokens/{key}", response_model=Token, summary="Show a token")
def get_token(key: Key, access: ServiceDep) -> Token:
    return access.get_token(key)


@router.delete("/tokens/{key}", response_model=Token, summary="Revoke a token")
def revoke_token(key: Key, access: ServiceDep, request: Request) -> Token:
    revoked = access.revoke_token(key)
    _forget(request, revoked.key)
    return revoked
