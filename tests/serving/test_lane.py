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
