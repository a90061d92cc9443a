"""``shipyard alerts``: alert rules, and the alerts they open: list, show, ack, resolve."""

from __future__ import annotations

from typing import Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from shipyard.alerting import SEVERITIES, Alert, AlertService, Rule
from shipyard.cli._common import console, print_json, registry, when
from shipyard.endpoints.plan import format_duration
from shipyard.errors import InvalidInputError
from shipyard.store.tables import utcnow

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Alerts: rules on monitor results and rollout rollbacks, and the alerts they open "
    "(firing, acknowledged, resolved), sent through webhook, Slack and email channels.",
    no_args_is_help=True,
)
rules = typer.Typer(help="Alert rules: what fires, how severe, through which channels.")
app.add_typer(rules, name="rules", no_args_is_help=True)

_JSON = typer.Option(False, "--json", help="Print JSON.")


def service() -> AlertService:
    """Alerts on the store the current settings name."""
    current = registry()
    return AlertService(
        current,
        attempts=current.settings.alert_attempts,
        backoff_s=current.settings.alert_backoff_s,
    )


def _source(rule: Rule) -> str:
    src = rule.source
    if src["kind"] == "rollout":
        return f"rollbacks on {src.get('endpoint') or 'any endpoint'}"
    column = f"[{src['column']}]" if src.get("column") else ""
    return f"monitor {src['monitor']} {src['metric']}{column}"


def _rule_line(rule: Rule) -> str:
    state = "" if rule.enabled else " (disabled)"
    names = ", ".join(str(c.get("name") or c.get("type")) for c in rule.channels) or "none"
    return (
        f"{rule.name}{state}: {_source(rule)}, {rule.condition}, {rule.severity}, "
        f"cooldown {format_duration(rule.cooldown_s)}; channels {names}"
    )


