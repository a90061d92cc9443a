"""Real processes registering versions of the same model at the same time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shipyard.registry import Registry

PROCESSES = 4
EACH = 5


@pytest.mark.slow
def test_concurrent_registrations_get_distinct_consecutive_numbers(
    registry: Registry, database_url: str, tmp_path: Path
) -> None:
    start = tmp_path / "go"
    tests_dir = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tests_dir), os.environ.get("PYTHONPATH", "")]),
    }
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "registry.race",
                database_url,
                str(registry.settings.home),
                str(start),
                str(EACH),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(PROCESSES)
    ]
    start.touch()
    outputs = [worker.communicate(timeout=120) for worker in workers]
    lines = [line for out, _ in outputs for line in out.split()]
    errors = [err for _, err in outputs if err.strip()]
    assert not [line for line in lines if line.startswith("ERROR")], outputs
    assert not errors, errors
    assert all(worker.returncode == 0 for worker in workers)
    numbers = sorted(int(line) for line in lines)
    assert numbers == list(range(1, PROCESSES * EACH + 1))
    versions = registry.list_versions("race", limit=1000)
    assert sorted(v.version for v in versions) == numbers
    assert registry.get_model("race").latest_version == PROCESSES * EACH
