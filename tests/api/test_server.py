"""``shipyard server``, the app's schema and docs, the data-plane hook, and the client's
token, actor and transport errors."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api.conftest import Server
from serving.conftest import ServerThread, bearer
from shipyard.cli.main import main
from shipyard.client import Client
from shipyard.config import Settings
from shipyard.errors import (
    ConflictError,
    InvalidInputError,
    ServerUnreachableError,
    ShipyardError,
)
from shipyard.server import create_server_app


def test_health_schema_and_docs(server: Server) -> None:
    from shipyard import __version__

    assert server.client.health() == {"status": "ok", "version": __version__}
    schema = server.http.get("/openapi.json").json()
    assert schema["info"]["title"] == "Shipyard control plane"
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    for path, operations in schema["paths"].items():
        assert path.startswith("/api/v1/"), path
        for method, operation in operations.items():
            assert operation.get("summary") and operation.get("tags"), (method, path)
            assert {"200", "201", "202"} & set(operation["responses"]), (method, path)
    docs = httpx.get(f"{server.url}/api/v1/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert httpx.get(f"{server.url}/v2/health/live").json() == {"live": True}  # the data plane
    assert httpx.get(f"{server.url}/api/v1/nothing-here").status_code == 401  # tells no one
    unknown = httpx.get(f"{server.url}/api/v1/nothing-here", headers=server.http.headers)
    assert unknown.status_code == 404 and "no route /api/v1/nothing-here" in unknown.json()["error"]


def test_the_data_plane_hook_serves_other_paths_and_runs_its_lifespan(
    settings: Settings,
) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        events.append("started")
        yield
        events.append("stopped")

    data_plane = FastAPI(lifespan=lifespan)

    @data_plane.get("/v2/health/live")
    def live() -> dict[str, bool]:
        return {"live": True}

    @data_plane.get("/metrics")
    def metrics() -> str:
        return "metrics"

    app = create_server_app(settings, data_plane_app=data_plane)
    with ServerThread(app, http="auto") as thread:
        url = f"http://127.0.0.1:{thread.port}"
        assert events == ["started"]
        assert httpx.get(f"{url}/v2/health/live").json() == {"live": True}
        assert httpx.get(f"{url}/metrics").json() == "metrics"
        assert httpx.get(f"{url}/api/v1/health").json()["status"] == "ok"
    assert events == ["started", "stopped"]


def test_server_refuses_a_port_in_use(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exited:
            main(["server", "--port", str(port)])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert f"error: port {port} on 127.0.0.1 is already in use" in err
    assert "--port" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit):
        main(["server", "--host", "no-such-host.invalid", "--port", "0"])
    assert "is not an address of this machine" in capsys.readouterr().err


def test_shipyard_server_runs_the_control_plane(shipyard_home: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "shipyard", "server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"SHIPYARD_ACTOR": "ops"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "Shipyard on http://127.0.0.1:" in line, process.stderr
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        deadline = time.monotonic() + 30
        while True:
            try:
                assert httpx.get(f"{url}/api/v1/health").json()["status"] == "ok"
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
        with Client(url) as client:
            assert client.list_models() == []
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "stopped" in out, err


def test_the_client_sends_its_token_and_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "ok", "version": "1"})

    monkeypatch.setenv("SHIPYARD_TOKEN", "from-settings")
    with Client("http://shipyard.test", transport=httpx.MockTransport(answer)) as client:
        client.health()
    with Client(
        "http://shipyard.test/", "given", actor="ana", transport=httpx.MockTransport(answer)
    ) as client:
        client.health()
    assert [r.headers["authorization"] for r in seen] == ["Bearer from-settings", "Bearer given"]
    assert (
        "x-shipyard-actor" not in seen[0].headers and seen[1].headers["x-shipyard-actor"] == "ana"
    )
    assert str(seen[1].url) == "http://shipyard.test/api/v1/health"


def test_the_client_maps_errors_it_did_not_get_from_shipyard() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/health"):
            return httpx.Response(502, text="<html>bad gateway</html>")
        return httpx.Response(409, json={"error": "busy; retry"})

    with Client("http://proxy.test", transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(ShipyardError, match="is this URL a Shipyard server") as raised:
            client.health()
        assert raised.value.status_code == 502
        with pytest.raises(ConflictError, match="busy; retry"):
            client.get_model("m")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with Client(f"http://127.0.0.1:{port}") as client:
        with pytest.raises(ServerUnreachableError, match="cannot reach a Shipyard server"):
            client.health()
        with pytest.raises(InvalidInputError, match="does not exist"):
            client.register("nowhere.skops", "m", flavor="sklearn", training_data="t.csv")


def test_the_embedded_server_serves_endpoints_and_follows_their_revisions(
    settings: Settings,
) -> None:
    from models import logistic
    from shipyard.registry import Registry

    registry = Registry.from_settings(settings.model_copy(update={"reference_sample_rows": 50}))
    first, frame, _ = logistic(rows=200, seed=1)
    second, _, _ = logistic(rows=150, seed=2)
    registry.register_model(first, "clf", training_data=frame)
    registry.register_model(second, "clf", training_data=frame)
    fast = settings.model_copy(update={"follow_interval_s": 0.2})
    rows = [
        {"age": int(r.age), "income": r.income, "score": r.score}
        for r in frame.head(3).itertuples()
    ]
    with (
        ServerThread(create_server_app(fast)) as thread,
        Client(f"http://127.0.0.1:{thread.port}") as client,
        httpx.Client(headers=bearer(settings.home)) as http,
    ):
        url = f"http://127.0.0.1:{thread.port}"
        policy = {"kind": "single", "variants": [{"name": "a", "model": "models:/clf/1"}]}
        client.create_endpoint("shop", policy)  # created after the server started
        deadline = time.monotonic() + 10
        while True:
            answer = http.post(f"{url}/v1/endpoints/shop/predict", json={"instances": rows})
            if answer.status_code == 200:
                break
            assert answer.status_code == 404 and time.monotonic() < deadline, answer.text
            time.sleep(0.05)
        body = answer.json()
        assert body["predictions"] == first.predict(frame.head(3)).tolist()
        assert (body["endpoint"], body["revision"], body["version"]) == ("shop", 1, 1)
        policy["variants"][0]["model"] = "models:/clf/2"
        client.update_endpoint("shop", policy, reason="retrained")
        changed = time.monotonic()
        while body["revision"] != 2:
            assert time.monotonic() - changed < 2.0, "revision 2 was not served within 2 s"
            time.sleep(0.05)
            body = http.post(f"{url}/v1/endpoints/shop/predict", json={"instances": rows}).json()
        assert body["version"] == 2
        assert body["predictions"] == second.predict(frame.head(3)).tolist()
        assert http.get(f"{url}/v2/health/ready").status_code == 200
        assert http.get(f"{url}/v1/endpoints/shop").json()["revision"] == 2
    registry.db.dispose()


def test_the_embedded_server_serves_any_model_by_its_champion_alias(settings: Settings) -> None:
    from models import logistic
    from shipyard.registry import Registry

    registry = Registry.from_settings(settings.model_copy(update={"reference_sample_rows": 50}))
    first, frame, _ = logistic(rows=200, seed=1)
    second, _, _ = logistic(rows=150, seed=2)
    registry.register_model(first, "clf", training_data=frame)
    registry.register_model(second, "clf", training_data=frame)
    registry.set_alias("clf", "champion", 1)
    registry.register_model(first, "bare", training_data=frame)  # no alias
    fast = settings.model_copy(update={"follow_interval_s": 0.2})
    rows = [
        {"age": int(r.age), "income": r.income, "score": r.score}
        for r in frame.head(3).itertuples()
    ]
    with (
        ServerThread(create_server_app(fast)) as thread,
        httpx.Client(headers=bearer(settings.home)) as http,
    ):
        url = f"http://127.0.0.1:{thread.port}"
        answers = [
            http.post(f"{url}/v1/models/clf/predict", json={"instances": rows}, timeout=60)
            for _ in range(2)
        ]
        assert [a.status_code for a in answers] == [200, 200], answers[0].text
        assert answers[0].json()["predictions"] == first.predict(frame.head(3)).tolist()
        assert http.get(f"{url}/v2/models/clf").json()["versions"] == ["1"]
        registry.set_alias("clf", "champion", 2)
        deadline = time.monotonic() + 5
        while True:
            body = http.post(f"{url}/v1/models/clf/predict", json={"instances": rows}).json()
            if body["version"] == 2:
                break
            assert time.monotonic() < deadline, "the alias move was not followed"
            time.sleep(0.05)
        assert body["predictions"] == second.predict(frame.head(3)).tolist()
        missing = http.post(f"{url}/v1/models/nope/predict", json={"instances": rows})
        assert missing.status_code == 404 and "nope" in missing.json()["error"]
        no_alias = http.post(f"{url}/v1/models/bare/predict", json={"instances": rows})
        assert no_alias.status_code == 404 and "champion" in no_alias.json()["error"]
    registry.db.dispose()


def test_listening_beyond_loopback_without_auth_needs_to_be_asked_for(
    shipyard_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_AUTH", "false")
    for command in (["server"], ["serve", "models:/m/1"]):
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--host", "0.0.0.0", "--port", "0"])
        assert exit_info.value.code == 1
        err = capsys.readouterr().err
        assert "with SHIPYARD_AUTH=false would let anyone" in err, err
        assert "--allow-unauthenticated" in err and "Traceback" not in err
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shipyard",
            "server",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--allow-unauthenticated",
        ],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "Shipyard on http://0.0.0.0:" in line, process.stderr
        port = line.split("0.0.0.0:", 1)[1].split(" ", 1)[0]
        deadline = time.monotonic() + 30
        while True:  # traffic to loopback only
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/health")
                assert answer.json()["status"] == "ok"
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.1)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 0
