"""``shipyard endpoints``: named deployments, their traffic policies and revisions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import typer

from shipyard.cli._common import console, print_json, registry, when
from shipyard.endpoints import Endpoint, Endpoints, Revision, TrafficPolicy
from shipyard.errors import InvalidInputError

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Endpoints: named deployments with a traffic policy, changed by revisions.",
    no_args_is_help=True,
)

_MODEL = typer.Option(
    None, "--model", help="Serve one model: models:/NAME/N or models:/NAME@ALIAS (pinned)."
)
_SPLIT = typer.Option(
    None,
    "--split",
    help="URI=PERCENT, repeated: a weighted split, e.g. --split models:/m/3=90 "
    "--split models:/m/4=10 (aliases are pinned to their versions).",
)
_POLICY = typer.Option(
    None, "--policy", help="A traffic policy as JSON, or @FILE holding it (any kind)."
)
_SHADOW = typer.Option(
    None, "--shadow", help="A version that gets a copy of every request (repeatable)."
)
_REASON = typer.Option("", "--reason", help="Why: recorded with the revision.")


def service() -> Endpoints:
    """Endpoints on the store the current settings name."""
    current = registry()
    return Endpoints(current.db, current.artifacts, current.settings)


def _pin(uri: str) -> str:
    return registry().resolve(uri).uri


def _variant(uri: str, weight: float) -> dict[str, Any]:
    pinned = _pin(uri)
    name, version = pinned.removeprefix("models:/").rsplit("/", 1)
    return {"name": f"{name}-{version}", "model": pinned, "weight": weight}


def build_policy(
    model: str | None, split: list[str] | None, policy: str | None, shadow: list[str] | None
) -> TrafficPolicy:
    """The policy the options describe: exactly one of --model, --split or --policy."""
    given = [
        flag
        for flag, value in (("--model", model), ("--split", split), ("--policy", policy))
        if value
    ]
    if len(given) != 1:
        raise InvalidInputError(
            "give the traffic policy with exactly one of --model, --split or --policy"
            + (f" (got {', '.join(given)})" if given else "")
        )
    if policy is not None:
        text = policy
        if policy.startswith("@"):
            try:
                text = Path(policy[1:]).read_text()
            except OSError as exc:
                raise InvalidInputError(
                    f"--policy {policy}: cannot read {policy[1:]!r} ({exc.strerror or exc}); "
                    "give the path of a JSON file after @, or the JSON itself"
                ) from None
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidInputError(f"--policy is not valid JSON: {exc}") from None
    elif model is not None:
        data = {"kind": "single", "variants": [_variant(model, 100)]}
    else:
        variants = []
        for item in split or []:
            uri, equals, share = item.rpartition("=")
            try:
                weight = float(share)
            except ValueError:
                weight = -1.0
            if not equals or not uri or weight < 0:
                raise InvalidInputError(
                    f"--split {item!r}: expected URI=PERCENT, e.g. models:/m/4=10"
                )
            variants.append(_variant(uri, weight))
        data = {"kind": "split", "variants": variants}
    if shadow:
        if not isinstance(data, dict):
            raise InvalidInputError("--policy must be a JSON object")
        data["shadows"] = [*data.get("shadows", []), *(_pin(uri) for uri in shadow)]
    return TrafficPolicy.parse(data)


def _describe(policy: TrafficPolicy) -> str:
    parts = [f"{v.name} {v.model} {v.weight:g}%" for v in policy.variants]
    text = f"{policy.kind}: " + ", ".join(parts)
    sticky = policy.sticky
    if sticky is not None:
        key = f"header {sticky.header}" if sticky.header else f"column {sticky.column}"
        text += f" (sticky by {key})"
    if policy.method:
        text += f" ({policy.method})"
    if policy.shadows:
        text += f"; shadows {', '.join(policy.shadows)}"
    if policy.fallback:
        text += f"; fallback {policy.fallback}"
    return text


def _print(endpoint: Endpoint, verb: str) -> None:
    current = endpoint.current
    console.print(
        f"{endpoint.name}: {verb} revision {current.revision} ({_describe(current.policy)})"
    )


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every endpoint and the revision serving now."""
    found = service().list_endpoints()
    if as_json:
        print_json([e.model_dump(mode="json") for e in found])
        return
    if not found:
        console.print(
            "no endpoints yet; create one with: shipyard endpoints create NAME --model URI"
        )
    for endpoint in found:
        console.print(
            f"{endpoint.name}  revision {endpoint.current.revision}  "
            f"{_describe(endpoint.current.policy)}"
        )


