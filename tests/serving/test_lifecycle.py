"""The real ``shipyard serve`` command with two workers, stopped with SIGTERM under load.

Every request a worker started reading is answered before it exits (its JSON log says how
many it started and finished), every answer is a 200, and afterwards connections are
refused. Connections reset during the shutdown are requests no worker ever started:
their count equals what the clients sent minus what the workers started.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from models import Doubler
from serving.conftest import wait_until_ready
from shipyard.config import Settings
from shipyard.registry import Registry

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_drains_without_failing_an_accepted_request(tmp_path: Path) -> None:
    home = tmp_path / "home"
    registry = Registry.from_settings(Settings(home=home, reference_sample_rows=0))
    registry.register_model(Doubler(), "double", training_data=pd.DataFrame({"x": [1.0]}))
    registry.set_alias("double", "champion", 1)
    registry.db.dispose()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_AUTH": "false"}  # about serving; callers are checked in test_auth.py
    env |= {"SHIPYARD_HOME": str(home), "PYTHONPATH": str(Path(__file__).parents[1])}
    command = [
        sys.executable,
        "-m",
        "shipyard",
        "serve",
        "models:/double@champion",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    answers: list[int] = []
    never_started: list[str] = []
    stop = threading.Event()

    def client(index: int) -> None:
        while not stop.is_set():
            try:  # a connection per request, so a refused one was never accepted
                answer = httpx.post(
                    f"{url}/v1/models/double/predict",
                    json={"instances": [{"x": float(index)}]},
                    headers={"Connection": "close"},
                    timeout=30,
                )
            except httpx.TransportError as exc:
                never_started.append(repr(exc))
                time.sleep(0.01)
                continue
            answers.append(answer.status_code)

    try:
        wait_until_ready(url, server)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(1.5)
        answered_before_signal = len(answers)
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{url}/v2/health/ready", timeout=1)  # refused once drained
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        stop.set()
        if server.poll() is None:
            server.kill()
            server.communicate()
    drained = [
        json.loads(line)
        for line in stderr.splitlines()
        if line.startswith("{") and json.loads(line).get("message") == "drained"
    ]
    assert server.returncode == 0
    assert len(drained) == 2  # both workers drained and said so
    started = sum(entry["started"] for entry in drained)
    finished = sum(entry["finished"] for entry in drained)
    assert answered_before_signal > 20
    assert started == finished == len(answers)  # nothing accepted was lost
    assert set(answers) == {200}
    assert never_started  # the load went on past the shutdown, and was refused


def test_metrics_of_every_worker_are_reported_by_any_worker(tmp_path: Path) -> None:
    home = tmp_path / "home"
    registry = Registry.from_settings(Settings(home=home, reference_sample_rows=0))
    registry.register_model(Doubler(), "double", training_data=pd.DataFrame({"x": [1.0]}))
    registry.db.dispose()
    shared = tmp_path / "metrics"
    shared.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_AUTH": "false"}  # about serving; callers are checked in test_auth.py
    env |= {
        "SHIPYARD_HOME": str(home),
        "PYTHONPATH": str(Path(__file__).parents[1]),
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
    }
    command = [sys.executable, "-m", "shipyard", "serve", "models:/double/1"]
    command += ["--port", str(port), "--workers", "2"]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    close = {"Connection": "close"}  # a connection per request: both workers take some
    try:
        wait_until_ready(url, server)
        deadline = time.monotonic() + 60
        while len({p.name.rsplit("_", 1)[-1] for p in shared.glob("gauge_max_*.db")}) < 2:
            assert time.monotonic() < deadline, "the second worker never loaded"
            time.sleep(0.1)
        for i in range(40):
            body = {"instances": [{"x": float(i)}]}
            answer = httpx.post(f"{url}/v1/models/double/predict", json=body, headers=close)
            assert answer.status_code == 200
        line = 'shipyard_requests_total{model="double",protocol="v1",status="200",version="1"}'
        for _ in range(6):
            metrics = httpx.get(f"{url}/metrics", headers=close).text
            assert f"{line} 40.0" in metrics
            assert 'shipyard_batch_rows_count{model="double"} 40.0' in metrics
    finally:
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=60)
    assert server.returncode == 0
    drained = [
        json.loads(line)
        for line in stderr.splitlines()
        if line.startswith("{") and json.loads(line).get("message") == "drained"
    ]
    answered = sorted(entry["finished"] for entry in drained)
    assert len(answered) == 2 and sum(answered) == 40
    assert answered[0] > 0, answered  # both workers answered some: the scrapes summed them
    assert not list(shared.glob("gauge_livesum_*.db"))  # live gauges withdrawn at exit
