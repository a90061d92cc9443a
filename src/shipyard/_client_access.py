"""The calls of :class:`shipyard.Client` on users and API tokens.

:class:`Access` is a mixin: :class:`~shipyard.client.Client` inherits it and supplies
:meth:`~Access._request`.
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any

import httpx
from pydantic import TypeAdapter

from shipyard.auth import NewToken, Token, User


class Access(abc.ABC):
    """Who calls, users and tokens over ``/api/v1/whoami``, ``/users`` and ``/tokens``."""

    @abc.abstractmethod
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The server's successful response, or raise the error it answered."""

    def whoami(self) -> dict[str, Any]:
        """Whose token this client sends, its role and scopes (``shipyard whoami``)."""
        found: dict[str, Any] = self._request("GET", "/whoami").json()
        return found

    def list_users(self) -> list[User]:
        """Every user (``shipyard users list``; admins only)."""
        return TypeAdapter(list[User]).validate_python(self._request("GET", "/users").json())

    def create_user(self, name: str, role: str) -> User:
        """A new user whose tokens may do at most what ``role`` allows."""
        body = {"name": name, "role": role}
        return User.model_validate(self._request("POST", "/users", json=body).json())

    def get_user(self, name: str) -> User:
        return User.model_validate(self._request("GET", f"/users/{name}").json())

    def update_user(
        self, name: str, *, role: str | None = None, disabled: bool | None = None
    ) -> User:
        """Change a user's role, or disable (``True``) or enable (``False``) them."""
        body = {k: v for k, v in {"role": role, "disabled": disabled}.items() if v is not None}
        return User.model_validate(self._request("PATCH", f"/users/{name}", json=body).json())

    def create_token(
        self,
        role: str | None = None,
        *,
        user: str | None = None,
        name: str = "",
        expires: str | datetime | None = None,
        scopes: list[str] | None = None,
        rate_limit: float | None = None,
    ) -> NewToken:
        """A new API token (``shipyard tokens create``): its value, in ``.token``, is in
        this answer only. ``expires`` is a time or a while from now (``"90d"``)."""
        body: dict[str, Any] = {"role": role, "user": user, "name": name, "scopes": scopes}
        body["rate_limit"] = rate_limit
        body["expires"] = expires.isoformat() if isinstance(expires, datetime) else expires
        clean = {k: v for k, v in body.items() if v is not None}
        return NewToken.model_validate(self._request("POST", "/tokens", json=clean).json())

    def list_tokens(self, *, user: str | None = None, all: bool = False) -> list[Token]:
        """Tokens, newest first, never their secret: active ones, or ``all``."""
        params: dict[str, Any] = {"all": all} | ({"user": user} if user else {})
        found = self._request("GET", "/tokens", params=params).json()
        return TypeAdapter(list[Token]).validate_python(found)

    def revoke_token(self, key: str) -> Token:
        """Revoke a token by its key (``sy_KEY`` or the whole token)."""
        from shipyard.auth.tokens import key_of

        return Token.model_validate(self._request("DELETE", f"/tokens/{key_of(key)}").json())
