"""Timeouts, fallbacks and the circuit breaker, with a model that raises and one that
hangs, on a real server."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from models import Broken, Doubler, Hanging
from serving.conftest import ServerThread
from shipyard.config import Settings
from shipyard.registry import Registry
from shipyard.registry.uri import ModelURI
from shipyard.serving.app import create_app
from shipyard.serving.dataplane import DataPlane, parse_fallback
from shipyard.serving.guard import CircuitBreaker

ROW = {"instances": [{"x": 3.0}]}


@contextlib.contextmanager
def armed(model: type[Broken] | type[Hanging]) -> Iterator[None]:
    """Make a test model misbehave (it behaves while being registered and loaded)."""
    model.armed = True
    if model is Broken:
        Broken.calls = 0
    try:
        yield
    finally:
        model.armed = False


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    registry = Registry.from_settings(Settings(home=tmp_path, actor="t", reference_sample_rows=0))
    data = pd.DataFrame({"x": [1.0, 2.0]})
    registry.register_model(Doubler(), "m", training_data=data)  # version 1: the backup
    registry.register_model(Broken(), "m", training_data=data)  # version 2
    registry.register_model(Hanging(), "m", training_data=data)  # version 3
    yield registry
    registry.db.dispose()


def serve(registry: Registry, uri: str, **options: object) -> tuple[ServerThread, DataPlane]:
    plane = DataPlane(registry, [ModelURI.parse(uri)], **options)  # type: ignore[arg-type]
    settings = Settings(home=registry.settings.home)
    return ServerThread(create_app(settings, plane)), plane


def test_a_failing_model_falls_back_to_a_fixed_answer_and_trips_the_breaker(
    registry: Registry,
) -> None:
    server, plane = serve(
        registry,
        "models:/m/2",
        fallback=parse_fallback("0"),
        breaker_failures=3,
        breaker_reset_s=0.5,
    )
    with server, armed(Broken):
        url = f"http://127.0.0.1:{server.port}/v1/models/m/predict"
        answers = [httpx.post(url, json=ROW, timeout=10).json() for _ in range(6)]
        assert all(a["predictions"] == [0] and a["fallback"] is True for a in answers)
        assert answers[0]["version"] is None  # a fixed answer comes from no version
        assert Broken.calls == 3  # after 3 failures the breaker stopped calling it
        time.sleep(0.6)
        httpx.post(url, json=ROW, timeout=10)
        assert Broken.calls == 4  # one probe after the pause, which failed again
        metrics = httpx.get(f"http://127.0.0.1:{server.port}/metrics").text
        assert 'shipyard_fallbacks_total{model="m"} 7.0' in metrics


def test_without_a_fallback_the_failure_is_reported(registry: Registry) -> None:
    server, _ = serve(registry, "models:/m/2", breaker_failures=2, breaker_reset_s=60)
    with server, armed(Broken):
        url = f"http://127.0.0.1:{server.port}/v1/models/m/predict"
        failed = httpx.post(url, json=ROW, timeout=10)
        assert failed.status_code == 500
        assert "the model failed: RuntimeError: broken model" in failed.json()["error"]
        httpx.post(url, json=ROW, timeout=10)
        paused = httpx.post(url, json=ROW, timeout=10)
        assert paused.status_code == 503 and "tried again in 60 s" in paused.json()["error"]
        bad = httpx.post(url, json={"instances": [{"x": "no"}]}, timeout=10)
        assert bad.status_code == 422  # bad input is the caller's, and never trips anything


def test_a_hanging_model_times_out_and_another_version_answers(registry: Registry) -> None:
    server, _ = serve(
        registry, "models:/m/3", fallback=ModelURI.parse("models:/m/1"), timeout_s=0.2
    )
    with server, armed(Hanging):
        port = server.port
        started = time.perf_counter()
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/models/m/predict", json=ROW).json()
        assert time.perf_counter() - started < 1.5
        assert answer["fallback"] is True and answer["version"] == 1
        assert answer["predictions"] == [6.0]  # version 1 doubles
        v2 = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [3.0]}]}
        infer = httpx.post(f"http://127.0.0.1:{port}/v2/models/m/infer", json=v2).json()
        assert infer["parameters"] == {"fallback": True} and infer["model_version"] == "1"


def test_a_hanging_model_without_fallback_is_a_504(registry: Registry) -> None:
    server, _ = serve(registry, "models:/m/3", timeout_s=0.2)
    with server, armed(Hanging):
        url = f"http://127.0.0.1:{server.port}/v1/models/m/predict"
        answer = httpx.post(url, json=ROW, timeout=10)
        assert answer.status_code == 504 and "longer than 0.2 s" in answer.json()["error"]


def test_breaker_states() -> None:
    breaker = CircuitBreaker(failures=2, reset_after=0.05)
    assert breaker.allow() and breaker.state == "closed"
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    time.sleep(0.06)
    assert breaker.state == "half-open" and breaker.allow() and not breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow()


def test_bad_fallback_text_is_refused() -> None:
    from shipyard.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="neither a model URI nor a JSON value"):
        parse_fallback("not json")
    assert parse_fallback('"unknown"').value == "unknown"  # type: ignore[union-attr]


def test_each_model_has_its_own_fallback_and_timeout(registry: Registry) -> None:
    from shipyard.config import ModelServing

    registry.register_model(Doubler(), "other", training_data=pd.DataFrame({"x": [1.0]}))
    plane = DataPlane(
        registry,
        [ModelURI.parse("models:/m/2"), ModelURI.parse("models:/other/1")],
        options={"m": ModelServing(fallback="models:/m/1", request_timeout_ms=250)},
    )
    server = ServerThread(create_app(Settings(home=registry.settings.home), plane))
    with server, armed(Broken):
        url = f"http://127.0.0.1:{server.port}"
        broken = httpx.post(f"{url}/v1/models/m/predict", json=ROW, timeout=10).json()
        assert broken["predictions"] == [6.0] and broken["fallback"] is True
        assert broken["version"] == 1  # the backup version answered
        fine = httpx.post(f"{url}/v1/models/other/predict", json=ROW, timeout=10).json()
        assert fine["predictions"] == [6.0] and "fallback" not in fine
    assert plane.slots["m"].guard.timeout == 0.25
    assert plane.slots["other"].guard.timeout == 30.0  # the server-wide default
    assert plane.slots["other"].guard.fallback is None


def test_options_for_a_model_not_served_are_refused(registry: Registry) -> None:
    from shipyard.config import ModelServing
    from shipyard.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="'typo'.*served models: m"):
        DataPlane(registry, [ModelURI.parse("models:/m/1")], options={"typo": ModelServing()})
