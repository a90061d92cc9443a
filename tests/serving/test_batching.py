"""Adaptive batching: concurrent requests merge into one model call, and each caller gets
exactly its own rows back."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pandas as pd
import pytest

from models import Doubler
from serving.conftest import ServerThread
from shipyard.config import Settings
from shipyard.registry import Registry
from shipyard.registry.uri import ModelURI
from shipyard.serving.app import create_app
from shipyard.serving.batching import AdaptiveBatcher
from shipyard.serving.dataplane import DataPlane
from shipyard.serving.served import Prediction


def doubled(frame: pd.DataFrame) -> Prediction:
    time.sleep(0.01)
    if (frame["x"] < 0).any():
        raise ValueError("negative x")
    return Prediction(frame["x"].to_numpy() * 2, None, None, 1)


def test_concurrent_calls_merge_and_split_exactly() -> None:
    async def scenario() -> tuple[list[Prediction], AdaptiveBatcher]:
        batcher = AdaptiveBatcher(doubled, max_batch_size=32, max_wait_ms=2)
        frames = [pd.DataFrame({"x": np.arange(i * 10, i * 10 + 1 + i % 3)}) for i in range(60)]
        results = await asyncio.gather(*(batcher.predict(f) for f in frames))
        await batcher.close()
        return results, batcher

    results, batcher = asyncio.run(scenario())
    for i, result in enumerate(results):
        expected = np.arange(i * 10, i * 10 + 1 + i % 3) * 2
        np.testing.assert_array_equal(result.predictions, expected)
    assert batcher.stats.rows == sum(1 + i % 3 for i in range(60))
    assert batcher.stats.calls < 60  # merged
    assert batcher.stats.last_batch <= 32


def test_a_lone_request_does_not_wait() -> None:
    async def scenario() -> float:
        batcher = AdaptiveBatcher(doubled, max_batch_size=64, max_wait_ms=500)
        started = time.perf_counter()
        await batcher.predict(pd.DataFrame({"x": [1]}))
        await batcher.close()
        return time.perf_counter() - started

    assert asyncio.run(scenario()) < 0.4  # far below max_wait: alone, it never waits


def test_one_bad_request_fails_alone() -> None:
    async def scenario() -> list[Prediction | BaseException]:
        batcher = AdaptiveBatcher(doubled, max_batch_size=64)
        frames = [pd.DataFrame({"x": [i if i != 5 else -1]}) for i in range(10)]
        results = await asyncio.gather(
            *(batcher.predict(f) for f in frames), return_exceptions=True
        )
        await batcher.close()
        return results

    results = asyncio.run(scenario())
    assert isinstance(results[5], ValueError)
    for i, result in enumerate(results):
        if i != 5:
            assert isinstance(result, Prediction) and result.predictions.tolist() == [i * 2]


@pytest.mark.slow
def test_many_clients_get_their_own_rows_from_a_real_server(tmp_path: object) -> None:
    settings = Settings(home=tmp_path, actor="t", reference_sample_rows=0)  # type: ignore[arg-type]
    registry = Registry.from_settings(settings)
    registry.register_model(Doubler(), "double", training_data=pd.DataFrame({"x": [1.0, 2.0]}))
    plane = DataPlane(registry, [ModelURI.parse("models:/double/1")], max_batch_size=16)
    clients, each = 12, 8

    def client(worker: int, url: str) -> list[tuple[float, float]]:
        pairs = []
        with httpx.Client(timeout=30) as http:
            for i in range(each):
                x = float(worker * 1000 + i)
                body = {"instances": [{"x": x}, {"x": x + 0.5}]}
                answer = http.post(f"{url}/v1/models/double/predict", json=body)
                assert answer.status_code == 200, answer.text
                got = answer.json()["predictions"]
                pairs += [(x * 2, got[0]), ((x + 0.5) * 2, got[1])]
        return pairs

    with ServerThread(create_app(settings, plane)) as server:
        url = f"http://127.0.0.1:{server.port}"
        with ThreadPoolExecutor(clients) as pool:
            results = [
                p for f in [pool.submit(client, w, url) for w in range(clients)] for p in f.result()
            ]
    assert len(results) == clients * each * 2
    assert all(expected == got for expected, got in results)
    stats = plane.batchers["double"].stats
    assert stats.rows == clients * each * 2
    assert stats.calls < clients * each  # requests were merged into fewer model calls
    registry.db.dispose()


def test_batch_size_and_wait_can_differ_per_model(tmp_path: object) -> None:
    from shipyard.config import ModelServing

    settings = Settings(home=tmp_path, actor="t", reference_sample_rows=0)  # type: ignore[arg-type]
    registry = Registry.from_settings(settings)
    for name in ("small", "large"):
        registry.register_model(Doubler(), name, training_data=pd.DataFrame({"x": [1.0]}))
    plane = DataPlane(
        registry,
        [ModelURI.parse("models:/small/1"), ModelURI.parse("models:/large/1")],
        max_batch_size=32,
        max_wait_ms=1.0,
        options={"small": ModelServing(max_batch_size=2, max_wait_ms=0)},
    )
    plane.start()
    assert plane.batchers["small"].max_batch_size == 2 and plane.batchers["small"].max_wait == 0
    assert plane.batchers["large"].max_batch_size == 32
    assert plane.batchers["large"].max_wait == 0.001

    async def burst() -> None:
        frames = [pd.DataFrame({"x": [float(i)]}) for i in range(20)]
        answers = await asyncio.gather(*(plane.batchers["small"].predict(f) for f in frames))
        assert [a.predictions.tolist() for a in answers] == [[2.0 * i] for i in range(20)]
        await plane.stop()

    asyncio.run(burst())
    stats = plane.batchers["small"].stats
    assert stats.rows == 20 and stats.calls >= 10  # never more than 2 rows per call
    registry.db.dispose()


def test_each_successful_call_is_reported_once_with_its_requests() -> None:
    reports: list[tuple[pd.DataFrame, Prediction, list[object], list[int]]] = []

    async def scenario() -> None:
        batcher = AdaptiveBatcher(
            doubled, max_batch_size=16, on_result=lambda *a: reports.append(a)
        )
        frames = [pd.DataFrame({"x": [float(i)] * (1 + i % 2)}) for i in range(40)]
        frames[7] = pd.DataFrame({"x": [-1.0]})  # fails: retried alone, never reported
        await asyncio.gather(
            *(batcher.predict(f, tag=f"r{i}") for i, f in enumerate(frames)),
            return_exceptions=True,
        )
        await batcher.close()

    asyncio.run(scenario())
    tags = [tag for report in reports for tag in report[2]]
    assert sorted(tags) == sorted(f"r{i}" for i in range(40) if i != 7)  # each once
    assert len(reports) < 39  # whole calls were reported, not requests one by one
    for frame, result, _, rows in reports:
        assert sum(rows) == len(frame) == len(result.predictions)
        np.testing.assert_array_equal(result.predictions, frame["x"].to_numpy() * 2)


def test_a_caller_that_stopped_waiting_is_left_out_of_the_report() -> None:
    reports: list[list[object]] = []

    def slow(frame: pd.DataFrame) -> Prediction:
        time.sleep(0.3)
        return Prediction(frame["x"].to_numpy() * 2, None, None, 1)

    async def scenario() -> None:
        batcher = AdaptiveBatcher(slow, on_result=lambda f, r, tags, rows: reports.append(tags))
        await batcher.predict(pd.DataFrame({"x": [0.0]}), tag="warm")
        calls = [
            asyncio.ensure_future(batcher.predict(pd.DataFrame({"x": [float(i)]}), tag=f"r{i}"))
            for i in range(3)
        ]
        await asyncio.sleep(0.1)
        calls[1].cancel()  # as a timeout does: its caller got a fallback instead
        done = await asyncio.gather(*calls, return_exceptions=True)
        assert isinstance(done[1], asyncio.CancelledError)
        await batcher.close()

    asyncio.run(scenario())
    assert reports[0] == ["warm"]
    assert sorted(t for tags in reports[1:] for t in tags) == ["r0", "r2"]


@pytest.mark.parametrize(
    ("alone", "inline", "direct"),
    [(True, True, True), (False, True, False), (True, False, False)],
)
def test_a_request_alone_with_fast_rows_is_predicted_at_once(
    alone: bool, inline: bool, direct: bool
) -> None:
    reports: list[list[object]] = []

    async def scenario() -> Prediction:
        batcher = AdaptiveBatcher(
            doubled,
            inline=lambda frame: inline,
            alone=lambda: alone,
            on_result=lambda f, r, tags, rows: reports.append(tags),
        )
        result = await batcher.predict(pd.DataFrame({"x": [4.0]}), tag="only")
        assert (batcher._task is None) == direct  # no queue, no batching task
        assert batcher.stats.calls == 1
        await batcher.close()
        return result

    assert asyncio.run(scenario()).predictions.tolist() == [8.0]
    assert reports == [["only"]]


def test_a_failure_on_the_direct_path_reaches_its_caller() -> None:
    async def scenario() -> None:
        batcher = AdaptiveBatcher(doubled, inline=lambda f: True, alone=lambda: True)
        with pytest.raises(ValueError, match="negative"):
            await batcher.predict(pd.DataFrame({"x": [-1.0]}))
        await batcher.close()

    asyncio.run(scenario())


def test_rows_that_cannot_be_merged_fail_their_callers_and_batching_goes_on() -> None:
    def concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
        if any("bad" in p for p in parts):
            raise ValueError("cannot merge these rows")
        return pd.concat(parts, ignore_index=True)

    async def scenario() -> list[object]:
        batcher = AdaptiveBatcher(doubled, concat=concat)
        first = await asyncio.gather(
            batcher.predict(pd.DataFrame({"x": [1.0]})),
            batcher.predict(pd.DataFrame({"x": [2.0], "bad": [1]})),
            return_exceptions=True,
        )
        later = await batcher.predict(pd.DataFrame({"x": [3.0]}))  # the batcher still runs
        await batcher.close()
        return [*first, later]

    one, two, later = asyncio.run(scenario())
    assert isinstance(one, Prediction) and one.predictions.tolist() == [2.0]  # retried alone
    assert isinstance(two, Prediction) and two.predictions.tolist() == [4.0]
    assert isinstance(later, Prediction) and later.predictions.tolist() == [6.0]
