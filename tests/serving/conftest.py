"""A real data-plane server on a loopback port, serving a freshly registered model."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import uvicorn

from models import classification_data
from shipyard.auth import read_credentials
from shipyard.config import Settings
from shipyard.registry import Registry
from shipyard.registry.uri import ModelURI
from shipyard.serving.app import create_app
from shipyard.serving.dataplane import DataPlane
from shipyard.serving.protocol import LaneProtocol


@dataclass
class Served:
    url: str
    client: httpx.Client
    model: Any
    frame: pd.DataFrame
    registry: Registry


class ServerThread:
    """uvicorn serving an app on 127.0.0.1 in a thread, stopped by the test; with the HTTP
    protocol ``shipyard serve`` uses, unless told otherwise."""

    def __init__(self, app: Any, http: Any = LaneProtocol) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", http=http
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(autouse=True)
def _serving_without_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about serving: their servers (in process and ``shipyard serve``
    subprocesses) let every caller in. Who may call is tested with authentication on in
    ``test_auth.py`` here and in ``tests/api/test_access*.py``."""
    monkeypatch.setenv("SHIPYARD_AUTH", "false")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from sklearn.ensemble import RandomForestClassifier

    home: Path = tmp_path_factory.mktemp("serving")
    settings = Settings(
        home=home, actor="t", reference_sample_rows=100, max_request_bytes=64_000, auth=False
    )
    registry = Registry.from_settings(settings)
    frame, target = classification_data(rows=400)
    frame = frame.assign(member=frame["age"] % 2 == 0, city=np.where(target == 1, "lima", "oslo"))
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["city"]), remainder="passthrough"),
        RandomForestClassifier(n_estimators=10, random_state=0),
    ).fit(frame, np.where(target == 1, "yes", "no"))
    registry.register_model(model, "credit", training_data=frame)
    registry.set_alias("credit", "champion", 1)
    numeric = frame[["age", "income", "score"]]
    from sklearn.linear_model import LogisticRegression

    logistic = LogisticRegression(max_iter=500).fit(numeric, target)
    registry.register_model(logistic, "numeric", training_data=numeric)
    plane = DataPlane(
        registry, [ModelURI.parse("models:/credit@champion"), ModelURI.parse("models:/numeric/1")]
    )
    app = create_app(settings, plane)
    with ServerThread(app) as server, httpx.Client(timeout=30) as client:
        yield Served(f"http://127.0.0.1:{server.port}", client, model, frame, registry)
    registry.db.dispose()


def bearer(home: Path) -> dict[str, str]:
    """The ``Authorization`` header of the admin token a server saved in ``home``."""
    token = read_credentials(home)
    assert token, f"no token in {home}/credentials: did a server with auth start there?"
    return {"Authorization": f"Bearer {token}"}


def wait_until_ready(url: str, process: Any, timeout: float = 60) -> None:
    """Poll readiness of a server started as a subprocess until it answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the server never became ready"
        time.sleep(0.1)
