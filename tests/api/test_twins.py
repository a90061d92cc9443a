"""Every command of ``shipyard models``, ``alias`` and ``endpoints`` has a REST twin.

A new command fails this test until it is given a route and listed here."""

from __future__ import annotations

import tempfile

import typer

from shipyard.cli import alias, endpoints, models
from shipyard.config import Settings
from shipyard.server import create_server_app

TWINS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("models", "list"): [("get", "/api/v1/models")],
    ("models", "show"): [
        ("get", "/api/v1/models/{name}"),
        ("get", "/api/v1/models/{name}/versions/{ref}"),
    ],
    ("models", "versions"): [
        ("get", "/api/v1/versions"),
        ("get", "/api/v1/models/{name}/versions"),
    ],
    ("models", "card"): [
        ("get", "/api/v1/models/{name}/versions/{ref}/card"),
        ("get", "/api/v1/models/{name}/versions/{ref}/card.md"),
    ],
    ("models", "register"): [("post", "/api/v1/models/{name}/versions")],
    ("models", "archive"): [("put", "/api/v1/models/{name}/versions/{version}/status")],
    ("models", "restore"): [("put", "/api/v1/models/{name}/versions/{version}/status")],
    ("models", "update"): [("patch", "/api/v1/models/{name}")],
    ("models", "verify"): [("post", "/api/v1/verify"), ("post", "/api/v1/models/{name}/verify")],
    ("models", "download"): [
        ("get", "/api/v1/models/{name}/versions/{ref}/files"),
        ("get", "/api/v1/models/{name}/versions/{ref}/files/{file}"),
    ],
    ("models", "history"): [("get", "/api/v1/models/{name}/events")],
    ("alias", "set"): [("put", "/api/v1/models/{name}/aliases/{alias}")],
    ("alias", "delete"): [("delete", "/api/v1/models/{name}/aliases/{alias}")],
    ("endpoints", "list"): [("get", "/api/v1/endpoints")],
    ("endpoints", "create"): [("post", "/api/v1/endpoints")],
    ("endpoints", "update"): [("put", "/api/v1/endpoints/{name}")],
    ("endpoints", "show"): [("get", "/api/v1/endpoints/{name}")],
    ("endpoints", "revisions"): [("get", "/api/v1/endpoints/{name}/revisions")],
    ("endpoints", "rollback"): [("post", "/api/v1/endpoints/{name}/rollback")],
}


def _commands() -> set[tuple[str, str]]:
    found = set()
    for group, app in (("models", models.app), ("alias", alias.app), ("endpoints", endpoints.app)):
        command = typer.main.get_command(app)
        found |= {(group, name) for name in command.commands}  # type: ignore[attr-defined]
    return found


def test_every_cli_action_has_a_rest_twin_in_the_schema() -> None:
    assert _commands() == set(TWINS), "give each new command a REST route and list it in TWINS"
    with tempfile.TemporaryDirectory() as home:
        paths = create_server_app(Settings(home=home)).openapi()["paths"]
    for command, routes in TWINS.items():
        for method, path in routes:
            assert method in paths.get(path, {}), f"{' '.join(command)}: no {method} {path}"
