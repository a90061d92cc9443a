"""The metadata store: engine, sessions and migrations.

SQLite (the embedded default, WAL mode) and PostgreSQL run the same code. Writers
on SQLite take the database lock at ``BEGIN IMMEDIATE`` so two processes never
deadlock upgrading a read lock; readers are never blocked by a writer (WAL).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shipyard.errors import DatabaseError
from shipyard.store import audit

MIGRATIONS = Path(__file__).parent / "migrations"
_ADVISORY_LOCK = 0x5A1B_7A2D  # arbitrary constant naming Shipyard's migration lock


def os_user() -> str:
    """The operating-system user running this process."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return f"uid:{os.getuid()}"


def _hide_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


def _first_line(exc: DBAPIError) -> str:
    """The driver's message without the SQL and parameters SQLAlchemy appends."""
    return (str(exc.orig).strip().splitlines() or ["unknown error"])[0]


class Database:
    """One metadata store, reachable through SQLAlchemy sessions.

    Migrations are applied on first use unless ``migrate=False``.
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000, migrate: bool = True) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except Exception as exc:  # sqlalchemy.exc.ArgumentError and friends
            raise DatabaseError(
                f"{url!r} is not a database URL; set SHIPYARD_DATABASE_URL to "
                "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB"
            ) from exc
        self.dialect = parsed.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise DatabaseError(
                f"unsupported database {self.dialect!r} in {_hide_password(url)}; use "
                "sqlite:///PATH or postgresql+psycopg://USER@HOST:PORT/DB"
            )
        kwargs: dict[str, Any] = {"future": True}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000}
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except Exception as exc:  # a bad URL or missing driver
            raise DatabaseError(
                f"cannot use database URL {_hide_password(url)}: {exc}; check SHIPYARD_DATABASE_URL"
            ) from exc
        if self.dialect == "sqlite":
            _sqlite_setup(self.engine, busy_timeout_ms)
        self._write_engine = self.engine.execution_options(shipyard_write=True)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(
            self._write_engine, expire_on_commit=False, info={"default_actor": os_user()}
        )
        # Every change written through a write session joins the audit trail.
        event.listen(self._writer, "after_flush", audit.after_flush)
        self._checked = False
        # Close pooled connections when this object goes away, not at interpreter exit.
        weakref.finalize(self, self.engine.dispose)
        if migrate:
            self.ensure_schema()

    def __repr__(self) -> str:
        return f"Database({_hide_password(self.url)!r})"

    def act_as(self, actor: str) -> None:
        """Who this process's changes are recorded as when no request names anyone."""
        self._writer.kw["info"]["default_actor"] = actor

    @property
    def display_url(self) -> str:
        """The URL with any password hidden."""
        return _hide_password(self.url)

    # -- sessions ----------------------------------------------------------------------

    @contextlib.contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on an exception."""
        maker = self._writer if write else self._reader
        try:
            with maker() as session, session.begin():
                yield session
        except OperationalError as exc:
            raise DatabaseError(
                f"the metadata store at {self.display_url} failed: {_first_line(exc)}; check "
                "that it is reachable and SHIPYARD_DATABASE_URL is right"
            ) from exc
        except DBAPIError as exc:
            if exc.connection_invalidated or not isinstance(exc.orig, Exception):
                raise
            raise DatabaseError(
                f"the metadata store at {self.display_url} answered: {_first_line(exc)}; check "
                "SHIPYARD_DATABASE_URL (database, schema and permissions) and run "
                "shipyard db upgrade"
            ) from exc

    # -- migrations --------------------------------------------------------------------

    def _alembic_config(self, connection: Connection) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        return config

    def head_revision(self) -> str:
        """The newest migration this version of Shipyard knows."""
        from alembic.script import ScriptDirectory

        with self.engine.connect() as connection:
            head = ScriptDirectory.from_config(self._alembic_config(connection)).get_current_head()
        assert head is not None
        return head

    def current_revision(self) -> str | None:
        """The migration the database is at, or ``None`` when it has no schema yet."""
        from alembic.migration import MigrationContext

        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except DBAPIError as exc:
            raise DatabaseError(
                f"cannot connect to the metadata store at {self.display_url}: "
                f"{_first_line(exc)}; check that the server is running and "
                "SHIPYARD_DATABASE_URL is right"
            ) from exc

    def ensure_schema(self) -> None:
        """Upgrade to the newest migration if the database is behind (cheap when it isn't)."""
        if self._checked:
            return
        if self.current_revision() != self.head_revision():
            self.upgrade()
        self._checked = True

    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Apply migrations up to ``revision``; returns (revision before, revision after).

        Serialised across processes: a PostgreSQL advisory lock, or a file lock beside
        a SQLite database.
        """
        from alembic import command

        before = self.current_revision()
        try:
            with self._migration_lock(), self.engine.begin() as connection:
                command.upgrade(self._alembic_config(connection), revision)
        except DBAPIError as exc:
            raise DatabaseError(
                f"could not create or migrate the schema in {self.display_url}: "
                f"{_first_line(exc)}; check that the database (and schema) exist and this "
                "user may create tables in them"
            ) from exc
        self._checked = revision == "head"
        return before, self.current_revision()

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if self.dialect == "postgresql":
            with self.engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _ADVISORY_LOCK})
                connection.commit()
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _ADVISORY_LOCK})
                    connection.commit()
            return
        database = make_url(self.url).database
        if not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def table_names(self) -> list[str]:
        """Tables present in the database (for diagnostics and tests)."""
        with self.engine.connect() as connection:
            return sorted(inspect(connection).get_table_names())

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def _sqlite_setup(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL, foreign keys, and explicit BEGIN so SQLAlchemy (not pysqlite) owns transactions."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below emit BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get("shipyard_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
