"""``shipyard db``: the metadata store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer

from shipyard.cli._common import console
from shipyard.config import Settings
from shipyard.store.database import Database

app = typer.Typer(
    help="Manage the metadata database.", no_args_is_help=True, rich_markup_mode="markdown"
)


@contextlib.contextmanager
def _database() -> Iterator[Database]:
    """The configured database, without migrating it on open, closed afterwards."""
    settings = Settings()
    database = Database(
        settings.database, busy_timeout_ms=settings.db_busy_timeout_ms, migrate=False
    )
    try:
        yield database
    finally:
        database.dispose()


@app.command()
def upgrade() -> None:
    """Apply pending schema migrations (also done automatically on first use)."""
    with _database() as database:
        before, after = database.upgrade()
    if before == after:
        console.print(f"{database.display_url} is up to date (revision {after})")
    else:
        console.print(f"{database.display_url} upgraded from {before or 'empty'} to {after}")


@app.command()
def current() -> None:
    """Show the schema revision of the database and the newest one this Shipyard knows."""
    with _database() as database:
        now, head = database.current_revision(), database.head_revision()
    state = "up to date" if now == head else "behind: run shipyard db upgrade"
    console.print(f"{database.display_url}: revision {now or 'empty'} (newest {head}, {state})")
