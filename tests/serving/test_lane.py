"""Inference requests are answered straight off ASGI, ahead of the application's routing;
the declared routes answer the same way when the app's router is used on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from serving.conftest import Served
from shipyard.serving.lane import route


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/models/credit/predict", ("v1", "credit", None)),
        ("/v2/models/credit/infer", ("v2", "credit", None)),
        ("/v2/models/credit/versions/3/infer", ("v2", "credit", "3")),
        ("/v1/models//predict", None),
        ("/v1/models/credit/infer", None),
        ("/v2/models/credit/versions//infer", None),
        ("/v2/models/credit/ready", None),
        ("/v3/models/credit/infer", None),
        ("/v1/models/credit/predict/", None),
        ("/metrics", None),
    ],
)
def test_route(path: str, expected: Any) -> None:
    assert route(path) == expected


def _row(served: Served) -> dict[str, Any]:
    row: dict[str, Any] = served.frame.head(1).to_dict(orient="records")[0]
    return row


def test_a_body_sent_in_chunks_is_read_whole(served: Served) -> None:
    import orjson

    payload = orjson.dumps({"instances": [_row(served)] * 3})

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 7):
            yield payload[start : start + 7]

    answer = served.client.post(
        f"{served.url}/v1/models/credit/predict",
        content=chunks(),
        headers={"content-type": "application/json", "x-request-id": "chunked-1"},
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 3
    assert answer.headers["x-request-id"] == "chunked-1"


def test_a_chunked_body_over_the_limit_is_refused(served: Served) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"instances": ['
        for _ in range(10_000):
            yield b'{"age": 1, "income": 2.0, "score": 0.5, "member": true, "city": "lima"},'
        yield b"{}]}"

    answer = served.client.post(
        f"{served.url}/v1/models/credit/predict",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 413
    assert "fewer rows" in answer.json()["error"]


def test_the_declared_routes_answer_through_the_same_lane(served: Served) -> None:
    """The application without the lane in front (as when a parent application includes
    its routes): the same answers and errors."""
    from fastapi import FastAPI

    from shipyard.config import Settings
    from shipyard.registry.uri import ModelURI
    from shipyard.serving.app import create_app
    from shipyard.serving.dataplane import DataPlane

    plane = DataPlane(served.registry, [ModelURI.parse("models:/credit@champion")])
    plane.start()
    app = create_app(Settings(home=served.registry.settings.home), plane)

    async def without_lane(scope: Any, receive: Any, send: Any) -> None:
        await FastAPI.__call__(app, scope, receive, send)

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=without_lane)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            good = await client.post(
                "/v1/models/credit/predict",
                json={"instances": [_row(served)]},
                headers={"x-request-id": "routed"},
            )
            unknown = await client.post("/v2/models/nope/infer", json={"inputs": []})
            bad = await client.post("/v2/models/credit/versions/1/infer", content=b"{")
        await plane.stop()
        return [good, unknown, bad]

    good, unknown, bad = asyncio.run(run())
    assert good.status_code == 200 and good.headers["x-request-id"] == "routed"
    assert good.json()["request_id"] == "routed"
    assert unknown.status_code == 404 and "not served here" in unknown.json()["error"]
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_the_asgi_lane_answers_on_any_http_implementation(served: Served, http: str) -> None:
    """Under a plain ASGI server (not ``shipyard serve``'s protocol), the application's
    own lane answers inference the same way."""
    from serving.conftest import ServerThread
    from shipyard.config import Settings
    from shipyard.registry.uri import ModelURI
    from shipyard.serving.app import create_app
    from shipyard.serving.dataplane import DataPlane

    plane = DataPlane(served.registry, [ModelURI.parse("models:/credit@champion")])
    app = create_app(Settings(home=served.registry.settings.home, max_request_bytes=2_000), plane)
    with ServerThread(app, http=http) as server, httpx.Client(timeout=30) as client:
        url = f"http://127.0.0.1:{server.port}/v1/models/credit/predict"
        good = client.post(url, json={"instances": [_row(served)]}, headers={"x-request-id": "a"})
        assert good.status_code == 200 and good.headers["x-request-id"] == "a"
        assert good.json()["predictions"] == served.model.predict(served.frame.head(1)).tolist()
        big = client.post(url, json={"instances": [_row(served)] * 40})
        assert big.status_code == 413
        bad = client.post(url, content=b"[1, 2")
        assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]


def _raw_exchange(port: int, payload: bytes, responses: int) -> list[bytes]:
    """Send raw bytes on one connection and read ``responses`` whole HTTP responses."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(payload)
        data = b""
        answers: list[bytes] = []
        while len(answers) < responses:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
            while b"\r\n\r\n" in data:
                head, rest = data.split(b"\r\n\r\n", 1)
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                if len(rest) < length:
                    break
                answers.append(head + b"\r\n\r\n" + rest[:length])
                data = rest[length:]
        return answers


def _post(path: str, body: bytes, *extra: str, version: str = "1.1") -> bytes:
    lines = [f"POST {path} HTTP/{version}", "Host: t", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_keep_alive_and_pipelined_requests_are_answered_in_order(served: Served) -> None:
    import orjson

    port = int(served.url.rsplit(":", 1)[1])
    body = orjson.dumps({"instances": [_row(served)]})
    path = "/v1/models/credit/predict"
    payload = (
        _post(path, body, "X-Request-ID: first")
        + b"GET /v2/health/ready HTTP/1.1\r\nHost: t\r\n\r\n"
        + _post(path, body, "X-Request-ID: second")
        + _post("/v2/models/credit/infer", b"{", "X-Request-ID: third")
    )
    answers = _raw_exchange(port, payload, 4)
    assert len(answers) == 4
    assert answers[0].startswith(b"HTTP/1.1 200") and b"x-request-id: first" in answers[0]
    assert answers[1].startswith(b"HTTP/1.1 200") and b'"ready":true' in answers[1]
    assert answers[2].startswith(b"HTTP/1.1 200") and b'"request_id":"second"' in answers[2]
    assert answers[3].startswith(b"HTTP/1.1 400") and b"x-request-id: third" in answers[3]


def test_http_1_0_and_connection_close_end_the_connection(served: Served) -> None:
    import orjson

    port = int(served.url.rsplit(":", 1)[1])
    body = orjson.dumps({"instances": [_row(served)]})
    for payload in (
        _post("/v1/models/credit/predict", body, version="1.0"),
        _post("/v1/models/credit/predict", body, "Connection: close"),
    ):
        answers = _raw_exchange(port, payload + payload, 2)
        assert len(answers) == 1  # the connection closed after the first answer
        assert answers[0].startswith(b"HTTP/1.1 200") and b"connection: close" in answers[0]


def test_a_declared_length_over_the_limit_is_refused_before_reading(served: Served) -> None:
    port = int(served.url.rsplit(":", 1)[1])
    head = (
        b"POST /v1/models/credit/predict HTTP/1.1\r\nHost: t\r\nContent-Length: 999999999\r\n\r\n"
    )
    answers = _raw_exchange(port, head + b'{"instances": [', 1)
    assert answers and answers[0].startswith(b"HTTP/1.1 413")


def test_a_request_id_that_could_forge_headers_is_refused(served: Served) -> None:
    import orjson

    port = int(served.url.rsplit(":", 1)[1])
    path = "/v1/models/credit/predict"
    for rid in ("a\r\nset-cookie: evil=1", "a\nb", "caf\u00e9"):
        body = {"id": rid, "instances": [_row(served)]}
        (answer,) = _raw_exchange(port, _post(path, orjson.dumps(body)), 1)
        assert answer.startswith(b"HTTP/1.1 4"), answer
        assert b"set-cookie" not in answer.split(b"\r\n\r\n")[0]
        assert b"printable ASCII" in answer
