"""Moving an alias under steady load: no failed request, and every worker's answers
switch from the old version to the new one once, never back."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from models import Doubler, Tripler
from serving.conftest import ServerThread
from shipyard.config import Settings
from shipyard.registry import Registry
from shipyard.registry.uri import ModelURI
from shipyard.serving.app import create_app
from shipyard.serving.dataplane import DataPlane

pytestmark = pytest.mark.slow


def test_alias_moves_under_load_without_a_failed_request(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, actor="t", reference_sample_rows=0, follow_interval_s=0.2)
    registry = Registry.from_settings(settings)
    data = pd.DataFrame({"x": [1.0, 2.0]})
    Doubler.pause = Tripler.pause = 0.002
    registry.register_model(Doubler(), "swap", training_data=data)
    registry.register_model(Tripler(), "swap", training_data=data)
    registry.set_alias("swap", "champion", 1)
    plane = DataPlane(registry, [ModelURI.parse("models:/swap@champion")])
    stop = threading.Event()
    seen: list[list[tuple[int, bool]]] = [[] for _ in range(4)]
    failures: list[str] = []

    def client(index: int, url: str) -> None:
        with httpx.Client(timeout=30) as http:
            x = float(index)
            while not stop.is_set():
                answer = http.post(f"{url}/v1/models/swap/predict", json={"instances": [{"x": x}]})
                if answer.status_code != 200:
                    failures.append(answer.text)
                    continue
                body = answer.json()
                factor = {1: 2, 2: 3}[body["version"]]
                seen[index].append((body["version"], body["predictions"] == [x * factor]))

    try:
        with ServerThread(create_app(settings, plane)) as server:
            url = f"http://127.0.0.1:{server.port}"
            threads = [threading.Thread(target=client, args=(i, url)) for i in range(4)]
            for thread in threads:
                thread.start()
            time.sleep(1.0)
            registry.set_alias("swap", "champion", 2)
            deadline = time.monotonic() + 10
            while plane.models["swap"].version != 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(1.0)
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
    finally:
        Doubler.pause = Tripler.pause = 0.02
        registry.db.dispose()
    assert failures == []
    for answers in seen:
        versions = [version for version, _ in answers]
        assert all(correct for _, correct in answers)  # each answer matches its stamp
        assert versions == sorted(versions)  # old, then new: never back
        assert versions[0] == 1 and versions[-1] == 2
