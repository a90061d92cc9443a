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


@dataclass
class ServedModel:
    """One model served under its name, loaded from a ``models:/`` URI."""

    uri: ModelURI
    loaded: LoadedModel
    load_seconds: float = 0.0
    ready: bool = field(default=False)

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
        predictions = np.asarray(runtime.predict(frame))
        probabilities = np.asarray(runtime.predict_proba(frame)) if runtime.has_proba else None
        return Prediction(predictions, probabilities, runtime.classes, self.version)
