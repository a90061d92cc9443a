"""A worker that registers versions of one model as soon as a start file appears.

Run as ``python -m registry.race URL HOME START_FILE COUNT`` (with ``tests`` on the path).
Prints one version number per line, or ``ERROR ...``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from models import logistic
from shipyard.config import Settings
from shipyard.registry import Registry


def main() -> None:
    url, home, start, count = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    registry = Registry.from_settings(
        Settings(home=home, database_url=url, reference_sample_rows=50, actor="racer")
    )
    model, frame, _ = logistic(rows=100)
    deadline = time.monotonic() + 60
    while not start.exists():
        if time.monotonic() > deadline:
            print("ERROR start file never appeared", flush=True)
            return
        time.sleep(0.005)
    for _ in range(count):
        try:
            print(registry.register_model(model, "race", training_data=frame).version, flush=True)
        except Exception as exc:  # reported to the test, which fails on it
            print(f"ERROR {type(exc).__name__}: {exc}", flush=True)


if __name__ == "__main__":
    main()
