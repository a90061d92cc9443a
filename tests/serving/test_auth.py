"""Callers of the data plane, checked on every path a request can take: the HTTP protocol
that answers inference itself, uvicorn's own, and the routes behind the application."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from serving.conftest import Served, ServerThread
from shipyard.auth import AuthService
from shipyard.config import Settings
from shipyard.registry.uri import ModelURI
from shipyard.serving.app import create_app
from shipyard.serving.dataplane import DataPlane

ROW = {"instances": [{"age": 30, "income": 1000.0, "score": 0.5}]}


@pytest.mark.parametrize("http", ["lane", "auto"])
def test_inference_needs_a_token_that_may_infer_on_that_model(served: Served, http: str) -> None:
    access = AuthService(served.registry.db)
    user = f"svc-{http}"  # the store is the module's
    access.create_user(user, "maintainer")
    predictor = access.create_token(user, "predictor").token
    viewer = access.create_token(user, "viewer").token
    scoped = access.create_token(user, "predictor", scopes=["model:credit"]).token
    limited = access.create_token(user, "predictor", rate_limit=1).token
    settings = Settings(home=served.registry.settings.home, auth=True)
    plane = DataPlane(served.registry, [ModelURI.parse("models:/numeric/1")])
    app = create_app(settings, plane)
    kind = {"http": "auto"} if http == "auto" else {}
    url = "/v1/models/numeric/predict"
    with (
        ServerThread(app, **kind) as server,
        httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as client,
    ):
        refused = client.post(url, json=ROW)
        assert refused.status_code == 401 and "needs an API token" in refused.json()["error"]
        assert refused.headers["www-authenticate"] == 'Bearer realm="shipyard"'
        # the connection stays usable after a refusal
        answer = client.post(url, json=ROW, headers={"Authorization": f"Bearer {predictor}"})
        assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1
        v2 = {"inputs": [{"name": "age", "shape": [1], "datatype": "INT64", "data": [30]}]}
        for path, body in ((url, ROW), ("/v2/models/numeric/infer", v2)):
            wrong = client.post(path, json=body, headers={"Authorization": f"Bearer {viewer}"})
            assert wrong.status_code == 403 and "role viewer" in wrong.json()["error"]
            out = client.post(path, json=body, headers={"Authorization": f"Bearer {scoped}"})
            assert out.status_code == 403 and "model:credit" in out.json()["error"]
        bad = client.post(url, json=ROW, headers={"Authorization": "Bearer sy_x"})
        assert bad.status_code == 401
        statuses = [
            client.post(url, json=ROW, headers={"Authorization": f"Bearer {limited}"})
            for _ in range(3)
        ]
        assert statuses[0].status_code == 200
        assert statuses[-1].status_code == 429 and statuses[-1].headers["retry-after"] == "1"
        # health and readiness stay open; metadata and /metrics need a token
        assert client.get("/v2/health/ready").status_code == 200
        assert client.get("/v2/models/numeric/ready").status_code == 200
        assert client.get("/v2/models/numeric").status_code == 401
        assert client.get("/metrics").status_code == 401
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {viewer}"})
        assert metrics.status_code == 200 and "shipyard_requests_total" in metrics.text


def test_metrics_can_be_made_public(served: Served) -> None:
    settings = Settings(home=served.registry.settings.home, auth=True, metrics_public=True)
    plane = DataPlane(served.registry, [ModelURI.parse("models:/numeric/1")])
    with ServerThread(create_app(settings, plane)) as server:
        url = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{url}/metrics").status_code == 200
        assert httpx.post(f"{url}/v1/models/numeric/predict", json=ROW).status_code == 401


def test_a_caller_without_a_token_learns_nothing_from_a_body_too_large(
    served: Served, tmp_path: Path
) -> None:
    settings = Settings(home=served.registry.settings.home, auth=True, max_request_bytes=1000)
    plane = DataPlane(served.registry, [ModelURI.parse("models:/numeric/1")])
    with ServerThread(create_app(settings, plane)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            body = b"x" * 200_000
            sock.sendall(
                b"POST /v1/models/numeric/predict HTTP/1.1\r\nhost: x\r\n"
                b"content-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
            )
            reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 401")
