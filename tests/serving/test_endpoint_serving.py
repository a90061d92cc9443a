"""Endpoints on a real data-plane server: routing by policy, shadows off the answer path,
ensembles, stamped answers and log rows, and following the current revision."""

from __future__ import annotations

import statistics
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

from models import Broken, Doubler, Hanging, Tripler, logistic
from serving.conftest import ServerThread
from shipyard.config import Settings
from shipyard.endpoints import Endpoints
from shipyard.endpoints.policy import bucket, combine
from shipyard.predictions import PredictionLogWriter, read_predictions
from shipyard.registry import Registry
from shipyard.serving.app import create_app
from shipyard.serving.dataplane import DataPlane


@dataclass
class Site:
    url: str
    http: httpx.Client
    plane: DataPlane
    endpoints: Endpoints
    log_root: Path
    models: list[Any]
    frame: pd.DataFrame


def _policy(kind: str, *variants: tuple[str, str, float], **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "variants": [{"name": n, "model": m, "weight": w} for n, m, w in variants],
        **extra,
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("endpoints")
    settings = Settings(
        home=home, actor="t", reference_sample_rows=50, follow_interval_s=0.2, auth=False
    )
    registry = Registry.from_settings(settings)
    models = []
    for seed in range(3):  # three logistic regressions that disagree on some rows
        model, frame, _ = logistic(rows=120 + 40 * seed, seed=seed)
        registry.register_model(model, "clf", training_data=frame)
        models.append(model)
    _, frame, _ = logistic(rows=300, seed=9)
    xs = pd.DataFrame({"x": [1.0, 2.0]})
    Doubler.pause = 0.0
    for model in (Doubler(), Hanging(), Broken(), Tripler()):
        registry.register_model(model, "px", training_data=xs)
    endpoints = Endpoints(registry.db, registry.artifacts, settings)
    one = ("a", "models:/clf/1", 100.0)
    endpoints.create_endpoint("single", _policy("single", one))
    endpoints.create_endpoint(
        "split", _policy("split", ("a", "models:/clf/1", 50), ("b", "models:/clf/2", 50))
    )
    endpoints.create_endpoint(
        "sticky",
        _policy(
            "ab",
            ("a", "models:/clf/1", 30),
            ("b", "models:/clf/2", 70),
            sticky={"header": "X-Customer"},
        ),
    )
    endpoints.create_endpoint(
        "by-column",
        _policy(
            "ab",
            ("a", "models:/clf/1", 50),
            ("b", "models:/clf/2", 50),
            sticky={"column": "customer_id"},
        ),
    )
    members = [("a", "models:/clf/1", 1), ("b", "models:/clf/2", 1), ("c", "models:/clf/3", 2)]
    endpoints.create_endpoint("mean", _policy("ensemble", *members, method="mean"))
    endpoints.create_endpoint("vote", _policy("ensemble", *members, method="vote"))
    endpoints.create_endpoint(
        "mirrored",
        _policy("split", ("a", "models:/clf/1", 90), ("b", "models:/clf/2", 10), mirror=True),
    )
    endpoints.create_endpoint("plain", _policy("single", ("p", "models:/px/1", 100)))
    endpoints.create_endpoint(
        "shadowed",
        _policy("single", ("p", "models:/px/1", 100), shadows=["models:/px/2", "models:/px/3"]),
    )
    endpoints.create_endpoint(
        "guarded", _policy("single", ("p", "models:/px/3", 100), fallback='"unknown"')
    )
    log_root = home / "log"
    plane = DataPlane(
        registry,
        [],
        endpoints=["*"],
        prediction_log=PredictionLogWriter(log_root, flush_interval=0.1),
        timeout_s=5,
        breaker_failures=1_000_000,
    )
    try:
        with ServerThread(create_app(settings, plane)) as server, httpx.Client(timeout=30) as http:
            yield Site(
                f"http://127.0.0.1:{server.port}", http, plane, endpoints, log_root, models, frame
            )
    finally:
        Doubler.pause = 0.02
        Hanging.armed = Broken.armed = False
        registry.db.dispose()


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (int(v) if k == "age" else float(v)) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


def _logged(site: Site, endpoint: str, rows: int, timeout: float = 10) -> pd.DataFrame:
    deadline = time.monotonic() + timeout
    while True:
        site.plane.prediction_log.flush()  # type: ignore[union-attr]
        frame = read_predictions(site.log_root, endpoint=endpoint)
        if len(frame) >= rows or time.monotonic() > deadline:
            return frame
        time.sleep(0.05)


def test_single_answers_are_the_model_s_and_stamped(site: Site) -> None:
    rows = site.frame.head(5)
    answer = site.http.post(
        f"{site.url}/v1/endpoints/single/predict",
        json={"instances": _rows(rows)},
        headers={"x-request-id": "single-1"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == site.models[0].predict(rows).tolist()
    assert (body["endpoint"], body["revision"], body["variant"]) == ("single", 1, "a")
    assert (body["model"], body["version"]) == ("clf", 1)
    v2 = site.http.post(
        f"{site.url}/v2/endpoints/single/infer",
        json={
            "inputs": [
                {
                    "name": c,
                    "shape": [5],
                    "datatype": "INT64" if c == "age" else "FP64",
                    "data": rows[c].tolist(),
                }
                for c in rows.columns
            ]
        },
    ).json()
    assert v2["parameters"] == {"endpoint": "single", "revision": 1, "variant": "a"}
    assert v2["model_name"] == "clf" and v2["model_version"] == "1"
    logged = _logged(site, "single", 5)
    mine = logged[logged["request_id"] == "single-1"]
    assert len(mine) == 5
    assert set(
        zip(mine["revision"], mine["variant"], mine["version"], mine["shadow"], strict=True)
    ) == {(1, "a", 1, False)}
    info = site.http.get(f"{site.url}/v1/endpoints/single").json()
    assert info["revision"] == 1 and info["variants"][0]["version"] == 1


def test_a_split_sends_both_variants_their_share(site: Site) -> None:
    rows = _rows(site.frame.head(1))
    seen = {"a": 0, "b": 0}
    for _ in range(300):
        body = site.http.post(
            f"{site.url}/v1/endpoints/split/predict", json={"instances": rows}
        ).json()
        seen[body["variant"]] += 1
        assert body["version"] == {"a": 1, "b": 2}[body["variant"]]
    # 300 fair draws: each side within 5 standard deviations of 150.
    assert 150 - 5 * 8.7 < seen["a"] < 150 + 5 * 8.7, seen


def test_a_header_key_always_reaches_the_same_variant(site: Site) -> None:
    rows = _rows(site.frame.head(1))
    for customer in (f"c{i}" for i in range(40)):
        expected = "a" if bucket(customer) < 3000 else "b"
        for _ in range(2):
            body = site.http.post(
                f"{site.url}/v1/endpoints/sticky/predict",
                json={"instances": rows},
                headers={"X-Customer": customer},
            ).json()
            assert body["variant"] == expected, customer
    missing = site.http.post(f"{site.url}/v1/endpoints/sticky/predict", json={"instances": rows})
    assert missing.status_code == 400
    assert "header 'X-Customer'" in missing.json()["error"]


def test_a_column_key_is_read_and_kept_from_the_model(site: Site) -> None:
    rows = site.frame.head(3)
    for customer in ("alice", "bob", "carol", "dave", "erin"):
        instances = [dict(r, customer_id=customer) for r in _rows(rows)]
        answer = site.http.post(
            f"{site.url}/v1/endpoints/by-column/predict", json={"instances": instances}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["variant"] == ("a" if bucket(customer) < 5000 else "b")
        model = site.models[0 if body["variant"] == "a" else 1]
        assert body["predictions"] == model.predict(rows).tolist()
        split = {
            "columns": ["customer_id", *rows.columns],
            "data": [[customer, *r.values()] for r in _rows(rows)],
        }
        again = site.http.post(
            f"{site.url}/v1/endpoints/by-column/predict", json={"dataframe_split": split}
        ).json()
        assert again["variant"] == body["variant"]
    mixed = [dict(r, customer_id=f"k{i}") for i, r in enumerate(_rows(rows))]
    refused = site.http.post(
        f"{site.url}/v1/endpoints/by-column/predict", json={"instances": mixed}
    )
    assert refused.status_code == 400
    assert "different 'customer_id' values" in refused.json()["error"]


@pytest.mark.parametrize("method", ["mean", "vote"])
def test_ensembles_combine_their_members(site: Site, method: str) -> None:
    rows = site.frame.head(40)
    answer = site.http.post(
        f"{site.url}/v1/endpoints/{method}/predict", json={"instances": _rows(rows)}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    labels, probabilities = combine(
        method,
        [m.predict(rows) for m in site.models],
        [m.predict_proba(rows) for m in site.models],
        site.models[0].classes_.tolist(),
        [1, 1, 2],
    )
    assert body["predictions"] == labels.tolist()
    assert probabilities is not None
    assert np.allclose(body["probabilities"], probabilities, rtol=0, atol=1e-12)
    assert body["variant"] == "ensemble" and body["version"] is None
    assert [m["version"] for m in body["members"]] == [1, 2, 3]
    logged = _logged(site, method, 40 * 4)
    answered = logged[~logged["shadow"]]
    assert answered["variant"].unique().tolist() == ["ensemble"]
    assert sorted(logged[logged["shadow"]]["variant"].unique()) == ["a", "b", "c"]


def test_a_mirror_has_both_versions_answer_every_request(site: Site) -> None:
    rows = _rows(site.frame.head(2))
    ids = [f"mirror-{i}" for i in range(20)]
    for rid in ids:
        answer = site.http.post(
            f"{site.url}/v1/endpoints/mirrored/predict",
            json={"instances": rows},
            headers={"x-request-id": rid},
        )
        assert answer.status_code == 200
    logged = _logged(site, "mirrored", 20 * 2 * 2)
    for rid in ids:
        mine = logged[logged["request_id"] == rid]
        assert sorted(mine["version"].unique()) == [1, 2]
        assert (~mine["shadow"]).sum() == 2  # one variant's two rows were the answer


def _medians_ms(site: Site, endpoints: list[str], count: int) -> list[float]:
    """Median request latency of each endpoint, requests interleaved so that both see
    the same machine."""
    times: list[list[float]] = [[] for _ in endpoints]
    for i in range(count):
        for at, endpoint in enumerate(endpoints):
            started = time.perf_counter()
            answer = site.http.post(
                f"{site.url}/v1/endpoints/{endpoint}/predict", json={"instances": [{"x": float(i)}]}
            )
            times[at].append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200, answer.text
            assert answer.json()["predictions"] == [2.0 * i]
    return [statistics.median(t) for t in times]


def test_a_hanging_and_a_raising_shadow_never_touch_the_answer(site: Site) -> None:
    Hanging.armed = Broken.armed = True
    Hanging.hang = 0.5
    try:
        _medians_ms(site, ["plain", "shadowed"], 30)  # warm both paths
        plain, shadowed = _medians_ms(site, ["plain", "shadowed"], 200)
    finally:
        Hanging.armed = Broken.armed = False
    assert shadowed - plain < 1.0, (plain, shadowed)
    dropped = site.plane.metrics.shadows_dropped.labels("shadowed")._value.get()
    assert dropped > 0  # the hanging shadow fell behind: its copies were dropped, not queued
    logged = _logged(site, "shadowed", 430)
    copies = logged[logged["shadow"]]
    broken = copies[copies["version"] == 3]
    assert len(broken) >= 200 and broken["error"].str.contains("broken model").all()
    assert not logged[~logged["shadow"]]["error"].notna().any()


def test_the_endpoint_fallback_answers_for_a_failing_model(site: Site) -> None:
    Broken.armed = True
    try:
        answer = site.http.post(
            f"{site.url}/v1/endpoints/guarded/predict", json={"instances": [{"x": 1.0}]}
        )
    finally:
        Broken.armed = False
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["predictions"] == ["unknown"] and body["fallback"] is True
    assert (body["endpoint"], body["variant"]) == ("guarded", "p")
    logged = _logged(site, "guarded", 1)
    # Logged under the version that failed, with why: its failures count though the
    # fallback answered.
    assert logged["version"].tolist() == [3] and logged["fallback"].tolist() == [True]
    assert "broken model" in logged["error"].iloc[0]
    assert logged["prediction"].tolist() == ["unknown"]


def test_an_ensemble_member_failing_falls_back_for_the_whole_request(site: Site) -> None:
    site.endpoints.create_endpoint(
        "shaky",
        _policy(
            "ensemble",
            ("d", "models:/px/1", 1),
            ("b", "models:/px/3", 1),
            method="mean",
            fallback="-1",
        ),
    )
    deadline = time.monotonic() + 5
    while "shaky" not in site.plane.routes:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    ok = site.http.post(f"{site.url}/v1/endpoints/shaky/predict", json={"instances": [{"x": 2.0}]})
    assert ok.json()["predictions"] == [(4.0 + 2.0) / 2]  # Broken unarmed answers x
    Broken.armed = True
    try:
        answer = site.http.post(
            f"{site.url}/v1/endpoints/shaky/predict",
            json={"instances": [{"x": 2.0}]},
            headers={"x-request-id": "shaky-1"},
        )
    finally:
        Broken.armed = False
    body = answer.json()
    assert answer.status_code == 200 and body["predictions"] == [-1] and body["fallback"]
    logged = _logged(site, "shaky", 5)
    mine = logged[logged["request_id"] == "shaky-1"].set_index("variant")
    assert "broken model" in mine.loc["b", "error"] and mine.loc["b", "shadow"]
    assert mine.loc["d", "prediction"] == 4.0 and pd.isna(mine.loc["d", "error"])
    assert mine.loc["ensemble", "fallback"] and "broken model" in mine.loc["ensemble", "error"]


def test_unknown_endpoints_are_named(site: Site) -> None:
    answer = site.http.post(f"{site.url}/v1/endpoints/nope/predict", json={"instances": []})
    assert answer.status_code == 404
    assert "endpoint 'nope' is not served here" in answer.json()["error"]


def test_each_version_is_loaded_once(site: Site) -> None:
    uris = [str(s.uri) for s in site.plane.pool.values()]
    assert len(uris) == len(set(uris))
    routes = site.plane.routes
    assert routes["single"].members[0].served is routes["split"].members[0].served
    assert routes["split"].members[0].guard.primary == routes["mean"].members[0].guard.primary


@pytest.mark.slow
def test_a_new_revision_is_followed_under_load_without_a_failed_request(site: Site) -> None:
    site.endpoints.create_endpoint("moving", _policy("single", ("p", "models:/px/1", 100)))
    deadline = time.monotonic() + 5
    while "moving" not in site.plane.routes:
        assert time.monotonic() < deadline, "a new endpoint was not picked up"
        time.sleep(0.05)
    stop = threading.Event()
    seen: list[list[int]] = [[] for _ in range(3)]
    failures: list[str] = []

    def client(index: int) -> None:
        with httpx.Client(timeout=30) as http:
            while not stop.is_set():
                answer = http.post(
                    f"{site.url}/v1/endpoints/moving/predict", json={"instances": [{"x": 1.0}]}
                )
                if answer.status_code != 200:
                    failures.append(answer.text)
                    continue
                body = answer.json()
                if body["predictions"] != [{1: 2.0, 4: 3.0}[body["version"]]]:
                    failures.append(f"wrong answer {body}")
                seen[index].append(body["revision"])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        changed = time.monotonic()
        site.endpoints.update_endpoint("moving", _policy("single", ("q", "models:/px/4", 100)))
        while site.plane.routes["moving"].revision != 2:
            assert time.monotonic() - changed < 2.0, "the new revision was not served within 2 s"
            time.sleep(0.02)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert failures == []
    for revisions in seen:
        assert revisions == sorted(revisions) and revisions[0] == 1 and revisions[-1] == 2


def test_endpoint_requests_are_counted_by_variant(site: Site) -> None:
    rows = _rows(site.frame.head(1))
    for _ in range(3):
        site.http.post(f"{site.url}/v1/endpoints/single/predict", json={"instances": rows})
    site.http.post(f"{site.url}/v1/endpoints/single/predict", json={"instances": [{"age": "x"}]})
    text = site.http.get(f"{site.url}/metrics").text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("shipyard_endpoint_requests_total{")
        and 'endpoint="single"' in line
        and 'variant="a"' in line
        and 'status="200"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) >= 3
    assert any(
        'endpoint="single"' in line and 'variant=""' in line and 'status="422"' in line
        for line in text.splitlines()
    )
    assert 'shipyard_endpoint_request_seconds_count{endpoint="single",protocol="v1"}' in text


def test_a_column_key_reads_the_same_from_v1_and_v2(site: Site) -> None:
    rows = site.frame.head(2)
    for customer in (7, 42, 1234):
        v1 = site.http.post(
            f"{site.url}/v1/endpoints/by-column/predict",
            json={"instances": [dict(r, customer_id=customer) for r in _rows(rows)]},
        ).json()
        tensors = [
            {
                "name": c,
                "shape": [2],
                "datatype": "INT64" if c == "age" else "FP64",
                "data": rows[c].tolist(),
            }
            for c in rows.columns
        ]
        tensors.append(
            {"name": "customer_id", "shape": [2], "datatype": "FP64", "data": [customer * 1.0] * 2}
        )
        v2 = site.http.post(
            f"{site.url}/v2/endpoints/by-column/infer", json={"inputs": tensors}
        ).json()
        assert (
            v1["variant"]
            == v2["parameters"]["variant"]
            == ("a" if bucket(str(customer)) < 5000 else "b")
        )


def test_feedback_through_the_endpoint_joins_its_predictions(site: Site) -> None:
    from shipyard.predictions import join_feedback, read_feedback

    rows = site.frame.head(2)
    for i in range(3):
        answer = site.http.post(
            f"{site.url}/v1/endpoints/single/predict",
            json={"instances": _rows(rows)},
            headers={"x-request-id": f"fb-{i}"},
        )
        assert answer.status_code == 200
    one = site.http.post(
        f"{site.url}/v1/endpoints/single/feedback",
        json={"request_id": "fb-0", "label": 1, "row": 1},
    )
    assert one.status_code == 200, one.text
    assert one.json()["stored"] == 1 and one.json()["source"] == "endpoint single"
    many = site.http.post(
        f"{site.url}/v1/endpoints/single/feedback",
        json={"feedback": [{"request_id": f"fb-{i}", "label": i % 2} for i in (1, 2)]},
    )
    assert many.json()["received"] == 2 and many.json()["stored"] == 2
    partly = site.http.post(  # a listed label without its value is counted, not refused
        f"{site.url}/v1/endpoints/single/feedback",
        json={"feedback": [{"request_id": "fb-3", "label": 1}, {"request_id": "fb-4"}]},
    ).json()
    assert (partly["stored"], partly["rejected"]) == (1, 1)
    assert partly["rejected_reasons"] == {"missing label": 1}
    labels = read_feedback(site.plane.registry.settings.feedback)
    joined = join_feedback(_logged(site, "single", 6), labels)
    mine = joined[joined["request_id"].str.startswith("fb-")].set_index(["request_id", "row"])
    assert mine.loc[("fb-0", 1), "label"] == 1 and pd.isna(mine.loc[("fb-0", 0), "label"])
    assert mine.loc[("fb-2", 0), "label"] == 0
    for body, message in [
        ([1, 2], "the body must be an object"),
        ({"label": 1}, "the body: missing request_id"),
        ({"request_id": "x", "label": 1, "row": -1}, "row must be a whole number from 0"),
        ({"feedback": []}, "feedback must be a non-empty list"),
        ({"feedback": [{"request_id": "x", "label": 1, "score": 2}]}, "unknown field(s) score"),
    ]:
        refused = site.http.post(f"{site.url}/v1/endpoints/single/feedback", json=body)
        assert refused.status_code == 400 and message in refused.json()["error"], body
    unknown = site.http.post(
        f"{site.url}/v1/endpoints/nope/feedback", json={"request_id": "x", "label": 1}
    )
    assert unknown.status_code == 404
