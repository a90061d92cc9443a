"""Users and their API tokens in the metadata store, and the first admin of a new home.

:class:`AuthService` makes, lists, changes and revokes them; every change joins the audit
trail (the token's secret never does: only its key). :func:`bootstrap` gives a new home its
first user, an admin named after whoever ran it, and saves an admin token to
``$SHIPYARD_HOME/credentials`` (mode 0600), where the CLI and SDK find it.
"""

from __future__ import annotations

import logging
import math
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shipyard.auth import tokens
from shipyard.auth.roles import ROLES, Role, check_role, check_scope, within
from shipyard.config import Settings
from shipyard.endpoints.plan import parse_duration
from shipyard.errors import (
    ConflictError,
    DatabaseError,
    InvalidInputError,
    TokenNotFoundError,
    UserNotFoundError,
)
from shipyard.fields import parse_time
from shipyard.registry.names import validate_model_name
from shipyard.store import audit
from shipyard.store.database import Database, os_user
from shipyard.store.tables import TokenRow, UserRow, utcnow

log = logging.getLogger("shipyard.auth")

#: The file (under ``$SHIPYARD_HOME``) that holds the token the CLI and SDK send.
CREDENTIALS = "credentials"
#: Most characters in a token's name.
TOKEN_NAME_MAX = 128


class User(BaseModel):
    """Someone who holds tokens, and the most their tokens may do."""

    name: str
    role: Role
    disabled: bool
    tokens: int
    """Tokens still active (not revoked, not expired)."""
    created_by: str
    created_at: datetime


class Token(BaseModel):
    """An API token, as listed: everything but its secret."""

    key: str
    """The token's public part (``sy_<key>_…``): revoke it by this."""
    name: str
    user: str
    role: Role
    scopes: list[str] | None
    """Models and endpoints the token is limited to (``None``: all)."""
    rate_limit: float | None
    """Requests per second per server process (``None``: the server's default)."""
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    created_by: str
    created_at: datetime
    state: Literal["active", "expired", "revoked"]


class NewToken(Token):
    """A token just made: the only time its whole value is seen."""

    token: str


def check_user_name(name: object) -> str:
    """A user name: as a model name (letters, digits, ``.``, ``_``, ``-``; the ``@`` of an
    e-mail address too)."""
    text = str(name or "")
    try:
        validate_model_name(text.replace("@", "-"))
    except InvalidInputError:
        raise InvalidInputError(
            f"user name {text!r} is not allowed; use letters, digits, '.', '_', '-' and '@', "
            "starting and ending with a letter or digit (e.g. 'ana' or 'ana@example.com')"
        ) from None
    return text


def expiry(value: str | datetime | None) -> datetime | None:
    """When a token expires, from a time (ISO 8601 with a zone) or a while from now
    (``90d``, ``12h``, ``1w``); ``never``/``None``: it does not."""
    if value is None or isinstance(value, datetime):
        return value
    text = value.strip()
    if text.lower() in ("", "never"):
        return None
    if re.fullmatch(r"\d+(\.\d+)?\s*(ms|s|m|h|d|w)", text):
        return utcnow() + timedelta(seconds=parse_duration(text, "expires"))
    try:
        return parse_time(text, "expires")
    except InvalidInputError:
        raise InvalidInputError(
            f"expires {value!r} is neither a while from now (90d, 12h, 1w) nor a time with a "
            "zone (2027-01-01T00:00Z); give one of those, or never"
        ) from None


def _state(row: TokenRow, now: datetime) -> Literal["active", "expired", "revoked"]:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def _token(row: TokenRow, user: str, now: datetime | None = None) -> Token:
    return Token(
        key=row.key,
        name=row.name,
        user=user,
        role=check_role(row.role),
        scopes=row.scopes,
        rate_limit=row.rate_limit,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        created_by=row.created_by,
        created_at=row.created_at,
        state=_state(row, now or utcnow()),
    )


