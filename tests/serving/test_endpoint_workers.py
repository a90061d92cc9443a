"""``shipyard serve ENDPOINT --workers 2``: every worker follows the endpoint's current
revision, under load, without a failed request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from models import Doubler, Tripler
from serving.conftest import wait_until_ready
from shipyard.auth import read_credentials
from shipyard.config import Settings
from shipyard.endpoints import Endpoints
from shipyard.registry import Registry

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _single(uri: str) -> dict[str, object]:
    return {"kind": "single", "variants": [{"name": "main", "model": uri}]}


def test_workers_follow_a_new_revision_within_two_seconds_under_load(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, reference_sample_rows=0, actor="t")
    registry = Registry.from_settings(settings)
    data = pd.DataFrame({"x": [1.0]})
    registry.register_model(Doubler(), "calc", training_data=data)
    registry.register_model(Tripler(), "calc", training_data=data)
    endpoints = Endpoints(registry.db, registry.artifacts, settings)
    endpoints.create_endpoint("calc", _single("models:/calc/1"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_AUTH": "true"}
    env |= {"SHIPYARD_HOME": str(home), "PYTHONPATH": str(Path(__file__).parents[1])}
    # The default follow interval: the 2 s promise holds without tuning.
    command = [sys.executable, "-m", "shipyard", "serve", "calc", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    answers: list[tuple[float, int, bool]] = []  # (time, revision, answer right)
    failures: list[str] = []

    def client() -> None:
        # Callers are checked (each worker reads the token from the store): the admin
        # token shipyard serve saved for this new store.
        headers = {"Authorization": f"Bearer {read_credentials(home)}"}
        with httpx.Client(timeout=30, headers=headers) as http:
            while not stop.is_set():
                sent = time.monotonic()
                answer = http.post(
                    f"{url}/v1/endpoints/calc/predict", json={"instances": [{"x": 1.0}]}
                )
                if answer.status_code != 200:
                    failures.append(answer.text)
                    continue
                body = answer.json()
                right = body["predictions"] == [{1: 2.0, 2: 3.0}[body["version"]]]
                answers.append((sent, body["revision"], right))

    try:
        wait_until_ready(url, server)
        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        changed = time.monotonic()
        endpoints.update_endpoint("calc", _single("models:/calc/2"), reason="new model")
        time.sleep(3.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
        registry.db.dispose()
    assert "serving endpoint calc at revision 1" in out
    assert failures == []
    assert all(right for _, _, right in answers)
    before = [r for sent, r, _ in answers if sent < changed]
    late = [r for sent, r, _ in answers if sent > changed + 2.0]
    assert before and set(before) == {1}
    assert late and set(late) == {2}, "a worker still served revision 1 two seconds later"


def test_serving_an_unknown_endpoint_fails_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "shipyard", "serve", "nowhere", "--port", str(_free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "no endpoint named 'nowhere'" in done.stderr
    assert "shipyard endpoints list" in done.stderr
    assert "Traceback" not in done.stderr