def _channels(
    webhook: list[str] | None,
    slack: list[str] | None,
    email: list[str] | None,
    smtp_host: str,
    smtp_port: int,
    smtp_from: str,
    channel: list[str] | None,
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [{"type": "webhook", "url": u} for u in webhook or []]
    found += [{"type": "slack", "url": u} for u in slack or []]
    if email:
        found.append(
            {"type": "email", "host": smtp_host, "port": smtp_port, "from": smtp_from, "to": email}
        )
    for raw in channel or []:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        if not isinstance(parsed, dict):
            raise InvalidInputError(
                f"--channel {raw!r} is not a JSON object, e.g. "
                '\'{"type": "webhook", "url": "https://…"}\''
            )
        found.append(parsed)
    return found


@rules.command("create")
def create_rule(
    name: str = typer.Argument(..., help="Rule name."),
    monitor: str = typer.Option(None, "--monitor", help="Watch this monitor's results."),
    metric: str = typer.Option(None, "--metric", help="The monitor's metric, e.g. error_rate."),
    column: str = typer.Option(None, "--column", help="Only this column (default any)."),
    rollout: bool = typer.Option(
        False, "--rollout", help="Fire when a rollout is rolled back by its guards."
    ),
    endpoint: str = typer.Option(None, "--endpoint", help="With --rollout: only this endpoint."),
    condition: str = typer.Option(
        None, "--condition", help="'status == breach' (default) or 'value OP NUMBER'."
    ),
    severity: str = typer.Option("warning", "--severity", help=" | ".join(SEVERITIES)),
    cooldown: str = typer.Option(
        "15m",
        "--cooldown",
        help="No re-notification of a firing alert within this (0: notify every round).",
    ),
    webhook: list[str] = typer.Option(None, "--webhook", help="POST JSON here, repeatable."),
    slack: list[str] = typer.Option(None, "--slack", help="A Slack-compatible webhook URL."),
    email: list[str] = typer.Option(None, "--email", help="Email this address, repeatable."),
    smtp_host: str = typer.Option("localhost", "--smtp-host", help="SMTP server for --email."),
    smtp_port: int = typer.Option(25, "--smtp-port", help="SMTP port for --email."),
    smtp_from: str = typer.Option(
        "shipyard@localhost", "--smtp-from", help="Sender address for --email."
    ),
    channel: list[str] = typer.Option(
        None, "--channel", help='A channel as JSON, e.g. \'{"type": "webhook", "url": …}\'.'
    ),
    disabled: bool = typer.Option(False, "--disabled", help="Create it without evaluating it."),
    as_json: bool = _JSON,
) -> None:
    """Create a rule on a monitor's metric (--monitor M --metric X) or on rollbacks (--rollout)."""
    if rollout and monitor is not None:
        raise InvalidInputError(
            "give --monitor M --metric X or --rollout, not both: a rule watches one of them"
        )
    if not rollout and monitor is None:
        raise InvalidInputError("say what to watch: --monitor M --metric X, or --rollout")
    source: dict[str, Any] = (
        {"kind": "rollout", "endpoint": endpoint}
        if rollout
        else {"kind": "monitor", "monitor": monitor, "metric": metric, "column": column}
    )
    created = service().create_rule(
        name,
        source=source,
        condition=condition,
        severity=severity,
        cooldown=cooldown,
        channels=_channels(webhook, slack, email, smtp_host, smtp_port, smtp_from, channel),
        enabled=not disabled,
    )
    if as_json:
        print_json(created.to_dict())
    else:
        console.print(escape(_rule_line(created)))
        if not created.channels:
            console.print(
                "  no channels: its alerts are recorded and listed (shipyard alerts list); "
                "nothing is sent (add --webhook, --slack or --email)"
            )


@rules.command("list")
def list_rules(as_json: bool = _JSON) -> None:
    """Every alert rule."""
    found = service().list_rules()
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    if not found:
        console.print("no alert rules yet; create one with: shipyard alerts rules create NAME")
    for rule in found:
        console.print(escape(_rule_line(rule)))


@rules.command("delete")
def delete_rule(name: str = typer.Argument(..., help="Rule name.")) -> None:
    """Delete a rule with its alerts."""
    gone = service().delete_rule(name)
    console.print(f"deleted alert rule {gone.name} and its alerts")


def _table(found: list[Alert]) -> Table:
    table = Table(title=f"{len(found)} alert{'' if len(found) == 1 else 's'}")
    for column in ("id", "state", "severity", "rule", "count", "last seen", "summary"):
        table.add_column(column, justify="right" if column in ("id", "count") else "left")
    for a in found:
        state = "[bold red]firing[/]" if a.state == "firing" else a.state
        table.add_row(
            str(a.id), state, a.severity, a.rule, str(a.count), when(a.last_seen), escape(a.summary)
        )
    return table


@app.command("list")
def list_(
    state: str = typer.Option(None, "--state", help="firing, acknowledged or resolved."),
    limit: int = typer.Option(200, "--limit", min=1, help="At most the latest N."),
    as_json: bool = _JSON,
) -> None:
    """Alerts, newest first."""
    found = service().list(state, limit=limit)
    if as_json:
        print_json([a.to_dict() for a in found])
    elif not found:
        console.print("no alerts" + (f" {state}" if state else ""))
    else:
        console.print(_table(found))


def _print(alert: Alert) -> None:
    console.print(escape(f"alert {alert.id} [{alert.severity}] {alert.state}: {alert.summary}"))
    console.print(
        f"  rule {alert.rule}, seen {alert.count}x from {when(alert.first_seen)} "
        f"to {when(alert.last_seen)}; fired {when(alert.fired_at)}"
    )
    if alert.acked_at:
        console.print(f"  acknowledged {when(alert.acked_at)} by {alert.acked_by}")
    if alert.resolved_at:
        console.print(f"  resolved {when(alert.resolved_at)} by {alert.resolved_by}")


@app.command()
def show(alert_id: int = typer.Argument(..., help="Alert id."), as_json: bool = _JSON) -> None:
    """An alert and every delivery attempt made for it, failures with their errors."""
    alert = service().get(alert_id)
    if as_json:
        print_json(alert.to_dict())
        return
    _print(alert)
    if alert.deliveries:
        table = Table(title="deliveries")
        for column in ("at", "channel", "event", "attempt", "result"):
            table.add_column(column)
        for d in alert.deliveries:
            result = "ok" if d.ok else f"[bold red]failed[/]: {escape(d.error or '')}"
            table.add_row(when(d.at), d.channel, d.event, str(d.attempt), result)
        console.print(table)


@app.command()
def ack(
    alert_id: int = typer.Argument(..., help="Alert id."),
    by: str = typer.Option(None, "--by", help="Who (default SHIPYARD_ACTOR or your user)."),
) -> None:
    """Acknowledge a firing alert: someone is on it; it is not re-notified."""
    _print(service().ack(alert_id, by))


@app.command()
def resolve(
    alert_id: int = typer.Argument(..., help="Alert id."),
    by: str = typer.Option(None, "--by", help="Who (default SHIPYARD_ACTOR or your user)."),
) -> None:
    """Resolve an alert by hand; a resolved notification goes out."""
    _print(service().resolve(alert_id, by))


@app.command()
def evaluate(as_json: bool = _JSON) -> None:
    """Evaluate every rule now (``shipyard server`` does so every SHIPYARD_ALERT_PERIOD_S);
    waits for the notifications, and fails (exit 1) when one reached none of its rule's
    channels."""
    started = utcnow()
    changed = service().evaluate()
    if as_json:
        print_json([a.to_dict() for a in changed])
    elif not changed:
        console.print("nothing new")
    else:
        console.print(_table(changed))
    undelivered = [(a, d) for a in changed for d in _failed_since(a, started)]
    for alert, d in undelivered:
        typer.echo(
            f"error: alert {alert.id}: the {d.event} notification through {d.channel} failed "
            f"after {d.attempt} attempt(s): {d.error}; see shipyard alerts show {alert.id}",
            err=True,
        )
    if undelivered:
        raise typer.Exit(1)


def _failed_since(alert: Alert, start: Any) -> list[Any]:
    """The last attempt of each channel and event since ``start``, where it failed."""
    last: dict[tuple[str, str], Any] = {}
    for d in alert.deliveries:
        if d.at >= start:
            last[(d.channel, d.event)] = d
    return [d for d in last.values() if not d.ok]