class AuthService:
    """Users and API tokens on ``db``; changes are recorded as ``actor``'s (default: the
    request's user, else the process's)."""

    def __init__(self, db: Database, actor: str | None = None) -> None:
        self.db = db
        self.actor = actor

    def _who(self) -> str:
        return self.actor or audit.ACTOR.get() or os_user()

    # -- users ------------------------------------------------------------------------

    def _user_row(self, s: Session, name: str) -> UserRow:
        row = s.scalar(select(UserRow).where(UserRow.name == name))
        if row is None:
            raise UserNotFoundError(
                f"no user {name!r}; list them with shipyard users list, or create one with "
                f"shipyard users create {name} --role ROLE"
            )
        return row

    def _to_user(self, s: Session, row: UserRow) -> User:
        now = utcnow()
        active = s.scalar(
            select(func.count())
            .select_from(TokenRow)
            .where(
                TokenRow.user_id == row.id,
                TokenRow.revoked_at.is_(None),
                (TokenRow.expires_at.is_(None)) | (TokenRow.expires_at > now),
            )
        )
        return User(
            name=row.name,
            role=check_role(row.role),
            disabled=row.disabled,
            tokens=int(active or 0),
            created_by=row.created_by,
            created_at=row.created_at,
        )

    def create_user(self, name: str, role: str) -> User:
        """A new user whose tokens may do at most what ``role`` allows."""
        name, role = check_user_name(name), check_role(role)
        taken = ConflictError(
            f"user {name!r} exists already; change it with shipyard users update {name}"
        )
        try:
            with self.db.session(write=True) as s:
                if s.scalar(select(UserRow.id).where(UserRow.name == name)) is not None:
                    raise taken
                row = UserRow(
                    name=name, role=role, disabled=False, created_by=self._who(),
                    created_at=utcnow(),
                )  # fmt: skip
                s.add(row)
                s.flush()
                return self._to_user(s, row)
        except DatabaseError as exc:
            if isinstance(exc.__cause__, IntegrityError):  # made at the same moment elsewhere
                raise taken from None
            raise

    def get_user(self, name: str) -> User:
        with self.db.session() as s:
            return self._to_user(s, self._user_row(s, name))

    def list_users(self) -> list[User]:
        with self.db.session() as s:
            rows = s.scalars(select(UserRow).order_by(UserRow.name)).all()
            return [self._to_user(s, row) for row in rows]

    def update_user(
        self, name: str, *, role: str | None = None, disabled: bool | None = None
    ) -> User:
        """Change a user's role (their tokens never do more than it allows, whatever role
        they were made with) or disable them (their tokens stop working) or enable them."""
        if role is not None:
            role = check_role(role)
        with self.db.session(write=True) as s:
            row = self._user_row(s, name)
            if role is not None:
                row.role = role
            if disabled is not None:
                row.disabled = disabled
            s.flush()
            if (row.disabled or row.role != "admin") and not self._admins_left(s):
                raise ConflictError(
                    f"{name!r} is the last enabled admin; make another admin first "
                    "(shipyard users create NAME --role admin), or no one could manage users"
                )
            return self._to_user(s, row)

    def _admins_left(self, s: Session) -> int:
        return int(
            s.scalar(
                select(func.count())
                .select_from(UserRow)
                .where(UserRow.role == "admin", UserRow.disabled.is_(False))
            )
            or 0
        )

    # -- tokens -----------------------------------------------------------------------

    def create_token(
        self,
        user: str,
        role: str | None = None,
        *,
        name: str = "",
        expires_at: datetime | None = None,
        scopes: list[str] | None = None,
        rate_limit: float | None = None,
    ) -> NewToken:
        """A new token for ``user`` with ``role`` (default: the user's own; never more).
        The whole token is in the answer, and nowhere else, ever."""
        if len(name) > TOKEN_NAME_MAX:
            raise InvalidInputError(
                f"token name is {len(name)} characters long; the limit is {TOKEN_NAME_MAX}"
            )
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise InvalidInputError("expires_at has no time zone; add one, e.g. Z")
            if expires_at <= utcnow():
                raise InvalidInputError(
                    f"expires_at {expires_at.isoformat()} is in the past; give a later time "
                    "or a while from now such as 90d"
                )
        if rate_limit is not None and (not math.isfinite(rate_limit) or rate_limit <= 0):
            raise InvalidInputError(
                f"rate_limit {rate_limit!r} must be a positive number of requests per second"
            )
        clean = sorted({check_scope(s) for s in scopes}) if scopes else None
        with self.db.session(write=True) as s:
            owner = self._user_row(s, user)
            given = check_role(role if role is not None else owner.role)
            if not within(given, owner.role):
                raise InvalidInputError(
                    f"role {given!r} allows more than user {user!r} may do ({owner.role}); "
                    f"give --role {owner.role} or less, or raise the user's role first"
                )
            if owner.disabled:
                raise ConflictError(
                    f"user {user!r} is disabled; enable them first (shipyard users enable {user})"
                )
            token, key, hashed = tokens.make()
            row = TokenRow(
                key=key, secret_hash=hashed, name=name, user_id=owner.id, role=given,
                scopes=clean, rate_limit=rate_limit, expires_at=expires_at,
                created_by=self._who(), created_at=utcnow(),
            )  # fmt: skip
            s.add(row)
            s.flush()
            return NewToken(token=token, **_token(row, owner.name).model_dump())

    def list_tokens(self, *, user: str | None = None, all: bool = False) -> list[Token]:
        """Tokens, newest first: active ones, or ``all`` (expired and revoked too)."""
        now = utcnow()
        with self.db.session() as s:
            query = select(TokenRow, UserRow.name).join(UserRow, TokenRow.user_id == UserRow.id)
            if user is not None:
                query = query.where(UserRow.id == self._user_row(s, user).id)
            rows = s.execute(query.order_by(TokenRow.id.desc())).all()
            found = [_token(row, owner, now) for row, owner in rows]
        return found if all else [t for t in found if t.state == "active"]

    def get_token(self, key: str) -> Token:
        key = tokens.key_of(key)
        with self.db.session() as s:
            found = s.execute(
                select(TokenRow, UserRow.name)
                .join(UserRow, TokenRow.user_id == UserRow.id)
                .where(TokenRow.key == key)
            ).first()
            if found is None:
                raise TokenNotFoundError(
                    f"no token {key!r}; list them with shipyard tokens list --all"
                )
            return _token(found[0], found[1])

    def revoke_token(self, key: str) -> Token:
        """Revoke a token by its key: it stops working on every server within
        ``SHIPYARD_AUTH_CACHE_S`` seconds. Revoking it again changes nothing."""
        key = tokens.key_of(key)
        with self.db.session(write=True) as s:
            row = s.scalar(select(TokenRow).where(TokenRow.key == key))
            if row is None:
                raise TokenNotFoundError(
                    f"no token {key!r}; list them with shipyard tokens list --all"
                )
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                row.revoked_by = self._who()
                s.flush()
            owner = s.get(UserRow, row.user_id)
            return _token(row, owner.name if owner else "")

    # -- lookups for servers ----------------------------------------------------------

    def lookup(self, key: str) -> tuple[TokenRow, UserRow] | None:
        """The token with ``key`` and its user, as stored (for the authenticator)."""
        with self.db.session() as s:
            found = s.execute(
                select(TokenRow, UserRow)
                .join(UserRow, TokenRow.user_id == UserRow.id)
                .where(TokenRow.key == key)
            ).first()
            return (found[0], found[1]) if found is not None else None

    def has_users(self) -> bool:
        with self.db.session() as s:
            return s.scalar(select(UserRow.id).limit(1)) is not None


