"""A real scikit-learn model behind endpoints, and requests written to the prediction log
as the data plane writes them: one model call per batch of requests, routed through an
endpoint, plus failed and fallback-answered requests one by one."""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
import pandas as pd

from models import classification_data, logistic
from shipyard.config import Settings
from shipyard.endpoints import Endpoints
from shipyard.predictions import PredictionLogWriter, Route
from shipyard.registry import Registry


def single(version: int = 1) -> dict[str, Any]:
    return {"kind": "single", "variants": [{"name": "main", "model": f"models:/churn/{version}"}]}


class Scene:
    """Model ``churn`` version 1 (trained on ``classification_data(300, 0)``) served by
    endpoints ``calm`` and ``shifted``; :meth:`answer` logs requests through either."""

    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self.model, frame, target = logistic()
        registry.register_model(self.model, "churn", training_data=frame, target=target)
        self.endpoints = Endpoints(registry.db, registry.artifacts, settings)
        for name in ("calm", "shifted"):
            self.endpoints.create_endpoint(name, single())
        self.writer = PredictionLogWriter(settings.predictions, flush_interval=3600)

    def inputs(self, rows: int, seed: int, *, shifted: bool = False) -> pd.DataFrame:
        frame, _ = classification_data(rows, seed)
        if shifted:
            frame["income"] = frame["income"] + 40_000.0
            frame["score"] = frame["score"] * 0.3
        return frame

    def answer(
        self,
        endpoint: str,
        frame: pd.DataFrame,
        latencies: np.ndarray[Any, Any] | None = None,
        *,
        shadow: bool = False,
    ) -> list[str]:
        """One model call answering one request per row of ``frame``; returns the ids."""
        ids = [uuid.uuid4().hex for _ in range(len(frame))]
        # Missing values are logged as sent; the model sees them filled, as a real
        # preprocessing step would.
        filled = frame.fillna(frame.median(numeric_only=True))
        if latencies is None:
            latencies = np.full(len(frame), 5.0)
        self.writer.append_batch(
            model="churn",
            version=1,
            request_ids=ids,
            protocols=["v1"] * len(ids),
            latencies_ms=latencies.tolist(),
            rows=[1] * len(ids),
            inputs=frame,
            predictions=np.asarray(self.model.predict(filled)),
            probabilities=np.asarray(self.model.predict_proba(filled)),
            routes=[Route(endpoint, 1, "main", shadow)] * len(ids),
        )
        self.writer.flush()
        time.sleep(0.002)  # the next call is logged strictly later
        return ids

    def fail(self, endpoint: str, latency: float, *, fallback: bool = False) -> str:
        """One request the model failed on (answered by the fallback with ``fallback``, the
        error still logged, as the data plane does)."""
        request_id = uuid.uuid4().hex
        frame = self.inputs(1, 99)
        self.writer.append(
            model="churn",
            version=1,
            request_id=request_id,
            protocol="v1",
            inputs=frame,
            predictions=np.asarray([0]) if fallback else None,
            probabilities=None,
            latency_ms=latency,
            fallback=fallback,
            error="the model failed",
            route=Route(endpoint, 1, "main"),
        )
        self.writer.flush()
        return request_id
