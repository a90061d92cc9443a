"""Shared pieces of the command line: the console, the registry, JSON and time output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import typer
from rich.console import Console

from shipyard.endpoints.plan import parse_duration
from shipyard.fields import parse_time
from shipyard.registry import Registry
from shipyard.sdk import get_registry

console = Console(highlight=False, soft_wrap=True)
if not console.is_terminal:  # piped or captured: don't squeeze tables into 80 columns
    console = Console(highlight=False, soft_wrap=True, width=160)


def registry() -> Registry:
    """The registry named by the current ``SHIPYARD_*`` settings."""
    return get_registry()


def location() -> str:
    """Where the current registry lives, for messages that should say so."""
    current = registry()
    return f"{current.db.display_url}, artifacts in {current.artifacts.root}"


def print_json(data: Any) -> None:
    """Print JSON for scripts (``--json``)."""
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


def when(value: Any) -> str:
    """A timestamp, to the second."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def parse_since(value: str | None, what: str = "--since") -> datetime | None:
    """An ISO 8601 time, or a while back from now (``24h``, ``7d``)."""
    text = (value or "").strip()
    if value is None or not text or not text[-1].isalpha():
        return parse_time(value, what)
    if text[-1] in "smhdw" and text[:-1].replace(".", "", 1).isdigit():
        return datetime.now(UTC) - timedelta(seconds=parse_duration(value, what))
    return parse_time(value, what)