# -- credentials ----------------------------------------------------------------------


def credentials_path(home: Path) -> Path:
    """``HOME/credentials``: :attr:`Settings.credentials` for that home."""
    return Settings(home=home).credentials


def read_credentials(home: Path) -> str | None:
    """The token saved in ``HOME/credentials`` (``SHIPYARD_TOKEN=…``), if any."""
    path = credentials_path(home)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise InvalidInputError(
            f"cannot read {path} ({exc.strerror}); check its permissions, or set SHIPYARD_TOKEN"
        ) from None
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == "SHIPYARD_TOKEN" and value.strip():
            return value.strip().strip('"')
    return None


def write_credentials(home: Path, token: str, user: str, role: str) -> Path:
    """Save ``token`` to ``HOME/credentials``, readable by its owner only (0600),
    replacing what was there."""
    path = credentials_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        "# Shipyard credentials: the API token the shipyard CLI and SDK send as\n"
        f"# Authorization: Bearer <token>. For user {user} (role {role}), saved {when}.\n"
        "# Keep this file private; revoke the token with shipyard tokens revoke KEY.\n"
        f"SHIPYARD_TOKEN={token}\n"
    )
    temporary = path.with_name(f".{CREDENTIALS}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        os.write(descriptor, text.encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)
    return path


def bootstrap(db: Database, home: Path, user: str | None = None) -> Path | None:
    """On a store with no users yet: create ``user`` (default: who runs this) as an admin
    and save an admin token to ``HOME/credentials``; the file's path. ``None`` when the
    store has users already (then nothing changes)."""
    if AuthService(db).has_users():
        return None
    name = check_user_name(user or os_user())
    service = AuthService(db, actor=name)
    try:
        service.create_user(name, "admin")
    except ConflictError:  # another process made the first user just now
        return None
    made = service.create_token(name, "admin", name="credentials")
    path = write_credentials(home, made.token, name, "admin")
    log.info("made user %s (admin) and saved an admin token to %s", name, path)
    return path


__all__ = [
    "CREDENTIALS",
    "ROLES",
    "AuthService",
    "NewToken",
    "Token",
    "TokenNotFoundError",
    "User",
    "UserNotFoundError",
    "bootstrap",
    "read_credentials",
    "write_credentials",
]