@app.command()
def create(
    name: str = typer.Argument(..., help="Endpoint name."),
    model: str = _MODEL,
    split: list[str] = _SPLIT,
    policy: str = _POLICY,
    shadow: list[str] = _SHADOW,
    description: str = typer.Option("", help="What the endpoint is for."),
    reason: str = _REASON,
) -> None:
    """Create endpoint NAME serving a traffic policy (its revision 1)."""
    chosen = build_policy(model, split, policy, shadow)
    created = service().create_endpoint(name, chosen, description=description, reason=reason)
    _print(created, "created at")


@app.command()
def update(
    name: str = typer.Argument(..., help="Endpoint name."),
    model: str = _MODEL,
    split: list[str] = _SPLIT,
    policy: str = _POLICY,
    shadow: list[str] = _SHADOW,
    reason: str = _REASON,
) -> None:
    """Serve a new traffic policy from a new revision (an identical one changes nothing)."""
    endpoints = service()
    before = endpoints.get_endpoint(name).current.revision
    changed = endpoints.update_endpoint(
        name, build_policy(model, split, policy, shadow), reason=reason
    )
    if changed.current.revision == before:
        console.print(f"{name}: unchanged, still revision {before}")
        return
    _print(changed, "now at")
    for path, change in changed.current.diff.items():
        console.print(f"  {path}: {_json(change['before'])} -> {_json(change['after'])}")


@app.command()
def show(
    name: str = typer.Argument(..., help="Endpoint name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The endpoint and the revision serving now."""
    endpoint = service().get_endpoint(name)
    if as_json:
        print_json(endpoint.model_dump(mode="json"))
        return
    current = endpoint.current
    console.print(
        f"[bold]{endpoint.name}[/bold]  revision {current.revision} of "
        f"{endpoint.latest_revision}  created {when(endpoint.created_at)} by {endpoint.created_by}"
    )
    if endpoint.description:
        console.print(endpoint.description)
    console.print(_describe(current.policy))
    console.print(
        f"revision {current.revision}: {when(current.created_at)} by {current.created_by}"
        + (f" — {current.reason}" if current.reason else "")
    )


@app.command()
def revisions(
    name: str = typer.Argument(..., help="Endpoint name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every revision of the endpoint, oldest first; * marks the one serving."""
    endpoints = service()
    current = endpoints.get_endpoint(name).current.revision
    found: list[Revision] = endpoints.list_revisions(name)
    if as_json:
        print_json([r.model_dump(mode="json") for r in found])
        return
    for revision in found:
        mark = "*" if revision.revision == current else " "
        console.print(
            f"{mark} {revision.revision}  {when(revision.created_at)}  {revision.created_by}  "
            f"{_describe(revision.policy)}" + (f"  — {revision.reason}" if revision.reason else "")
        )


@app.command()
def rollback(
    name: str = typer.Argument(..., help="Endpoint name."),
    to: int = typer.Option(
        None,
        "--to",
        min=1,
        help="Revision to return to (default: the one the current revision replaced).",
    ),
    reason: str = _REASON,
) -> None:
    """Make an earlier revision current again (no new revision is made; the rollback and
    its reason are in: shipyard endpoints history NAME)."""
    back = service().rollback_endpoint(name, to, reason=reason)
    _print(back, "back at")


@app.command()
def history(
    name: str = typer.Argument(..., help="Endpoint name."),
    limit: int = typer.Option(50, min=1, help="At most this many changes."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Who changed what on an endpoint, newest first: revisions, rollbacks with their
    reasons, and its rollouts' steps and ends."""
    from shipyard.cli.models import events_table

    events = service().history(name, limit=limit)
    if as_json:
        print_json([e.model_dump(mode="json") for e in events])
        return
    console.print(events_table(events))


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
