from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipyard.config import Settings

SRC = Path(__file__).resolve().parents[1] / "src" / "shipyard"


def test_every_field_is_documented() -> None:
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undocumented == []


def test_defaults_live_under_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIPYARD_HOME")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.home == Path(".shipyard")
    assert settings.database == f"sqlite:///{tmp_path / '.shipyard' / 'shipyard.db'}"
    assert settings.artifacts == tmp_path / ".shipyard" / "artifacts"


def test_environment_variables_use_the_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", "postgresql+psycopg://u@db/x")
    monkeypatch.setenv("SHIPYARD_ARTIFACT_ROOT", str(tmp_path / "blobs"))
    monkeypatch.setenv("SHIPYARD_TRUST_PICKLE", "1")
    settings = Settings()
    assert settings.database == "postgresql+psycopg://u@db/x"
    assert settings.artifacts == tmp_path / "blobs"
    assert settings.trust_pickle is True


def test_no_environment_variable_is_read_outside_settings() -> None:
    # Reading is confined to Settings; handing a value to child processes (an assignment
    # into os.environ, as shipyard serve does for its workers) is not a read.
    pattern = re.compile(
        r"getenv\(|environ\.(get|setdefault|copy|items|keys|values)\b|environ\[[^\]]*\](?!\s*=[^=])"
        r"|os\.environ(?!\[)"
    )
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "config.py" and pattern.search(path.read_text())
    ]
    assert offenders == []
