"""Shared fixtures: a fresh home per test, and the metadata store on both backends.

PostgreSQL tests use ``SHIPYARD_TEST_POSTGRES_URL`` (default: the local server, database
``test``), each in a schema of its own. When ``CI=true`` they must run: an unreachable
server fails them instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

import shipyard.sdk
from shipyard.config import Settings
from shipyard.registry import Registry

POSTGRES_URL = os.environ.get(
    "SHIPYARD_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
_postgres_error: list[str | None] = []


def _postgres_unavailable() -> str | None:
    """Why PostgreSQL can't be used, or ``None`` when it can (checked once per run)."""
    if not _postgres_error:
        try:
            engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
            _postgres_error.append(None)
        except Exception as exc:
            _postgres_error.append(f"{type(exc).__name__}: {exc}")
    return _postgres_error[0]


def postgres_schema_url(schema: str) -> str:
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search path is a fresh, empty schema (dropped afterwards)."""
    problem = _postgres_unavailable()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required in CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {problem}")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield postgres_schema_url(schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The metadata store URL, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'home' / 'shipyard.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture(autouse=True)
def shipyard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own ``SHIPYARD_HOME`` and no inherited Shipyard settings."""
    for key in list(os.environ):
        if key.startswith("SHIPYARD_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    monkeypatch.setenv("SHIPYARD_HOME", str(home))
    yield home
    for registry in shipyard.sdk._registries.values():
        registry.db.dispose()
    shipyard.sdk._registries.clear()


@pytest.fixture
def settings(shipyard_home: Path, database_url: str) -> Settings:
    return Settings(
        home=shipyard_home, database_url=database_url, actor="tester", reference_sample_rows=500
    )


@pytest.fixture
def registry(settings: Settings) -> Iterator[Registry]:
    registry = Registry.from_settings(settings)
    yield registry
    registry.db.dispose()
