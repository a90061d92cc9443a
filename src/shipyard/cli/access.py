"""``shipyard init``, ``shipyard whoami``, ``shipyard tokens`` and ``shipyard users``: the
first admin token, and the users and API tokens of a store.

They work on the local store directly (whoever can open it may do anything), or on a
server with ``--url`` (or ``SHIPYARD_URL``), sending the token in ``SHIPYARD_TOKEN`` or
``$SHIPYARD_HOME/credentials``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import typer
from rich.table import Table

from shipyard.auth import AuthService, NewToken, Token, User, bootstrap, read_credentials
from shipyard.auth.roles import ROLES
from shipyard.auth.service import expiry
from shipyard.cli._common import console, print_json, registry, when
from shipyard.config import Settings
from shipyard.errors import InvalidInputError
from shipyard.store.database import os_user

tokens_app = typer.Typer(
    help="API tokens: make one (shown once), list them, revoke one.", no_args_is_help=True
)
users_app = typer.Typer(
    help="Users: who holds tokens, and the most their tokens may do.", no_args_is_help=True
)

_URL = typer.Option(
    None, "--url", help="A Shipyard server to ask (default: SHIPYARD_URL, else the local store)."
)
_JSON = typer.Option(False, "--json", help="Print JSON.")
_ROLES = ", ".join(ROLES)


def _remote(url: str | None) -> Any:
    """A client for ``url`` (or ``SHIPYARD_URL``), or ``None`` for the local store."""
    target = url or Settings().url
    if not target:
        return None
    from shipyard.client import Client

    return Client(target)


def _local() -> AuthService:
    settings = Settings()
    return AuthService(registry().db, settings.actor)


@contextlib.contextmanager
def _access(url: str | None) -> Iterator[Any]:
    """What answers: a client of the server at ``url`` (or ``SHIPYARD_URL``), else the
    local store's service; both have the same methods for users and listing or revoking
    tokens."""
    client = _remote(url)
    if client is None:
        yield _local()
        return
    with client:
        yield client


def init() -> None:
    """Set up the home: the database, and on a store with no users yet, its first user (an
    admin named after you) with a token saved to $SHIPYARD_HOME/credentials (mode 0600),
    which the CLI and SDK send."""
    settings = Settings()
    store = registry()
    path = bootstrap(store.db, settings.home, settings.actor)
    console.print(f"Shipyard home: {settings.home.resolve()} (database {store.db.display_url})")
    if path is not None:
        name = settings.actor or os_user()
        console.print(
            f"Made user {name} (admin) and saved an admin token to {path} (mode 0600); the "
            "shipyard CLI and SDK send it. Make tokens for others with: shipyard tokens "
            "create --role predictor --name SERVICE"
        )
        return
    if read_credentials(settings.home):
        console.print(f"Already set up: an API token is saved in {settings.credentials}")
        return
    console.print(
        f"This store has users already, and {settings.credentials} holds no token. An admin "
        "can make you one (shipyard tokens create --user NAME); then set SHIPYARD_TOKEN"
    )


def whoami(url: str | None = _URL, as_json: bool = _JSON) -> None:
    """Whose token the CLI and SDK send, its role and scopes."""
    client = _remote(url)
    if client is not None:
        with client:
            found = client.whoami()
    else:
        settings = Settings()
        token = settings.token or read_credentials(settings.home)
        if not token:
            raise InvalidInputError(
                "no API token: set SHIPYARD_TOKEN, or run shipyard init to save one to "
                f"{settings.credentials}"
            )
        from shipyard.auth import tokens

        parsed = tokens.parse(token)
        stored = _local().lookup(parsed[0]) if parsed else None
        if parsed is None or stored is None or not tokens.matches(parsed[1], stored[0].secret_hash):
            raise InvalidInputError(
                "the API token in SHIPYARD_TOKEN or the credentials file is not one of this "
                "store's; ask an admin for a token (shipyard tokens create)"
            )
        row, user = stored
        found = {
            "user": user.name, "role": row.role, "token": row.key, "scopes": row.scopes,
            "authenticated": True,
        }  # fmt: skip
    if as_json:
        print_json(found)
        return
    scopes = f", limited to {', '.join(found['scopes'])}" if found.get("scopes") else ""
    if not found["authenticated"]:
        console.print(f"{found['user']} (the server does not authenticate callers)")
    else:
        console.print(f"{found['user']} (role {found['role']}, token sy_{found['token']}{scopes})")


# -- tokens -----------------------------------------------------------------------------


@tokens_app.command("create")
def create_token(
    role: str = typer.Option(
        None, "--role", help=f"What it may do: {_ROLES} (default: all its user may)."
    ),
    name: str = typer.Option("", "--name", help="What it is for, e.g. ci or fraud-service."),
    user: str = typer.Option(
        None, "--user", help="Whose token (default: you, or the caller's user on a server)."
    ),
    expires: str = typer.Option(
        None, "--expires", help="When it stops working: 90d, 12h, 2027-01-01T00:00Z, never."
    ),
    scope: list[str] = typer.Option(
        None,
        "--scope",
        help="Limit it to model:NAME or endpoint:NAME (* a wildcard; repeatable).",
    ),
    rate_limit: float = typer.Option(
        None, "--rate-limit", min=0.001, help="Requests per second per server process."
    ),
    url: str = _URL,
    as_json: bool = _JSON,
) -> None:
    """Make an API token and print it, only it, on standard output (it is shown once)."""
    client = _remote(url)
    made: NewToken
    if client is not None:
        with client:
            made = client.create_token(
                role, user=user, name=name, expires=expires, scopes=scope or None,
                rate_limit=rate_limit,
            )  # fmt: skip
    else:
        settings = Settings()
        if not _local().has_users():  # a new store: its first admin comes first
            bootstrap(registry().db, settings.home, settings.actor)
        made = _local().create_token(
            user or settings.actor or os_user(), role, name=name, expires_at=expiry(expires),
            scopes=scope or None, rate_limit=rate_limit,
        )  # fmt: skip
    if as_json:
        print_json(made.model_dump(mode="json"))
        return
    typer.echo(made.token)


def _tokens_table(found: list[Token]) -> Table:
    table = Table(title=f"{len(found)} token{'' if len(found) == 1 else 's'}")
    for column in ("key", "name", "user", "role", "scopes", "state", "expires", "created"):
        table.add_column(column)
    for t in found:
        table.add_row(
            f"sy_{t.key}", t.name, t.user, t.role, ", ".join(t.scopes or ()) or "all",
            t.state, when(t.expires_at) or "never", f"{when(t.created_at)} by {t.created_by}",
        )  # fmt: skip
    return table


@tokens_app.command("list")
def list_tokens(
    user: str = typer.Option(None, "--user", help="Only this user's."),
    all: bool = typer.Option(False, "--all", help="Expired and revoked ones too."),
    url: str = _URL,
    as_json: bool = _JSON,
) -> None:
    """Tokens, newest first: key, name, user, role, scopes, state (never the secret)."""
    with _access(url) as access:
        found = access.list_tokens(user=user, all=all)
    if as_json:
        print_json([t.model_dump(mode="json") for t in found])
        return
    if not found:
        console.print("no tokens" + ("" if all else " (active); --all shows the others"))
        return
    console.print(_tokens_table(found))


@tokens_app.command("revoke")
def revoke_token(
    key: str = typer.Argument(..., help="The token's key (sy_KEY, as tokens list shows)."),
    url: str = _URL,
) -> None:
    """Revoke a token: every server refuses it within SHIPYARD_AUTH_CACHE_S seconds."""
    with _access(url) as access:
        revoked = access.revoke_token(key)
    console.print(
        f"revoked sy_{revoked.key} ({revoked.user}, {revoked.role}) at "
        f"{when(revoked.revoked_at)} by {revoked.revoked_by}"
    )


# -- users ------------------------------------------------------------------------------


def _print_user(found: User, as_json: bool) -> None:
    if as_json:
        print_json(found.model_dump(mode="json"))
        return
    state = "disabled" if found.disabled else "enabled"
    console.print(f"user {found.name}: role {found.role}, {state}, {found.tokens} active tokens")


@users_app.command("create")
def create_user(
    name: str = typer.Argument(..., help="A name, e.g. ana or ana@example.com."),
    role: str = typer.Option(..., "--role", help=f"The most their tokens may do: {_ROLES}."),
    url: str = _URL,
    as_json: bool = _JSON,
) -> None:
    """Create a user; then make them a token with shipyard tokens create --user NAME."""
    with _access(url) as access:
        made = access.create_user(name, role)
    _print_user(made, as_json)


@users_app.command("list")
def list_users(url: str = _URL, as_json: bool = _JSON) -> None:
    """Every user: role, enabled or not, active tokens."""
    with _access(url) as access:
        found = access.list_users()
    if as_json:
        print_json([u.model_dump(mode="json") for u in found])
        return
    table = Table(title=f"{len(found)} user{'' if len(found) == 1 else 's'}")
    for column in ("name", "role", "state", "tokens", "created"):
        table.add_column(column)
    for u in found:
        table.add_row(
            u.name, u.role, "disabled" if u.disabled else "enabled", str(u.tokens),
            f"{when(u.created_at)} by {u.created_by}",
        )  # fmt: skip
    console.print(table)


def _update(name: str, url: str | None, as_json: bool, **change: Any) -> None:
    with _access(url) as access:
        changed = access.update_user(name, **change)
    _print_user(changed, as_json)


@users_app.command("update")
def update_user(
    name: str = typer.Argument(..., help="The user."),
    role: str = typer.Option(..., "--role", help=f"Their new role: {_ROLES}."),
    url: str = _URL,
    as_json: bool = _JSON,
) -> None:
    """Change a user's role: their tokens never do more than it allows."""
    _update(name, url, as_json, role=role)


@users_app.command("disable")
def disable_user(
    name: str = typer.Argument(..., help="The user."), url: str = _URL, as_json: bool = _JSON
) -> None:
    """Disable a user: every token of theirs stops working."""
    _update(name, url, as_json, disabled=True)


@users_app.command("enable")
def enable_user(
    name: str = typer.Argument(..., help="The user."), url: str = _URL, as_json: bool = _JSON
) -> None:
    """Enable a disabled user again (their unrevoked, unexpired tokens work again)."""
    _update(name, url, as_json, disabled=False)
