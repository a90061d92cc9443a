"""Prometheus metrics: counted by model, version, protocol and status."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from serving.conftest import Served


def samples(served: Served) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = served.client.get(f"{served.url}/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_requests_latency_batches_and_loading_are_measured(served: Served) -> None:
    key_ok = (
        "shipyard_requests_total",
        (("model", "numeric"), ("protocol", "v1"), ("status", "200"), ("version", "1")),
    )
    key_bad = (
        "shipyard_requests_total",
        (("model", "numeric"), ("protocol", "v1"), ("status", "422"), ("version", "unknown")),
    )
    before = samples(served)
    rows = served.frame[["age", "income", "score"]].head(2).to_dict(orient="records")
    for _ in range(3):
        ok = served.client.post(f"{served.url}/v1/models/numeric/predict", json={"instances": rows})
        assert ok.status_code == 200
    bad = served.client.post(
        f"{served.url}/v1/models/numeric/predict", json={"instances": [{"age": 1}]}
    )
    assert bad.status_code == 422
    after = samples(served)
    assert after[key_ok] - before.get(key_ok, 0) == 3
    assert after[key_bad] - before.get(key_bad, 0) == 1
    latency = ("shipyard_request_seconds_count", (("model", "numeric"), ("protocol", "v1")))
    assert after[latency] - before.get(latency, 0) == 4
    rows_sum = ("shipyard_batch_rows_sum", (("model", "numeric"),))
    assert after[rows_sum] - before.get(rows_sum, 0) == 6
    load = ("shipyard_model_load_seconds", (("model", "numeric"), ("version", "1")))
    assert after[load] > 0
    assert after[("shipyard_queue_depth", (("model", "numeric"),))] == 0
    ghost = served.client.post(f"{served.url}/v1/models/ghost/predict", json={"instances": rows})
    assert ghost.status_code == 404
    assert not any(dict(labels).get("model") == "ghost" for _, labels in samples(served))
