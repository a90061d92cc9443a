"""Every prediction the server makes reaches the prediction log; a kill -9 loses at most
the last flush interval."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from models import Doubler
from serving.conftest import ServerThread, wait_until_ready
from shipyard.config import Settings
from shipyard.predictions import read_predictions
from shipyard.registry import Registry
from shipyard.serving.app import create_app

pytestmark = pytest.mark.slow


def _registry(home: Path) -> Registry:
    registry = Registry.from_settings(Settings(home=home, reference_sample_rows=0))
    registry.register_model(Doubler(), "double", training_data=pd.DataFrame({"x": [1.0]}))
    registry.set_alias("double", "champion", 1)
    return registry


def test_served_predictions_are_logged_and_flushed_on_shutdown(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _registry(home).db.dispose()
    settings = Settings(home=home, serve="models:/double@champion", prediction_log_flush_s=60)
    with ServerThread(create_app(settings)) as server:
        url = f"http://127.0.0.1:{server.port}"
        for i in range(5):
            body = {"instances": [{"x": float(i)}, {"x": i + 0.5}]}
            answer = httpx.post(
                f"{url}/v1/models/double/predict", json=body, headers={"X-Request-ID": f"req-{i}"}
            )
            assert answer.status_code == 200
        v2 = {
            "id": "v2-req",
            "inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [9.0]}],
        }
        assert httpx.post(f"{url}/v2/models/double/infer", json=v2).status_code == 200
        assert read_predictions(settings.predictions).empty  # not flushed yet (60 s)
    logged = read_predictions(settings.predictions, model="double")  # flushed on shutdown
    assert len(logged) == 11
    first = logged[logged["request_id"] == "req-2"]
    assert first["inputs.x"].tolist() == [2.0, 2.5]
    assert first["prediction"].tolist() == [4.0, 5.0]
    assert set(logged["version"]) == {1} and set(logged["protocol"]) == {"v1", "v2"}
    assert (logged["latency_ms"] > 0).all()


def test_kill_9_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _registry(home).db.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPYARD_")}
    env |= {"SHIPYARD_AUTH": "false"}  # about serving; callers are checked in test_auth.py
    env |= {
        "SHIPYARD_HOME": str(home),
        "SHIPYARD_PREDICTION_LOG_FLUSH_S": "0.5",
        "PYTHONPATH": str(Path(__file__).parents[1]),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "serve", "models:/double@champion", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, server)
        answered_at: dict[str, float] = {}
        for i in range(40):
            rid = f"k-{i}"
            httpx.post(
                f"{url}/v1/models/double/predict",
                json={"instances": [{"x": 1.0}]},
                headers={"X-Request-ID": rid},
            ).raise_for_status()
            answered_at[rid] = time.monotonic()
            time.sleep(0.03)
        killed_at = time.monotonic()
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    logged = set(read_predictions(Settings(home=home).predictions)["request_id"])
    settled = {rid for rid, at in answered_at.items() if killed_at - at > 1.0}  # > 2 flushes
    assert settled and settled <= logged
    assert logged <= set(answered_at)


def test_batched_requests_are_each_logged_with_their_own_rows(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    home = tmp_path / "home"
    _registry(home).db.dispose()
    settings = Settings(home=home, serve="models:/double@champion", prediction_log_flush_s=60)

    def client(worker: int, url: str) -> None:
        with httpx.Client(timeout=30) as http:
            for i in range(10):
                x = float(worker * 100 + i)
                answer = http.post(
                    f"{url}/v1/models/double/predict",
                    json={"instances": [{"x": x}, {"x": x + 0.5}]},
                    headers={"X-Request-ID": f"w{worker}-{i}"},
                )
                assert answer.status_code == 200

    app = create_app(settings)
    with ServerThread(app) as server:
        url = f"http://127.0.0.1:{server.port}"
        with ThreadPoolExecutor(8) as pool:
            for future in [pool.submit(client, w, url) for w in range(8)]:
                future.result()
        batcher = app.state.plane.batchers["double"]
        assert batcher.stats.calls < 80  # requests were answered together
    logged = read_predictions(settings.predictions, model="double")
    assert len(logged) == 160 and logged["request_id"].nunique() == 80
    for (rid, row), group in logged.groupby(["request_id", "row"]):
        worker, i = (int(part) for part in str(rid)[1:].split("-"))
        x = worker * 100 + i + 0.5 * int(row)
        assert group["inputs.x"].tolist() == [x]
        assert group["prediction"].tolist() == [2 * x]
    assert (logged["latency_ms"] > 0).all() and not logged["fallback"].any()
