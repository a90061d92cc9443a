"""Who is calling, and may they: the check every server process makes on every request.

:class:`Authenticator` reads ``Authorization: Bearer <token>``, finds the token (kept for
``cache_s`` seconds after it was read from the store, so a request costs a dictionary
lookup, one SHA-256 and a constant-time comparison; a revoked token stops working within
that time), checks its role and scopes against what the request needs, and takes one
request from the token's allowance (a token bucket per token and process: ``rate_limit``
requests per second, bursts of up to a second's worth).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from datetime import datetime

from shipyard.auth import tokens
from shipyard.auth.roles import DOING, ROLES, in_scope, roles_allowing
from shipyard.auth.service import AuthService
from shipyard.config import Settings
from shipyard.errors import ForbiddenError, RateLimitedError, UnauthorizedError
from shipyard.store.database import Database

#: Unknown keys remembered at most (then forgotten all at once).
MOST_REMEMBERED = 10_000

HOW = (
    "send Authorization: Bearer <token>; shipyard init saves an admin token to "
    "$SHIPYARD_HOME/credentials, and shipyard tokens create --role ROLE makes others"
)


@dataclass(slots=True)
class Principal:
    """A caller with a valid token: their user, role, what they may do and reach."""

    user: str
    role: str
    key: str
    actions: frozenset[str]
    scopes: tuple[str, ...] | None
    rate_limit: float | None
    expires_at: float | None = None
    secret_hash: str = field(default="", repr=False)
    revoked_at: datetime | None = None
    disabled: bool = False


class Bucket:
    """A token bucket: ``rate`` per second, holding at most ``max(1, rate)``."""

    __slots__ = ("rate", "capacity", "level", "at")

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.level = self.capacity
        self.at = time.monotonic()

    def take(self) -> float:
        """``0`` when a request may go now (and it is counted), else seconds to wait."""
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.at) * self.rate)
        self.at = now
        if self.level >= 1.0:
            self.level -= 1.0
            return 0.0
        return (1.0 - self.level) / self.rate


class Authenticator:
    """Checks requests against the users and tokens in ``db``; with ``enabled`` false,
    everyone may do everything (for a server behind a proxy that authenticates)."""

    def __init__(
        self,
        db: Database,
        *,
        enabled: bool = True,
        cache_s: float = 5.0,
        rate_limit: float | None = None,
    ) -> None:
        self.service = AuthService(db)
        self.enabled = enabled
        self.cache_s = cache_s
        self.rate_limit = rate_limit
        self._entries: dict[str, tuple[float, Principal | None]] = {}
        self._buckets: dict[str, Bucket] = {}

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> Authenticator:
        """The checks ``SHIPYARD_AUTH``, ``_AUTH_CACHE_S`` and ``_RATE_LIMIT`` ask for."""
        return cls(
            db,
            enabled=settings.auth,
            cache_s=settings.auth_cache_s,
            rate_limit=settings.rate_limit,
        )

    def forget(self, key: str | None = None) -> None:
        """Read ``key`` (default: every token) from the store again on its next use."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(tokens.key_of(key), None)

    async def check(
        self,
        authorization: str | None,
        action: str,
        kind: str | None = None,
        name: str | None = None,
    ) -> Principal | None:
        """The caller, if they may do ``action`` on model or endpoint ``kind:name``;
        ``None`` for an open route or when authentication is off. Raises
        :class:`UnauthorizedError`, :class:`ForbiddenError` or :class:`RateLimitedError`."""
        if not self.enabled or action == "open":
            return None
        caller = await self.authenticate(authorization)
        self.authorize(caller, action, kind, name)
        self.throttle(caller)
        return caller

    async def authenticate(self, authorization: str | None) -> Principal:
        """The caller an ``Authorization`` header names, or :class:`UnauthorizedError`."""
        if not authorization:
            raise UnauthorizedError(f"this request needs an API token: {HOW}")
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise UnauthorizedError(f"the Authorization header must read 'Bearer <token>'; {HOW}")
        parsed = tokens.parse(value.strip())
        if parsed is None:
            raise UnauthorizedError(f"the API token is not a Shipyard token (sy_…); {HOW}")
        key, secret = parsed
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or now - entry[0] > self.cache_s:
            caller = await asyncio.to_thread(self._load, key)
            if len(self._entries) >= MOST_REMEMBERED:
                self._entries.clear()
            self._entries[key] = (now, caller)
        else:
            caller = entry[1]
        if caller is None or not tokens.matches(secret, caller.secret_hash):
            raise UnauthorizedError(f"the API token is unknown; {HOW}")
        if caller.revoked_at is not None:
            raise UnauthorizedError(
                f"the API token sy_{key} was revoked on {caller.revoked_at:%Y-%m-%d %H:%M} "
                "UTC; ask an admin for a new one (shipyard tokens create)"
            )
        if caller.disabled:
            raise UnauthorizedError(
                f"user {caller.user!r} is disabled; an admin can enable them "
                f"(shipyard users enable {caller.user})"
            )
        if caller.expires_at is not None and time.time() >= caller.expires_at:
            raise UnauthorizedError(
                f"the API token sy_{key} expired; ask an admin for a new one "
                "(shipyard tokens create --expires 90d)"
            )
        return caller

    def _load(self, key: str) -> Principal | None:
        found = self.service.lookup(key)
        if found is None:
            return None
        row, user = found
        # A token never does more than its user may now, whatever it was made with.
        actions = ROLES.get(row.role, frozenset()) & ROLES.get(user.role, frozenset())
        return Principal(
            user=user.name,
            role=row.role,
            key=row.key,
            actions=actions,
            scopes=tuple(row.scopes) if row.scopes is not None else None,
            rate_limit=row.rate_limit,
            expires_at=row.expires_at.timestamp() if row.expires_at is not None else None,
            secret_hash=row.secret_hash,
            revoked_at=row.revoked_at,
            disabled=user.disabled,
        )

    @staticmethod
    def authorize(
        caller: Principal, action: str, kind: str | None = None, name: str | None = None
    ) -> None:
        """:class:`ForbiddenError` unless ``caller`` may do ``action`` on ``kind:name``."""
        if action not in caller.actions:
            allowed = " or ".join(roles_allowing(action))
            raise ForbiddenError(
                f"token sy_{caller.key} of {caller.user} (role {caller.role}) may not "
                f"{DOING.get(action, action)}; this needs a token with role {allowed}"
            )
        if not in_scope(caller.scopes, kind, name):
            scopes = ", ".join(caller.scopes or ())
            what = f"{kind} {name!r}" if kind else "routes that name no model or endpoint"
            raise ForbiddenError(
                f"token sy_{caller.key} is limited to {scopes}; it may not reach {what}. "
                "Use a token without scopes, or one whose scopes name it"
            )

    def throttle(self, caller: Principal) -> None:
        """Count one request of ``caller``; :class:`RateLimitedError` over their limit."""
        rate = caller.rate_limit if caller.rate_limit is not None else self.rate_limit
        if rate is None:
            return
        bucket = self._buckets.get(caller.key)
        if bucket is None or bucket.rate != rate:
            bucket = self._buckets[caller.key] = Bucket(rate)
        wait = bucket.take()
        if wait:
            raise RateLimitedError(
                f"token sy_{caller.key} may send {rate:g} requests per second; retry after "
                f"{math.ceil(wait)}s (an admin can raise its limit: shipyard tokens create "
                "--rate-limit)",
                retry_after=max(1, math.ceil(wait)),
            )
