"""The quickstart, run as a newcomer would: the installed console script, twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import shipyard
from shipyard.config import Settings
from shipyard.registry import Registry


def _shipyard() -> list[str]:
    script = shutil.which("shipyard", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "shipyard"]


@pytest.mark.slow
def test_quickstart_on_a_fresh_home_and_again(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / ".shipyard"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env["SHIPYARD_HOME"] = str(home)
    first = subprocess.run(
        [*_shipyard(), "quickstart"], env=env, capture_output=True, text=True, timeout=300
    )
    assert first.returncode == 0, first.stderr
    assert "champion" in first.stdout and "Try next" in first.stdout
    assert (home / "shipyard.db").exists()
    moved = subprocess.run(
        [*_shipyard(), "alias", "set", "tumor-classifier", "champion", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert moved.returncode == 0, moved.stderr
    second = subprocess.run(
        [*_shipyard(), "quickstart"], env=env, capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0, second.stderr
    assert "reused" in second.stdout, second.stdout
    assert "champion stays on version 2" in second.stdout, second.stdout

    registry = Registry.from_settings(Settings(home=home))
    model = registry.get_model("tumor-classifier")
    assert model.latest_version == 2  # identical versions were reused, not duplicated
    champion = registry.resolve("models:/tumor-classifier@champion")
    assert champion.version == 2  # the user's move was left alone
    first_champion = next(line for line in first.stdout.splitlines() if "@champion" in line)
    assert "(version " in first_champion
    assert champion.profile is not None and champion.signature.output is not None
    card = registry.card("tumor-classifier", champion.version)
    assert "breast-cancer" in card or "tumour" in card
    shown = subprocess.run(
        [*_shipyard(), "models", "show", "tumor-classifier"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0 and "champion" in shown.stdout
    registry.db.dispose()
    assert shipyard.__version__
