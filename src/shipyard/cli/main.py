"""The ``shipyard`` command. Every error is one line on stderr and a non-zero exit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import pydantic
import typer

from shipyard.cli import (
    ab,
    access,
    alerts,
    alias,
    audit,
    batch,
    db,
    endpoints,
    feedback,
    log,
    models,
    monitor,
    policy,
    privacy,
    rollout,
    schedules,
)
from shipyard.config import Settings
from shipyard.errors import ShipyardError

app = typer.Typer(
    rich_markup_mode="markdown",
    name="shipyard",
    help="Take trained models into production and keep them healthy there.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(models.app, name="models")
app.add_typer(alias.app, name="alias")
app.add_typer(db.app, name="db")
app.add_typer(endpoints.app, name="endpoints")
app.add_typer(feedback.app, name="feedback")
app.add_typer(ab.app, name="ab")
app.add_typer(rollout.app, name="rollout")
app.add_typer(monitor.app, name="monitor")
app.add_typer(alerts.app, name="alerts")
app.add_typer(batch.app, name="batch")
app.add_typer(batch.jobs_app, name="jobs")
app.add_typer(schedules.app, name="schedules")
app.add_typer(audit.app, name="audit")
app.add_typer(log.app, name="log")
app.add_typer(access.tokens_app, name="tokens")
app.add_typer(access.users_app, name="users")
app.command("init")(access.init)
app.command("whoami")(access.whoami)
app.add_typer(policy.app, name="policy")
app.add_typer(privacy.app, name="privacy")
models.app.command("release-profile")(privacy.release_profile)
monitor.app.command("release")(privacy.release_window)


@app.command()
def quickstart() -> None:
    """Train two models on a bundled dataset, register them and set aliases."""
    from shipyard.cli.quickstart import run

    run()


_SSL_CERTFILE = typer.Option(
    None,
    "--ssl-certfile",
    help="PEM certificate (chain): serve HTTPS only (default: SHIPYARD_SSL_CERTFILE).",
)
_SSL_KEYFILE = typer.Option(
    None, "--ssl-keyfile", help="PEM private key of --ssl-certfile (SHIPYARD_SSL_KEYFILE)."
)
_UNAUTHENTICATED = typer.Option(
    False,
    "--allow-unauthenticated",
    help="With SHIPYARD_AUTH=false, listen beyond loopback anyway (behind a proxy that "
    "authenticates callers).",
)


@app.command("serve")
def serve_command(
    target: str = typer.Argument(
        ...,
        help="An endpoint's name (served at its current revision, followed as it changes), "
        "models:/NAME@ALIAS or models:/NAME/VERSION; comma-separate several.",
    ),
    host: str = typer.Option(None, help="Address to bind (default: SHIPYARD_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, min=0, max=65535, help="Port (default: SHIPYARD_PORT, 8000)."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    max_batch_size: int = typer.Option(
        None, min=1, help="Most rows merged into one model call (default 64)."
    ),
    max_wait_ms: float = typer.Option(
        None, min=0, max=1000, help="How long a batch with company waits to fill (default 0)."
    ),
    timeout_ms: float = typer.Option(
        None, min=1, help="Per-request time limit before the fallback answers (default 30000)."
    ),
    fallback: str = typer.Option(
        None,
        help="Answer when the model fails or times out: models:/NAME/VERSION or a JSON "
        "value such as 0.",
    ),
    model_option: list[str] = typer.Option(
        None,
        "--model-option",
        help="Override an option for one model: NAME.KEY=VALUE, KEY one of max_batch_size, "
        "max_wait_ms, request_timeout_ms, fallback (repeatable).",
    ),
    ssl_certfile: Path = _SSL_CERTFILE,
    ssl_keyfile: Path = _SSL_KEYFILE,
    allow_unauthenticated: bool = _UNAUTHENTICATED,
) -> None:
    """Serve endpoints and models over HTTP: Open Inference Protocol V2 and plain JSON."""
    from shipyard.cli.serve import serve

    serve(
        target,
        host=host,
        port=port,
        workers=workers,
        max_batch_size=max_batch_size,
        max_wait_ms=max_wait_ms,
        timeout_ms=timeout_ms,
        fallback=fallback,
        model_options=model_option or [],
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        allow_unauthenticated=allow_unauthenticated,
    )


@app.command("server")
def server_command(
    host: str = typer.Option(None, help="Address to bind (default: SHIPYARD_HOST, 127.0.0.1)."),
    port: int = typer.Option(None, min=0, max=65535, help="Port (default: SHIPYARD_PORT, 8000)."),
    ssl_certfile: Path = _SSL_CERTFILE,
    ssl_keyfile: Path = _SSL_KEYFILE,
    allow_unauthenticated: bool = _UNAUTHENTICATED,
) -> None:
    """Run Shipyard in one process: the REST API under /api/v1 (docs at /api/v1/docs),
    every endpoint, models by their champion alias, the rollout controller, and the
    schedulers of monitors, alerts and batch schedules."""
    from shipyard.cli.server import server

    server(
        host=host,
        port=port,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        allow_unauthenticated=allow_unauthenticated,
    )


@app.command()
def version() -> None:
    """Print Shipyard's version."""
    from shipyard import __version__

    typer.echo(__version__)


def _fail(message: str, code: int = 1) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    sys.exit(code)


def _debug() -> bool:
    try:
        return Settings().debug
    except pydantic.ValidationError:
        return False


def _is_usage_error(exc: Exception) -> bool:
    """Command-line usage errors (click's, as bundled with typer) carry these two."""
    return hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int)


def _usage_error(exc: Any) -> NoReturn:
    """One line naming the problem and where to read the usage; help already shown when the
    command was given no arguments."""
    message = exc.format_message().strip()
    if not message:  # no arguments: the help was printed, nothing more to say
        sys.exit(exc.exit_code)
    context = getattr(exc, "ctx", None)
    where = context.command_path if context is not None else "shipyard"
    _fail(f"{message.rstrip('.')}; see: {where} --help", exc.exit_code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``shipyard`` console script."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="shipyard", standalone_mode=False)
    except ShipyardError as exc:
        if _debug():
            raise
        _fail(str(exc))
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        _fail(f"invalid setting SHIPYARD_{field.upper()}: {first['msg']}; fix or unset it")
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        _fail(
            f"{exc.strerror or exc}{where}; check the path and its permissions "
            "(SHIPYARD_HOME, SHIPYARD_ARTIFACT_ROOT, or the file you named)"
        )
    except Exception as exc:  # the last line of defence: still one line, no traceback
        if _is_usage_error(exc):
            _usage_error(exc)
        if type(exc).__name__ == "Abort":
            _fail("aborted", 130)
        if _debug():
            raise
        _fail(
            f"unexpected {type(exc).__name__}: {exc}. Run again with SHIPYARD_DEBUG=1 "
            "for the traceback, and report it"
        )
    if isinstance(result, int) and result:
        sys.exit(result)


if __name__ == "__main__":
    main()
