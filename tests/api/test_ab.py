"""``GET /api/v1/endpoints/{name}/ab`` over a real server: the report of rows written by
the real prediction-log writer and labelled by real feedback files is the in-process
report, and an empty window or an unknown control says what to do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from api.conftest import Server, register_doubler_and_tripler
from shipyard.endpoints import Endpoints, ab_report
from shipyard.errors import EndpointNotFoundError, InvalidInputError, NotFoundError
from shipyard.predictions import FeedbackStore, PredictionLogWriter, Route


@pytest.fixture
def server(control_plane: Server) -> Server:
    """These routes serve no predictions: the control plane alone."""
    return control_plane


@pytest.fixture
def shop(server: Server) -> Iterator[Endpoints]:
    """Endpoint ``shop`` splitting traffic between ``a`` (``models:/m/1``) and ``b``
    (``models:/m/2``); the in-process service on the server's store."""
    register_doubler_and_tripler(server)
    split = {
        "kind": "split",
        "variants": [
            {"name": "a", "model": "models:/m/1", "weight": 50},
            {"name": "b", "model": "models:/m/2", "weight": 50},
        ],
    }
    server.client.create_endpoint("shop", split)
    service = Endpoints.from_settings(server.settings)
    yield service
    service.db.dispose()


def _log(server: Server) -> None:
    """Requests answered by both variants (``b`` right more often), and their labels."""
    rng = np.random.default_rng(5)
    writer = PredictionLogWriter(server.settings.predictions, flush_interval=60)
    truth: dict[str, int] = {}
    for variant, version, n, right in (("a", 1, 200, 0.6), ("b", 2, 180, 0.8)):
        ids = [f"{variant}{i}" for i in range(n)]
        labels = rng.integers(0, 2, n)
        predictions = np.where(rng.random(n) < right, labels, 1 - labels)
        writer.append_batch(
            model="m",
            version=version,
            request_ids=ids,
            protocols=["v1"] * n,
            latencies_ms=rng.gamma(4, 3, n).tolist(),
            rows=[1] * n,
            inputs=pd.DataFrame({"x": np.arange(n, dtype=float)}),
            predictions=predictions,
            probabilities=None,
            routes=[Route("shop", 1, variant)] * n,
        )
        truth |= dict(zip(ids, labels.tolist(), strict=True))
    writer.close()
    FeedbackStore.from_settings(server.settings).add(
        pd.DataFrame({"request_id": list(truth), "label": list(truth.values())})
    )


def test_the_report_over_http_is_the_in_process_report(server: Server, shop: Endpoints) -> None:
    _log(server)
    here = ab_report(shop, "shop", alpha=0.1)
    there = server.client.ab_report("shop", alpha=0.1)
    assert there == here
    assert [(v.name, v.requests, v.labelled) for v in there.variants] == [
        ("a", 200, 200),
        ("b", 180, 180),
    ]
    assert there.task == "classification" and there.control == "a"
    assert {c.metric for c in there.comparisons} >= {"error rate", "accuracy"}

    flipped = server.client.ab_report("shop", control="b", task="classification", alpha=0.1)
    assert flipped == ab_report(shop, "shop", control="b", task="classification", alpha=0.1)
    assert flipped.control == "b"
    recent = server.client.ab_report("shop", since="1h")
    assert recent.start is not None and recent.variants == here.variants
    start = datetime.now(UTC) - timedelta(days=1)
    windowed = server.client.ab_report("shop", start=start, end=start + timedelta(days=2))
    assert (windowed.start, windowed.variants) == (start, here.variants)
    naive = server.http.get("/endpoints/shop/ab", params={"start": "2020-01-01"})
    assert naive.status_code == 200, naive.text
    assert naive.json()["start"] == "2020-01-01T00:00:00Z"


def test_an_empty_window_says_how_to_fill_it(server: Server, shop: Endpoints) -> None:
    with pytest.raises(NotFoundError, match="'shop' has no logged predictions; send it traffic"):
        server.client.ab_report("shop")
    _log(server)
    reply = server.http.get("/endpoints/shop/ab", params={"end": "2020-01-01T00:00:00"})
    assert reply.status_code == 404
    assert reply.json()["error"].startswith(
        "endpoint 'shop' has no logged predictions until 2020-01-01 00:00:00 UTC; send it"
    )


def test_refused_reports_name_the_field(server: Server, shop: Endpoints) -> None:
    _log(server)
    with pytest.raises(InvalidInputError, match="control variant 'zzz' has no logged"):
        server.client.ab_report("shop", control="zzz")
    with pytest.raises(EndpointNotFoundError, match="nope"):
        server.client.ab_report("nope")
    refused = [
        ({"alpha": "2"}, 400, "alpha and power must be between 0 and 1"),
        ({"since": "1h", "start": "2026-01-01"}, 400, "give either --since or --start"),
        ({"since": "soon"}, 400, "--since 'soon' is not a duration"),
        ({"start": "2026-02-01", "end": "2026-01-01"}, 400, "the window's start must come"),
        ({"task": "ranking"}, 422, "query.task: Input should be 'classification' or"),
        ({"start": "yesterday"}, 422, "query.start: Input should be a valid datetime"),
    ]
    for params, status, message in refused:
        reply = server.http.get("/endpoints/shop/ab", params=params)
        assert reply.status_code == status and message in reply.json()["error"], reply.text
