"""``shipyard rollout``: move an endpoint to a new version step by step, guarded."""

from __future__ import annotations

import signal
import threading

import typer

from shipyard.cli._common import console, print_json, registry, when
from shipyard.cli.endpoints import service
from shipyard.endpoints import Rollout, RolloutController
from shipyard.endpoints.plan import format_duration, parse_duration

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Rollouts: move an endpoint's traffic to a new version step by step, rolling "
    "back by themselves when a guard fails.",
    no_args_is_help=True,
)

_JSON = typer.Option(False, "--json", help="Print JSON.")
_REASON = typer.Option("", "--reason", help="Why: recorded with the rollout.")


def controller() -> RolloutController:
    """Rollouts on the store and prediction log the current settings name."""
    return RolloutController(service(), registry().settings.predictions)


def _summary(rollout: Rollout) -> str:
    return (
        f"{rollout.endpoint}: rollout {rollout.id} {rollout.state.replace('_', ' ')}, "
        f"{rollout.where}: {rollout.from_model} -> {rollout.to_model}, endpoint at revision "
        f"{rollout.revision} (started from {rollout.base_revision})"
    )


def _print(rollout: Rollout, *, details: bool = True) -> None:
    console.print(_summary(rollout))
    if not details:
        return
    steps = ",".join(f"{s:g}" for s in rollout.steps)
    console.print(
        f"  steps {steps}, every {format_duration(rollout.interval_s)}, judged on at least "
        f"{rollout.min_rows} rows; guards {', '.join(rollout.guards)}"
    )
    console.print(
        f"  started {when(rollout.created_at)} by {rollout.created_by}; this step since "
        f"{when(rollout.step_started_at)}"
    )
    for judgement in rollout.judgements:
        console.print(f"  {judgement['text']}")
    if rollout.reason:
        console.print(f"  {rollout.reason}")


def _show(rollout: Rollout, as_json: bool) -> None:
    if as_json:
        print_json(rollout.model_dump(mode="json"))
    else:
        _print(rollout)


@app.command()
def start(
    endpoint: str = typer.Argument(..., help="Endpoint name."),
    to: str = typer.Option(
        ..., "--to", help="The new version: models:/NAME/N or models:/NAME@ALIAS (pinned now)."
    ),
    steps: str = typer.Option(
        "5,25,50,100", "--steps", help="The new version's share at each step, percent."
    ),
    interval: str = typer.Option(
        "5m", "--interval", help="How long each step lasts at least: 500ms, 30s, 5m, 1h."
    ),
    guard: list[str] = typer.Option(
        None,
        "--guard",
        help="A condition the new version must keep, repeatable: error_rate<0.01, "
        "p99_latency_ms<50, agreement>0.9 (agreement mirrors requests to both versions), "
        "prediction_drift<0.1.",
    ),
    min_rows: int = typer.Option(
        50, "--min-rows", min=1, help="Rows a guard needs before it judges a step."
    ),
    as_json: bool = _JSON,
) -> None:
    """Start moving ENDPOINT to a new version, and apply the first step.

    Each step waits at least --interval and until every guard has judged and passed; a
    breached guard returns the endpoint to where it started at once. Steps advance while
    a controller runs: shipyard server, or shipyard rollout run."""
    started = controller().start(
        endpoint, to, steps=steps, interval=interval, guards=guard or [], min_rows=min_rows
    )
    _show(started, as_json)


@app.command()
def show(
    endpoint: str = typer.Argument(..., help="Endpoint name."),
    as_json: bool = _JSON,
) -> None:
    """The endpoint's latest rollout: state, step, guards' last verdicts, and why it ended."""
    _show(controller().get(endpoint), as_json)


@app.command("list")
def list_(
    active: bool = typer.Option(False, "--active", help="Only running and paused rollouts."),
    as_json: bool = _JSON,
) -> None:
    """Rollouts, newest first."""
    found = controller().list(active=active)
    if as_json:
        print_json([r.model_dump(mode="json") for r in found])
        return
    if not found:
        console.print(
            "no rollouts yet; start one with: shipyard rollout start ENDPOINT --to URI --guard …"
        )
    for rollout in found:
        _print(rollout, details=False)


@app.command()
def pause(
    endpoint: str = typer.Argument(..., help="Endpoint name."),
    reason: str = _REASON,
    as_json: bool = _JSON,
) -> None:
    """Hold the running rollout: traffic stays where it is until resumed."""
    _show(controller().pause(endpoint, reason=reason), as_json)


@app.command()
def resume(
    endpoint: str = typer.Argument(..., help="Endpoint name."),
    as_json: bool = _JSON,
) -> None:
    """Run a paused rollout again; its current step is judged afresh from now."""
    _show(controller().resume(endpoint), as_json)


@app.command()
def abort(
    endpoint: str = typer.Argument(..., help="Endpoint name."),
    reason: str = _REASON,
    as_json: bool = _JSON,
) -> None:
    """End the rollout and return the endpoint to the revision it started from."""
    _show(controller().abort(endpoint, reason=reason), as_json)


@app.command()
def run(
    period: str = typer.Option("5s", "--period", help="How often to judge: 500ms, 5s, 1m."),
    once: bool = typer.Option(False, "--once", help="Judge every running rollout once, exit."),
) -> None:
    """Run the rollout controller in the foreground (for deployments without shipyard
    server), until interrupted. Prints every change of step or state."""
    period_s = parse_duration(period, "--period")
    rollouts = controller()
    seen = {r.id: (r.state, r.step) for r in rollouts.list(active=True)}

    def report(ticked: list[Rollout]) -> None:
        for rollout in ticked:
            if seen.get(rollout.id) != (rollout.state, rollout.step) or once:
                _print(rollout)
            seen[rollout.id] = (rollout.state, rollout.step)

    if once:
        report(rollouts.tick())
        return
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print(f"judging running rollouts every {format_duration(period_s)}; stop with Ctrl-C")
    try:
        rollouts.run(stop, period_s, on_tick=report)
    except KeyboardInterrupt:
        stop.set()
    console.print("rollout controller stopped")
