"""Real scikit-learn versions of a churn model, and requests through an endpoint written
to the prediction log as the data plane writes them.

Versions registered by :func:`register_churn`:

1. the champion;
2. a healthy challenger (trained on other data of the same kind: agrees ~95%);
3. a challenger trained without the ``pro`` plan: its encoder raises on the ~20% of
   rows with that plan;
4. a challenger trained on inverted labels: disagrees with the champion almost always.
"""

from __future__ import annotations

import functools
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shipyard.endpoints import Endpoints, TrafficPolicy
from shipyard.predictions import PredictionLogWriter, Route
from shipyard.registry import LoadedModel, ModelURI, Registry


def churn_data(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, rows).astype("int64"),
            "score": rng.uniform(0, 1, rows),
            "plan": rng.choice(["basic", "plus", "pro"], rows, p=[0.5, 0.3, 0.2]),
        }
    )
    signal = frame["score"] + frame["age"] / 100 + (frame["plan"] == "pro") * 0.2
    target = (signal + rng.normal(0, 0.2, rows) > 1.0).astype(int).to_numpy()
    return frame, target


def _fit(frame: pd.DataFrame, target: np.ndarray[Any, Any]) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("numbers", StandardScaler(), ["age", "score"]),
            ("plan", OneHotEncoder(handle_unknown="error"), ["plan"]),
        ]
    )
    return make_pipeline(columns, LogisticRegression(max_iter=500)).fit(frame, target)


@functools.cache
def _trained() -> list[tuple[Any, pd.DataFrame, np.ndarray[Any, Any]]]:
    champion_data, champion_target = churn_data(400, 0)
    other, other_target = churn_data(400, 1)
    no_pro = (other["plan"] != "pro").to_numpy()
    return [
        (_fit(champion_data, champion_target), champion_data, champion_target),
        (_fit(other, other_target), other, other_target),
        (_fit(other[no_pro], other_target[no_pro]), other[no_pro], other_target[no_pro]),
        (_fit(other, 1 - other_target), other, 1 - other_target),
    ]


def register_churn(registry: Registry) -> None:
    """Versions 1 to 4 of model ``churn`` (see the module documentation)."""
    for model, frame, target in _trained():
        registry.register_model(model, "churn", training_data=frame, target=target)


class Traffic:
    """Requests through an endpoint, answered by real models and logged as the data plane
    logs them, following the endpoint's current policy: the variant drawn answers; with
    ``mirror`` the split's other variants answer too, as shadows; shadows answer copies.
    Each row is one request (one model call), so a failing row fails alone."""

    def __init__(self, endpoints: Endpoints, registry: Registry, root: Path, seed: int = 0) -> None:
        self.endpoints = endpoints
        self.registry = registry
        self.writer = PredictionLogWriter(root, flush_interval=3600)
        self.rng = np.random.default_rng(seed)
        self._loaded: dict[str, LoadedModel] = {}

    def send(self, endpoint: str, requests: int) -> None:
        current = self.endpoints.get_endpoint(endpoint).current
        policy: TrafficPolicy = current.policy
        frame, _ = churn_data(requests, int(self.rng.integers(1 << 30)))
        for i in range(requests):
            request_id = uuid.uuid4().hex
            if policy.kind == "split":
                answering = policy.assign(draw=float(self.rng.random()))
            else:
                answering = policy.assign(key=request_id)
            calls = [(answering.model, answering.name, False)]
            if policy.mirror:
                calls += [(v.model, v.name, True) for v in policy.variants if v != answering]
            calls += [(uri, ModelURI.parse(uri).name, True) for uri in policy.shadows]
            for uri, variant, shadow in calls:
                route = Route(endpoint, current.revision, variant, shadow)
                self._call(uri, request_id, frame.iloc[[i]], route)
        self.writer.flush()

    def _call(self, uri: str, request_id: str, row: pd.DataFrame, route: Route) -> None:
        model = self._loaded.get(uri)
        if model is None:
            model = self._loaded[uri] = self.registry.load(uri)
        parsed = ModelURI.parse(uri)
        started = time.perf_counter()
        try:
            predictions = model.predict(row)
            probabilities = model.predict_proba(row)
        except Exception as exc:  # what the data plane logs when a model fails
            self.writer.append(
                model=parsed.name,
                version=parsed.version,
                request_id=request_id,
                protocol="v1",
                inputs=row,
                predictions=None,
                probabilities=None,
                latency_ms=(time.perf_counter() - started) * 1000,
                error=f"{type(exc).__name__}: {exc}",
                route=route,
            )
            return
        self.writer.append_batch(
            model=parsed.name,
            version=parsed.version,
            request_ids=[request_id],
            protocols=["v1"],
            latencies_ms=[(time.perf_counter() - started) * 1000],
            rows=[1],
            inputs=row,
            predictions=predictions,
            probabilities=probabilities,
            routes=[route],
        )
