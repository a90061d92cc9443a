"""Every command of ``shipyard models``, ``alias``, ``endpoints``, ``rollout``, ``ab``,
``feedback``, ``monitor``, ``alerts``, ``batch``, ``jobs``, ``schedules``, ``audit``,
``log``, ``policy``, ``privacy``, ``tokens`` and ``users`` has a REST twin, or a stated
reason in :data:`NO_TWIN` why not.

A new command fails this test until it is given a route and listed here."""

from __future__ import annotations

import tempfile

import typer

from shipyard.cli import main
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
    ("models", "release-profile"): [
        ("post", "/api/v1/models/{name}/versions/{ref}/profile/release")
    ],
    ("alias", "set"): [("put", "/api/v1/models/{name}/aliases/{alias}")],
    ("alias", "delete"): [("delete", "/api/v1/models/{name}/aliases/{alias}")],
    ("endpoints", "list"): [("get", "/api/v1/endpoints")],
    ("endpoints", "create"): [("post", "/api/v1/endpoints")],
    ("endpoints", "update"): [("put", "/api/v1/endpoints/{name}")],
    ("endpoints", "show"): [("get", "/api/v1/endpoints/{name}")],
    ("endpoints", "revisions"): [("get", "/api/v1/endpoints/{name}/revisions")],
    ("endpoints", "rollback"): [("post", "/api/v1/endpoints/{name}/rollback")],
    ("endpoints", "history"): [("get", "/api/v1/endpoints/{name}/events")],
    ("rollout", "start"): [("post", "/api/v1/endpoints/{name}/rollout")],
    ("rollout", "show"): [("get", "/api/v1/endpoints/{name}/rollout")],
    ("rollout", "list"): [("get", "/api/v1/rollouts")],
    ("rollout", "pause"): [("post", "/api/v1/endpoints/{name}/rollout/pause")],
    ("rollout", "resume"): [("post", "/api/v1/endpoints/{name}/rollout/resume")],
    ("rollout", "abort"): [("post", "/api/v1/endpoints/{name}/rollout/abort")],
    ("ab", "report"): [("get", "/api/v1/endpoints/{name}/ab")],
    ("feedback", "load"): [("post", "/api/v1/feedback")],
    ("monitor", "create"): [("post", "/api/v1/monitors")],
    ("monitor", "list"): [("get", "/api/v1/monitors")],
    ("monitor", "show"): [("get", "/api/v1/monitors/{name}")],
    ("monitor", "update"): [("patch", "/api/v1/monitors/{name}")],
    ("monitor", "delete"): [("delete", "/api/v1/monitors/{name}")],
    ("monitor", "run"): [("post", "/api/v1/monitors/{name}/run")],
    ("monitor", "results"): [("get", "/api/v1/monitors/{name}/results")],
    ("monitor", "report"): [
        ("get", "/api/v1/monitors/{name}/report"),
        ("get", "/api/v1/monitors/{name}/report.html"),
    ],
    ("monitor", "release"): [("post", "/api/v1/monitors/{name}/release")],
    ("privacy", "budget"): [
        ("get", "/api/v1/models/{name}/versions/{ref}/privacy"),
        ("get", "/api/v1/monitors/{name}/privacy"),
    ],
    ("privacy", "set-budget"): [
        ("put", "/api/v1/models/{name}/versions/{ref}/privacy"),
        ("put", "/api/v1/monitors/{name}/privacy"),
    ],
    ("alerts", "list"): [("get", "/api/v1/alerts")],
    ("alerts", "show"): [("get", "/api/v1/alerts/{alert_id}")],
    ("alerts", "ack"): [("post", "/api/v1/alerts/{alert_id}/ack")],
    ("alerts", "resolve"): [("post", "/api/v1/alerts/{alert_id}/resolve")],
    ("alerts", "evaluate"): [("post", "/api/v1/alerts/evaluate")],
    ("batch", "score"): [("post", "/api/v1/jobs")],
    ("jobs", "list"): [("get", "/api/v1/jobs")],
    ("jobs", "show"): [("get", "/api/v1/jobs/{job_id}")],
    ("jobs", "cancel"): [("post", "/api/v1/jobs/{job_id}/cancel")],
    ("schedules", "create"): [("post", "/api/v1/schedules")],
    ("schedules", "list"): [("get", "/api/v1/schedules")],
    ("schedules", "show"): [("get", "/api/v1/schedules/{name}")],
    ("schedules", "update"): [("patch", "/api/v1/schedules/{name}")],
    ("schedules", "pause"): [("patch", "/api/v1/schedules/{name}")],
    ("schedules", "resume"): [("patch", "/api/v1/schedules/{name}")],
    ("schedules", "delete"): [("delete", "/api/v1/schedules/{name}")],
    ("schedules", "run"): [("post", "/api/v1/schedules/{name}/run")],
    ("audit", "list"): [("get", "/api/v1/audit")],
    ("audit", "export"): [("get", "/api/v1/audit")],
    ("audit", "verify"): [("get", "/api/v1/audit/verify")],
    ("log", "erase"): [("post", "/api/v1/log/erasures")],
    ("log", "retain"): [("put", "/api/v1/log/retention/{endpoint}")],
    ("log", "retention"): [("get", "/api/v1/log/retention")],
    ("log", "expire"): [("post", "/api/v1/log/expire")],
    ("policy", "set"): [
        ("put", "/api/v1/models/{name}/column-policy"),
        ("put", "/api/v1/endpoints/{name}/column-policy"),
    ],
    ("policy", "show"): [
        ("get", "/api/v1/models/{name}/column-policy"),
        ("get", "/api/v1/endpoints/{name}/column-policy"),
    ],
    ("policy", "list"): [("get", "/api/v1/column-policies")],
    ("policy", "remove"): [
        ("delete", "/api/v1/models/{name}/column-policy"),
        ("delete", "/api/v1/endpoints/{name}/column-policy"),
    ],
    ("tokens", "create"): [("post", "/api/v1/tokens")],
    ("tokens", "list"): [("get", "/api/v1/tokens")],
    ("tokens", "revoke"): [("delete", "/api/v1/tokens/{key}")],
    ("users", "create"): [("post", "/api/v1/users")],
    ("users", "list"): [("get", "/api/v1/users")],
    ("users", "update"): [("patch", "/api/v1/users/{name}")],
    ("users", "disable"): [("patch", "/api/v1/users/{name}")],
    ("users", "enable"): [("patch", "/api/v1/users/{name}")],
    ("alerts", "rules"): [  # create, list, delete
        ("post", "/api/v1/alert-rules"),
        ("get", "/api/v1/alert-rules"),
        ("delete", "/api/v1/alert-rules/{name}"),
    ],
}

