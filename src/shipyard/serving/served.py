"""A model version loaded for serving: what it predicts, and how to call it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.registry import LoadedModel, Registry
from shipyard.registry.uri import ModelURI


@dataclass
class Prediction:
    """What one call produced, stamped with the version that produced it."""

    predictions: np.ndarray[Any, Any]
    probabilities: np.ndarray[Any, Any] | None
    classes: list[Any] | None
    version: int | None
    """The version that produced it (``None`` for a fixed fallback answer)."""


#: scikit-learn classifiers whose ``predict`` is, in scikit-learn's own code,
#: ``classes_.take(argmax(predict_proba(X)))``: one call gives both answers.
_LABELS_FROM_PROBA = frozenset(
    {
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
    }
)


def _final_estimator(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


@dataclass
class ServedModel:
    """One model served under its name, loaded from a ``models:/`` URI."""

    uri: ModelURI
    loaded: LoadedModel
    load_seconds: float = 0.0
    ready: bool = field(default=False)
    labels: np.ndarray[Any, Any] | None = None
    """Class labels in ``predict_proba`` order, when predictions are read off the
    probabilities (one model call instead of two)."""

    @property
    def name(self) -> str:
        return self.uri.name

    @property
    def version(self) -> int:
        return self.loaded.version.version

    @classmethod
    def load(cls, registry: Registry, uri: str | ModelURI) -> ServedModel:
        """Resolve and load the version the URI names, then warm it up on one row."""
        parsed = uri if isinstance(uri, ModelURI) else ModelURI.parse(uri)
        started = time.perf_counter()
        served = cls(uri=parsed, loaded=registry.load(str(parsed)))
        served.labels = _labels_from_proba(served.loaded)
        served.warm_up()
        served.load_seconds = time.perf_counter() - started
        served.ready = True
        return served

    def warm_up(self) -> None:
        """One prediction on a row of the reference profile's medians (or zeros), so the
        first real request pays no lazy-initialisation cost."""
        row: dict[str, Any] = {}
        profile = (self.loaded.version.profile or {}).get("columns", {})
        for spec in self.loaded.signature.inputs:
            column = profile.get(spec.name, {})
            if spec.kind in ("float", "int"):
                median = (column.get("quantiles") or {}).get("0.5", spec.min or 0)
                row[spec.name] = float(median) if spec.kind == "float" else int(median or 0)
            elif spec.kind == "bool":
                row[spec.name] = False
            elif spec.categories:
                row[spec.name] = spec.categories[0]
            else:
                return  # strings or datetimes without a known value: skip the warm-up
        try:
            self.predict(self.loaded.signature.validate([row]))
        except Exception:  # warm-up is best effort; real requests report real errors
            return

    def predict(self, frame: pd.DataFrame) -> Prediction:
        """Predict validated rows (labels or values, plus probabilities for classifiers)."""
        runtime = self.loaded.runtime
        if self.labels is not None:
            proba = np.asarray(runtime.predict_proba(frame))
            labels = self.labels.take(np.argmax(proba, axis=1))
            return Prediction(labels, proba, runtime.classes, self.version)
        predictions = np.asarray(runtime.predict(frame))
        probabilities = np.asarray(runtime.predict_proba(frame)) if runtime.has_proba else None
        return Prediction(predictions, probabilities, runtime.classes, self.version)


def _labels_from_proba(loaded: LoadedModel) -> np.ndarray[Any, Any] | None:
    """The label array for the one-call path, if this model's predict is, by
    construction, the argmax of its probabilities (scikit-learn trees and forests)."""
    runtime = loaded.runtime
    if loaded.version.flavor != "sklearn" or not runtime.has_proba or runtime.classes is None:
        return None
    final = _final_estimator(runtime.model)
    if type(final).__name__ not in _LABELS_FROM_PROBA or getattr(final, "n_outputs_", 1) != 1:
        return None
    classes = getattr(final, "classes_", None)
    return None if classes is None else np.asarray(classes)
