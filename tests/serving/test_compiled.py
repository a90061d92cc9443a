"""Models with all-float inputs are served through their compiled form, checked equal to
scikit-learn at load: answers over HTTP equal scikit-learn's own, bit for bit; anything
the fast lane does not take goes the general way and gets the same errors."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from serving.conftest import ServerThread
from shipyard.config import Settings
from shipyard.predictions import PredictionLogWriter, read_predictions
from shipyard.registry import Registry
from shipyard.registry.uri import ModelURI
from shipyard.serving.app import create_app
from shipyard.serving.dataplane import DataPlane
from shipyard.serving.served import INLINE_MAX_ROWS, ServedModel

COLUMNS = [f"f{i}" for i in range(6)]


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(rows, len(COLUMNS))), columns=COLUMNS)


@dataclass
class Compiled:
    url: str
    client: httpx.Client
    models: dict[str, Any]
    plane: DataPlane
    settings: Settings


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Compiled]:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, Ridge

    home: Path = tmp_path_factory.mktemp("compiled")
    settings = Settings(home=home, actor="t", auth=False)
    registry = Registry.from_settings(settings)
    train = _frame(600, seed=0)
    score = train.f0 - train.f1 + 0.5 * train.f2 * train.f3
    labels = np.where(score > 0, "yes", "no")
    models = {
        "logistic": LogisticRegression(max_iter=500).fit(train, labels),
        "forest": RandomForestClassifier(30, max_depth=8, random_state=0).fit(train, labels),
        "ridge": Ridge().fit(train, score),
    }
    for name, model in models.items():
        registry.register_model(model, name, training_data=train, target=labels)
    plane = DataPlane(
        registry,
        [ModelURI.parse(f"models:/{name}/1") for name in models],
        prediction_log=PredictionLogWriter(settings.predictions, flush_interval=60),
    )
    with ServerThread(create_app(settings, plane)) as server, httpx.Client(timeout=30) as client:
        yield Compiled(f"http://127.0.0.1:{server.port}", client, models, plane, settings)
    registry.db.dispose()


def test_all_float_models_load_with_a_checked_kernel(compiled: Compiled) -> None:
    for name in compiled.models:
        served = compiled.plane.model(name)
        assert served.kernel is not None, name
        assert served.columns == tuple(COLUMNS)
        small, large = np.zeros((INLINE_MAX_ROWS, 6)), np.zeros((INLINE_MAX_ROWS + 1, 6))
        assert served.inline(small) and not served.inline(large)  # large ones: a thread
        assert not served.inline(pd.DataFrame(small, columns=COLUMNS))
    assert gc.get_freeze_count() > 0  # loaded models are exempt from garbage collection


@pytest.mark.parametrize("name", ["logistic", "forest", "ridge"])
def test_answers_equal_scikit_learn_bit_for_bit(compiled: Compiled, name: str) -> None:
    model = compiled.models[name]
    test = _frame(40, seed=3)
    rows = test.to_dict(orient="records")
    for start in range(0, 40, 8):  # one row at a time, then in fives
        size = 1 if start < 24 else 5
        chunk = pd.DataFrame(rows[start : start + size])  # the rows as a user would frame them
        for body, path in [
            ({"instances": rows[start : start + size]}, f"/v1/models/{name}/predict"),
            (
                {"dataframe_split": {"columns": COLUMNS, "data": chunk.to_numpy().tolist()}},
                f"/v1/models/{name}/predict",
            ),
            (
                {
                    "inputs": [
                        {
                            "name": "input-0",
                            "shape": [size, len(COLUMNS)],
                            "datatype": "FP64",
                            "data": chunk.to_numpy().reshape(-1).tolist(),
                        }
                    ]
                },
                f"/v2/models/{name}/infer",
            ),
        ]:
            answer = compiled.client.post(compiled.url + path, json=body)
            assert answer.status_code == 200, answer.text
            got = answer.json()
            expected = model.predict(chunk)
            if "outputs" in got:
                predictions = got["outputs"][0]["data"]
                proba = got["outputs"][1]["data"] if len(got["outputs"]) > 1 else None
            else:
                predictions, proba = got["predictions"], got.get("probabilities")
            assert predictions == expected.tolist()
            if hasattr(model, "predict_proba"):
                assert np.asarray(proba).reshape(-1).tolist() == (
                    model.predict_proba(chunk).reshape(-1).tolist()
                )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1.5", "'f2'"),
        (True, "'f2'"),
        (None, "'f2'"),
        ([1.0], "'f2'"),
    ],
)
def test_what_the_fast_lane_refuses_gets_the_general_error(
    compiled: Compiled, value: Any, expected: str
) -> None:
    row: dict[str, Any] = {c: 0.5 for c in COLUMNS}
    row["f2"] = value
    answer = compiled.client.post(
        f"{compiled.url}/v1/models/forest/predict", json={"instances": [row]}
    )
    assert answer.status_code == 422, answer.text
    assert expected in answer.json()["error"]


def test_missing_and_extra_columns_are_named(compiled: Compiled) -> None:
    row: dict[str, Any] = {c: 0.5 for c in COLUMNS[:-1]}
    answer = compiled.client.post(
        f"{compiled.url}/v1/models/logistic/predict", json={"instances": [row]}
    )
    assert answer.status_code == 422 and "'f5'" in answer.json()["error"]
    row.update(f5=1.0, extra=2.0)
    answer = compiled.client.post(
        f"{compiled.url}/v1/models/logistic/predict", json={"instances": [row]}
    )
    assert answer.status_code == 422 and "'extra'" in answer.json()["error"]


def test_matrix_rows_reach_the_prediction_log_with_their_columns(compiled: Compiled) -> None:
    test = _frame(3, seed=9)
    answer = compiled.client.post(
        f"{compiled.url}/v1/models/ridge/predict",
        json={"instances": test.to_dict(orient="records")},
        headers={"X-Request-ID": "matrix-log"},
    )
    assert answer.status_code == 200
    assert compiled.plane.prediction_log is not None
    compiled.plane.prediction_log.flush()
    logged = read_predictions(compiled.settings.predictions, model="ridge")
    mine = logged[logged["request_id"] == "matrix-log"].sort_values("row")
    for column in COLUMNS:
        assert mine[f"inputs.{column}"].tolist() == test[column].tolist()
    assert mine["prediction"].tolist() == answer.json()["predictions"]


def test_a_model_with_integer_inputs_is_served_through_the_runtime(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    registry = Registry.from_settings(Settings(home=tmp_path))
    train = _frame(200, seed=0).assign(f0=lambda d: (d.f0 * 10).round().astype("int64"))
    registry.register_model(
        LogisticRegression().fit(train, train.f1 > 0), "ints", training_data=train
    )
    served = ServedModel.load(registry, "models:/ints/1")
    assert served.kernel is None and served.columns is None
    registry.db.dispose()


def test_lone_requests_skip_the_queue_and_concurrent_ones_still_batch(
    compiled: Compiled,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    batcher = compiled.plane.batchers["forest"]
    calls, rows = batcher.stats.calls, batcher.stats.rows
    url = f"{compiled.url}/v1/models/forest/predict"
    row = dict(zip(COLUMNS, [0.1] * len(COLUMNS), strict=True))
    for _ in range(5):  # one at a time: answered at once
        assert compiled.client.post(url, json={"instances": [row]}).status_code == 200
    assert batcher._task is None  # the batching task was never needed
    assert _settled(compiled.plane)

    def client(_: int) -> None:
        with httpx.Client(timeout=30) as http:
            for _ in range(15):
                assert http.post(url, json={"instances": [row]}).status_code == 200

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(client, range(16)))
    assert batcher.stats.rows - rows == 5 + 16 * 15
    assert batcher.stats.calls - calls < 5 + 16 * 15  # requests that met were batched
    assert _settled(compiled.plane)


def _settled(plane: Any) -> bool:
    """Whether the count of requests in flight is back to 0: the server lowers it just
    after the answer is sent, so a client may read its answer a moment before."""
    deadline = time.monotonic() + 5
    while plane.waiting != 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    return bool(plane.waiting == 0)
