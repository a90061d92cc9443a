from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from shipyard.errors import DatabaseError
from shipyard.store.database import Database
from shipyard.store.tables import Base


def test_first_use_applies_every_migration(database_url: str) -> None:
    database = Database(database_url)
    assert database.current_revision() == database.head_revision()
    assert {"models", "model_versions", "model_aliases", "events"} <= set(database.table_names())
    database.dispose()


def test_migrations_produce_exactly_the_declared_tables(database_url: str) -> None:
    database = Database(database_url)
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    database.dispose()


def test_upgrade_is_idempotent_and_reports_revisions(database_url: str) -> None:
    database = Database(database_url, migrate=False)
    assert database.current_revision() is None
    before, after = database.upgrade()
    assert (before, after) == (None, database.head_revision())
    assert database.upgrade() == (after, after)
    database.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    database.dispose()


def test_sqlite_database_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "shipyard.db"
    Database(f"sqlite:///{path}").dispose()
    assert path.exists()


def test_unsupported_backend_is_refused() -> None:
    with pytest.raises(DatabaseError, match="unsupported database 'mysql'"):
        Database("mysql://root@localhost/x")


def test_unreachable_postgres_says_what_to_check() -> None:
    with pytest.raises(DatabaseError) as info:
        Database("postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    message = str(info.value)
    assert "SHIPYARD_DATABASE_URL" in message
    assert "secret" not in message


def test_write_transaction_rolls_back_on_error(database_url: str) -> None:
    database = Database(database_url)
    with pytest.raises(RuntimeError):
        with database.session(write=True) as session:
            session.execute(
                text(
                    "INSERT INTO models (name, description, owner, tags, latest_version, "
                    "created_by, created_at, updated_at) VALUES ('m', '', '', '{}', 0, 'x', "
                    ":t, :t)"
                ),
                {"t": "2026-01-01 00:00:00+00:00"},
            )
            raise RuntimeError("boom")
    with database.session() as session:
        assert session.execute(text("SELECT count(*) FROM models")).scalar() == 0
    database.dispose()


def test_alert_ids_are_never_reused_and_the_upgrade_keeps_deliveries(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "s.db"
    database = Database(f"sqlite:///{path}", migrate=False)
    database.upgrade("0006")
    stamp = "'2026-11-01 00:00:00'"
    with sqlite3.connect(path) as con:
        con.execute(
            "INSERT INTO alert_rules (id, name, source, condition, severity, cooldown_s, "
            f"channels, enabled, cursor, created_by, created_at, updated_at) VALUES (1, 'r', "
            f"'{{}}', 'status == breach', 'warning', 0, '[]', 1, 0, 'me', {stamp}, {stamp})"
        )
        con.execute(
            "INSERT INTO alerts (id, rule_id, dedup_key, state, severity, first_seen, "
            "last_seen, fired_at, summary, detail, count) VALUES (5, 1, 'k', 'firing', "
            f"'warning', {stamp}, {stamp}, {stamp}, 's', '{{}}', 1)"
        )
        con.execute(
            "INSERT INTO alert_deliveries (alert_id, channel, event, attempt, at, ok) "
            f"VALUES (5, 'webhook#1', 'firing', 1, {stamp}, 1)"
        )
    assert database.upgrade() == ("0006", database.head_revision())
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA foreign_keys=ON")
        assert con.execute("SELECT alert_id, channel FROM alert_deliveries").fetchall() == [
            (5, "webhook#1")
        ]
        con.execute("DELETE FROM alerts WHERE id = 5")
        con.execute(
            "INSERT INTO alerts (rule_id, dedup_key, state, severity, first_seen, last_seen, "
            f"fired_at, summary, detail, count) VALUES (1, 'k', 'firing', 'warning', {stamp}, "
            f"{stamp}, {stamp}, 's', '{{}}', 1)"
        )
        assert con.execute("SELECT id FROM alerts").fetchall() == [(6,)]
        # the partial index still lets a resolved and a firing alert share a key
        con.execute("UPDATE alerts SET state = 'resolved'")
        con.execute(
            "INSERT INTO alerts (rule_id, dedup_key, state, severity, first_seen, last_seen, "
            f"fired_at, summary, detail, count) VALUES (1, 'k', 'firing', 'warning', {stamp}, "
            f"{stamp}, {stamp}, 's', '{{}}', 1)"
        )
    database.dispose()