#: Commands that are not requests to the control plane, and why.
NO_TWIN: dict[tuple[str, str], str] = {
    ("rollout", "run"): "it is the rollout controller's loop itself, run in the foreground "
    "where no server advances rollouts; there is no single change for a route to make",
    ("policy", "keygen"): "it makes a random key on this machine and stores nothing; a key "
    "made by a server would have crossed the network",
    ("policy", "hash"): "it hashes a value with this machine's SHIPYARD_COLUMN_HASH_KEY and "
    "stores nothing; sending the value to a server to hash would expose it",
    ("policy", "reveal"): "it decrypts files on this machine with its own keys; a server "
    "never sends keys or decrypted values back",
}

GROUPS = (
    "models",
    "alias",
    "endpoints",
    "rollout",
    "ab",
    "feedback",
    "monitor",
    "alerts",
    "batch",
    "jobs",
    "schedules",
    "audit",
    "log",
    "policy",
    "privacy",
    "tokens",
    "users",
)


def _commands() -> set[tuple[str, str]]:
    """Every ``shipyard GROUP COMMAND`` of the groups above, as the CLI exposes them."""
    groups = typer.main.get_command(main.app).commands  # type: ignore[attr-defined]
    return {(group, name) for group in GROUPS for name in groups[group].commands}


def test_every_cli_action_has_a_rest_twin_in_the_schema() -> None:
    assert not set(TWINS) & set(NO_TWIN), "a command is either a twin or an exception"
    assert _commands() == set(TWINS) | set(NO_TWIN), (
        "give each new command a REST route and list it in TWINS"
    )
    with tempfile.TemporaryDirectory() as home:
        paths = create_server_app(Settings(home=home)).openapi()["paths"]
    for command, routes in TWINS.items():
        for method, path in routes:
            assert method in paths.get(path, {}), f"{' '.join(command)}: no {method} {path}"
