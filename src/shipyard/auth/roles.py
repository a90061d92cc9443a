"""Roles, what each may do, and what each route needs: the access rules in one place.

Every request is one *action*: ``open`` (health and readiness, no token), ``any`` (any
valid token: data-plane metadata, ``whoami``), ``infer`` (predictions and feedback),
``read`` (the control plane's reads), ``write`` (its changes, and releases that spend a
privacy budget) or ``admin`` (users, tokens, erasure, column policies, privacy budgets).
A role is the set of actions it allows:

=============  ======================================================
``admin``      everything
``maintainer`` register, deploy, roll out, configure monitors; infer; read
``viewer``     read everything (tokens are never shown)
``predictor``  inference and feedback only
=============  ======================================================

A token may also be limited to some models and endpoints (its *scopes*, ``model:NAME`` and
``endpoint:NAME``, ``*`` matching any run of characters): it then reaches only the routes
that name one of them. Pure rules, no I/O.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

from shipyard.errors import InvalidInputError

Role = Literal["admin", "maintainer", "viewer", "predictor"]
Action = Literal["open", "any", "infer", "read", "write", "admin"]

ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({"any", "infer", "read", "write", "admin"}),
    "maintainer": frozenset({"any", "infer", "read", "write"}),
    "viewer": frozenset({"any", "read"}),
    "predictor": frozenset({"any", "infer"}),
}

#: What each action is, for messages.
DOING = {
    "any": "use this server",
    "infer": "send predictions or feedback",
    "read": "read the control plane",
    "write": "change anything",
    "admin": "manage users, tokens, erasure, column policies or privacy budgets",
}


def check_role(role: object, field: str = "role") -> Role:
    """``role`` if it is one of the four, else an error naming them."""
    if role not in ROLES:
        raise InvalidInputError(
            f"{field} {role!r} is not a role; use one of {', '.join(ROLES)} (admin: "
            "everything; maintainer: register, deploy, roll out; viewer: read; predictor: "
            "inference and feedback)"
        )
    return role  # type: ignore[return-value]


def within(role: str, ceiling: str) -> bool:
    """Whether ``role`` allows nothing that ``ceiling`` does not."""
    return ROLES[role] <= ROLES[ceiling]


def roles_allowing(action: str) -> list[str]:
    """The roles that allow ``action``, most powerful first."""
    return [name for name, allowed in ROLES.items() if action in allowed]


def check_scope(scope: str) -> str:
    """A scope: ``model:NAME`` or ``endpoint:NAME`` (``*`` as a wildcard)."""
    kind, _, name = scope.partition(":")
    if kind not in ("model", "endpoint") or not name.strip():
        raise InvalidInputError(
            f"scope {scope!r} is not model:NAME or endpoint:NAME; give e.g. model:fraud or "
            "endpoint:fraud-* (* matches any run of characters)"
        )
    return f"{kind}:{name.strip()}"


def in_scope(scopes: tuple[str, ...] | None, kind: str | None, name: str | None) -> bool:
    """Whether a token limited to ``scopes`` (``None``: not limited) may reach the model
    or endpoint ``kind:name`` (``None``: a route naming neither)."""
    if scopes is None:
        return True
    if kind is None or name is None:
        return False
    wanted = f"{kind}:{name}"
    return any(s == wanted or ("*" in s and fnmatch.fnmatchcase(wanted, s)) for s in scopes)


# -- the control plane (/api/v1) ------------------------------------------------------

#: Routes whose action is not what their method says (GET reads, the rest writes).
CONTROL_PLANE: dict[tuple[str, str], Action] = {
    ("GET", "/health"): "open",
    ("GET", "/whoami"): "any",
    ("POST", "/feedback"): "infer",
    ("POST", "/verify"): "read",
    ("POST", "/models/{name}/verify"): "read",
    ("POST", "/log/erasures"): "admin",
    # Weakening what protects personal data is an admin's call.
    ("PUT", "/models/{name}/column-policy"): "admin",
    ("DELETE", "/models/{name}/column-policy"): "admin",
    ("PUT", "/endpoints/{name}/column-policy"): "admin",
    ("DELETE", "/endpoints/{name}/column-policy"): "admin",
    ("PUT", "/models/{name}/versions/{ref}/privacy"): "admin",
    ("PUT", "/monitors/{name}/privacy"): "admin",
}
#: Route prefixes that only admins reach, whatever the method.
ADMIN_ONLY = ("/users", "/tokens")


def control_plane_action(method: str, path: str) -> Action:
    """What a control-plane route (its template under ``/api/v1``) needs."""
    found = CONTROL_PLANE.get((method, path))
    if found is not None:
        return found
    if path.startswith(ADMIN_ONLY):
        return "admin"
    return "read" if method in ("GET", "HEAD") else "write"


def control_plane_target(path: str, params: dict[str, str]) -> tuple[str | None, str | None]:
    """The model or endpoint a control-plane route names: ``(kind, name)`` or ``(None,
    None)``."""
    if path.startswith("/models/{name}"):
        return "model", params.get("name")
    if path.startswith("/endpoints/{name}"):
        return "endpoint", params.get("name")
    if path.startswith("/log/retention/{endpoint}"):
        return "endpoint", params.get("endpoint")
    return None, None


# -- the data plane ---------------------------------------------------------------------


def data_plane_rule(
    method: str, path: str, metrics_public: bool = False
) -> tuple[Action, str | None, str | None]:
    """``(action, kind, name)`` for a data-plane request: health and readiness are open;
    inference and feedback need ``infer``; metadata (and ``/metrics`` unless
    ``metrics_public``) any valid token; each names its model or endpoint."""
    parts = path.split("/")
    if path in ("/v2/health/live", "/v2/health/ready") or (
        parts[-1] == "ready" and method == "GET"
    ):
        return "open", None, None
    if path == "/metrics":
        return ("open" if metrics_public else "any"), None, None
    kind = name = None
    if len(parts) >= 4 and parts[1] in ("v1", "v2") and parts[2] in ("models", "endpoints"):
        kind, name = parts[2][:-1], parts[3]
    if method == "POST" and parts[-1] in ("predict", "infer", "feedback"):
        return "infer", kind, name
    return "any", kind, name
