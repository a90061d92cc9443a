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


def test_alias_moves_and_reads_interleave_safely(registry: Registry) -> None:
    """Threads moving one alias while others resolve it: no error, every read sees a
    version the alias really pointed at, and the last write wins."""
    from concurrent.futures import ThreadPoolExecutor

    from models import logistic

    model, frame, _ = logistic(rows=100)
    for _ in range(3):
        registry.register_model(model, "m", training_data=frame)
    registry.set_alias("m", "champion", 1)

    def mover(worker: int) -> list[int]:
        targets = [(worker + i) % 3 + 1 for i in range(10)]
        for target in targets:
            registry.set_alias("m", "champion", target)
        return targets

    def reader(_: int) -> list[int]:
        return [registry.resolve("models:/m@champion").version for _ in range(20)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        moves = [pool.submit(mover, w) for w in range(3)]
        reads = [pool.submit(reader, r) for r in range(3)]
        seen = [v for f in reads for v in f.result()]
        for f in moves:
            f.result()
    assert set(seen) <= {1, 2, 3}
    final = registry.resolve("models:/m@champion").version
    last_event = registry.events(target_kind="alias")[0]
    assert last_event.after == {"version": final}
