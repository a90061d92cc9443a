"""The prediction log: real Parquet files, written in the background, read back."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.predictions import PredictionLogWriter, read_predictions


def test_rows_are_written_partitioned_and_read_back(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path, flush_interval=60)
    inputs = pd.DataFrame({"age": [30, 41], "city": ["lima", "oslo"]})
    writer.append(
        model="credit",
        version=3,
        request_id="r1",
        protocol="v1",
        inputs=inputs,
        predictions=np.array(["yes", "no"], dtype=object),
        probabilities=np.array([[0.2, 0.8], [0.9, 0.1]]),
        latency_ms=1.5,
    )
    writer.append(
        model="credit",
        version=3,
        request_id="r2",
        protocol="v2",
        inputs=inputs.head(1),
        predictions=None,
        probabilities=None,
        latency_ms=30.0,
        error="the model failed",
    )
    writer.append(
        model="churn",
        version=1,
        request_id="r3",
        protocol="v1",
        inputs=pd.DataFrame({"x": [1.0]}),
        predictions=np.array([0.5]),
        probabilities=None,
        latency_ms=0.7,
        fallback=True,
    )
    assert writer.flush() == 4
    day = datetime.now(UTC).strftime("%Y-%m-%d")
    assert len(list((tmp_path / "model=credit" / f"date={day}").glob("part-*.parquet"))) == 1
    assert not list(tmp_path.rglob("*.tmp"))
    credit = read_predictions(tmp_path, model="credit")
    assert credit["request_id"].tolist() == ["r1", "r1", "r2"]
    assert credit["row"].tolist() == [0, 1, 0]
    assert credit["inputs.age"].tolist() == [30, 41, 30]
    assert credit["inputs.city"].tolist() == ["lima", "oslo", "lima"]
    assert credit["prediction"].tolist()[:2] == ["yes", "no"]
    assert credit["probabilities"][0].tolist() == [0.2, 0.8]
    assert credit["error"].isna().tolist() == [True, True, False]
    assert credit["error"].iloc[2] == "the model failed"
    assert credit["version"].tolist() == [3, 3, 3]
    churn = read_predictions(tmp_path, model="churn")
    assert churn["fallback"].tolist() == [True] and churn["prediction"].tolist() == [0.5]
    everything = read_predictions(tmp_path)
    assert len(everything) == 4
    later = read_predictions(tmp_path, start=datetime.now(UTC) + timedelta(minutes=1))
    assert later.empty
    earlier = read_predictions(tmp_path, end=datetime.now(UTC) - timedelta(minutes=1))
    assert earlier.empty


def test_the_background_writer_flushes_on_its_own_and_on_close(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path, flush_interval=0.1).start()
    frame = pd.DataFrame({"x": [1.0]})
    writer.append(
        model="m",
        version=1,
        request_id="a",
        protocol="v1",
        inputs=frame,
        predictions=np.array([2.0]),
        probabilities=None,
        latency_ms=1.0,
    )
    deadline = time.monotonic() + 5
    while read_predictions(tmp_path).empty and time.monotonic() < deadline:
        time.sleep(0.05)
    assert read_predictions(tmp_path)["request_id"].tolist() == ["a"]
    writer.append(
        model="m",
        version=1,
        request_id="b",
        protocol="v1",
        inputs=frame,
        predictions=np.array([2.0]),
        probabilities=None,
        latency_ms=1.0,
    )
    writer.close()
    assert read_predictions(tmp_path)["request_id"].tolist() == ["a", "b"]
    assert writer.rows_written == 2


def test_float_matrices_and_frames_mix_in_one_flush(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path, flush_interval=60)
    columns = ("a", "b")
    common = {"model": "m", "version": 1, "protocol": "v1", "latency_ms": 0.1}
    writer.append(
        request_id="matrix",
        inputs=np.array([[1.0, 2.0], [3.0, 4.0]]),
        columns=columns,
        predictions=np.array([0, 1]),
        probabilities=np.array([[0.9, 0.1], [0.3, 0.7]]),
        **common,
    )
    writer.append(
        request_id="frame",
        inputs=pd.DataFrame({"a": [5.0], "b": [float("nan")]}),
        predictions=np.array([1]),
        probabilities=None,
        **common,
    )
    assert writer.flush() == 3
    logged = read_predictions(tmp_path, model="m").set_index(["request_id", "row"])
    assert logged.loc[("matrix", 1), "inputs.b"] == 4.0
    assert logged.loc[("frame", 0), "inputs.a"] == 5.0
    assert np.isnan(logged.loc[("frame", 0), "inputs.b"])
    assert logged.loc[("matrix", 1), "probabilities"].tolist() == [0.3, 0.7]
    assert logged.loc[("frame", 0), "probabilities"] is None
    assert logged["prediction"].tolist() == [0, 1, 1]
    with pytest.raises(ValueError, match="column names"):
        writer.append(
            request_id="x", inputs=np.ones((1, 2)), predictions=None, probabilities=None, **common
        )


def test_mixed_outputs_and_a_failing_group_lose_nothing_else(tmp_path: Path) -> None:
    writer = PredictionLogWriter(tmp_path, flush_interval=60)
    common = {"version": 1, "protocol": "v1", "latency_ms": 0.1, "probabilities": None}
    frame = pd.DataFrame({"x": [1.0]})
    writer.append(model="m", request_id="int", inputs=frame, predictions=np.array([1]), **common)
    writer.append(  # a fallback model's answer: another label type, logged apart
        model="m",
        request_id="fallback",
        inputs=frame,
        predictions=np.array(["unknown"], dtype=object),
        fallback=True,
        **common,
    )
    writer.append(  # two outputs per row
        model="multi", request_id="2d", inputs=frame, predictions=np.array([[1.0, 2.0]]), **common
    )
    (tmp_path / "model=broken").write_text("a file where a directory should be")
    writer.append(
        model="broken", request_id="lost", inputs=frame, predictions=np.array([0]), **common
    )
    assert writer.flush() == 3  # the broken group fails alone
    logged = read_predictions(tmp_path, model="m").set_index("request_id")
    assert logged.loc["int", "prediction"] == 1 and not logged.loc["int", "fallback"]
    assert logged.loc["fallback", "prediction"] == "unknown" and logged.loc["fallback", "fallback"]
    multi = read_predictions(tmp_path, model="multi")
    assert list(multi["prediction"][0]) == [1.0, 2.0]


def test_routes_name_endpoint_revision_variant_and_shadow(tmp_path: Path) -> None:
    from shipyard.predictions import Route

    writer = PredictionLogWriter(tmp_path, flush_interval=60)
    matrix = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    writer.append_batch(  # one model call: a request through an endpoint, one straight
        model="m",
        version=2,
        request_ids=["a", "b"],
        protocols=["v1", "v1"],
        latencies_ms=[1.0, 2.0],
        rows=[2, 1],
        inputs=matrix,
        predictions=np.array([0, 1, 1]),
        probabilities=None,
        columns=("x", "y"),
        routes=[Route("shop", 3, "challenger"), None],
    )
    writer.append(
        model="m",
        version=1,
        request_id="a",
        protocol="v1",
        inputs=matrix[:2],
        columns=("x", "y"),
        predictions=np.array([0, 0]),
        probabilities=None,
        latency_ms=0.5,
        route=Route("shop", 3, "m-1", shadow=True),
    )
    assert writer.flush() == 5
    frame = read_predictions(tmp_path, model="m")
    by_version = frame.sort_values(["version", "request_id", "row"])
    assert by_version["endpoint"].tolist()[:4] == ["shop"] * 4
    assert by_version["endpoint"].isna().tolist() == [False] * 4 + [True]
    assert by_version["revision"].tolist()[:4] == [3, 3, 3, 3]
    assert by_version["variant"].tolist()[:4] == ["m-1", "m-1", "challenger", "challenger"]
    assert by_version["shadow"].tolist() == [True, True, False, False, False]
    shop = read_predictions(tmp_path, endpoint="shop")
    assert len(shop) == 4 and set(shop["request_id"]) == {"a"}
    assert read_predictions(tmp_path, endpoint="other").empty
