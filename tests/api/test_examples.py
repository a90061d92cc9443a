"""The README's monitoring walk with the shipped example scripts: ``examples/traffic.py``
sends requests to a real server and writes their labels, which load as feedback and
give the monitor its performance; ``examples/receiver.py`` receives an alert."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from api.conftest import Server, serve
from shipyard.alerting import AlertService
from shipyard.config import Settings
from shipyard.endpoints import Endpoints
from shipyard.monitoring import MonitorService
from shipyard.predictions import FeedbackStore
from shipyard.registry import Registry

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def tumor(settings: Settings, registry: Registry) -> Iterator[tuple[Server, Any]]:
    data = load_breast_cancer(as_frame=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    model.fit(data.data, data.target)
    registry.register_model(model, "tumor-classifier", training_data=data.data, target=data.target)
    Endpoints(registry.db, registry.artifacts, settings).create_endpoint(
        "tumor",
        {"kind": "single", "variants": [{"name": "main", "model": "models:/tumor-classifier/1"}]},
    )
    for server in serve(settings):
        yield server, model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_readme_walk_with_the_example_scripts(
    tumor: tuple[Server, Any], settings: Settings, registry: Registry, tmp_path: Path
) -> None:
    server, model = tumor
    labels = tmp_path / "labels.csv"
    sent = subprocess.run(
        [sys.executable, str(EXAMPLES / "traffic.py"), "--url", server.url, "--rows", "120",
         "--labels", str(labels)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert sent.returncode == 0, sent.stderr
    assert "sent 120 requests" in sent.stdout
    receipt = FeedbackStore.from_settings(settings)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the log is flushed every second
        stored = receipt.add(_read(labels), source="labels.csv")
        if stored.matched == 120:
            break
        time.sleep(0.5)
    assert stored.matched == 120

    monitors = MonitorService(registry, settings.predictions, settings.feedback)
    monitors.create("tumor-health", endpoint="tumor", checks=["performance"])
    run = monitors.run("tumor-health")
    accuracy = next(r.value for r in run.results if r.metric == "accuracy")
    truth = _read(labels)["label"].to_numpy()
    data = load_breast_cancer(as_frame=True).frame.sample(120, random_state=1)
    assert accuracy == pytest.approx(
        accuracy_score(truth, model.predict(data.drop(columns="target")))
    )

    port = _free_port()
    receiver = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "receiver.py"), "--port", str(port)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert receiver.stdout is not None
        assert "listening on" in receiver.stdout.readline()
        alerts = AlertService(registry, attempts=2, backoff_s=0.1)
        alerts.create_rule(
            "tumor-accuracy",
            source={"kind": "monitor", "monitor": "tumor-health", "metric": "accuracy"},
            condition="value < 1.01",
            channels=[{"type": "webhook", "url": f"http://127.0.0.1:{port}/hook"}],
        )
        (fired,) = alerts.evaluate()
        assert [d.ok for d in alerts.get(fired.id).deliveries] == [True]
        assert receiver.stdout.readline().strip() == "POST /hook"
        body = ""
        for line in receiver.stdout:
            body += line
            if line.startswith("}"):
                break
        assert json.loads(body)["alert"]["id"] == fired.id
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
        if receiver.stdout is not None:
            receiver.stdout.close()


def _read(path: Path):  # type: ignore[no-untyped-def]
    import pandas as pd

    return pd.read_csv(path, dtype={"request_id": str})
