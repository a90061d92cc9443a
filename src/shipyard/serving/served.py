"""A model version loaded for serving: what it predicts, and how to call it."""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.registry import LoadedModel, Registry
from shipyard.registry.registration import REFERENCE_FILE
from shipyard.registry.uri import ModelURI
from shipyard.runtimes.base import Kernel, float_frame, kernel_mismatch
from shipyard.schema.records import float_columns

log = logging.getLogger("shipyard.serving")

#: Validated rows: a DataFrame in signature order, or (for a model with a verified
#: kernel and all-float64 inputs) a C-contiguous float64 matrix.
Inputs = pd.DataFrame | np.ndarray[Any, Any]

#: Batches up to this many rows run a kernel on the event loop itself: microseconds of
#: numpy, less than handing them to a thread would cost.
INLINE_MAX_ROWS = 256
#: Random rows, besides the stored reference sample, a kernel is checked on at load.
_CHECK_ROWS = 256


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
    kernel: Kernel | None = None
    """The runtime's compiled form, once checked equal to it on sample rows."""
    columns: tuple[str, ...] | None = None
    """Input columns, when requests may arrive as a float matrix (for the kernel)."""
    classes: list[Any] | None = None
    """Class labels in probability order (read once from the runtime)."""

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
        served.classes = served.loaded.runtime.classes
        served.kernel = _checked_kernel(registry, served.loaded)
        if served.kernel is not None:
            served.columns = tuple(float_columns(served.loaded.signature.inputs) or ())
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

    def inline(self, inputs: Inputs) -> bool:
        """Whether these rows are best predicted on the event loop (a small float matrix
        for a kernel) rather than in the model's thread."""
        return (
            self.kernel is not None
            and isinstance(inputs, np.ndarray)
            and len(inputs) <= INLINE_MAX_ROWS
        )

    def concat(self, parts: list[Inputs]) -> Inputs:
        """Several requests' rows as one batch."""
        if all(isinstance(p, np.ndarray) for p in parts):
            return np.concatenate(parts)
        frames = [self._frame(p) for p in parts]
        return pd.concat(frames, ignore_index=True)

    def _frame(self, inputs: Inputs) -> pd.DataFrame:
        if isinstance(inputs, pd.DataFrame):
            return inputs
        return float_frame(inputs, self.columns or self.loaded.signature.names)

    def predict(self, inputs: Inputs) -> Prediction:
        """Predict validated rows (labels or values, plus probabilities for classifiers)."""
        if isinstance(inputs, np.ndarray):
            if self.kernel is not None:
                got = self.kernel(inputs)
                if got is not None:
                    return Prediction(got[0], got[1], self.classes, self.version)
            inputs = self._frame(inputs)
        frame = inputs
        runtime = self.loaded.runtime
        if self.labels is not None:
            proba = np.asarray(runtime.predict_proba(frame))
            labels = self.labels.take(np.argmax(proba, axis=1))
            return Prediction(labels, proba, self.classes, self.version)
        predictions = np.asarray(runtime.predict(frame))
        probabilities = np.asarray(runtime.predict_proba(frame)) if runtime.has_proba else None
        return Prediction(predictions, probabilities, self.classes, self.version)


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


def _check_rows(
    registry: Registry, loaded: LoadedModel, columns: list[str]
) -> np.ndarray[Any, Any]:
    """Rows to compare a kernel with its runtime: the stored reference sample's finite
    rows, and random rows spread over each column's training range."""
    version = loaded.version
    parts = []
    if REFERENCE_FILE in version.artifacts:
        raw = registry.read_artifact(version.name, version.version, REFERENCE_FILE)
        stored = pd.read_parquet(io.BytesIO(raw))
        numeric = all(pd.api.types.is_numeric_dtype(stored.get(c, "")) for c in columns)
        if numeric:  # a column policy may have left a column out, or hashed it
            sample = stored[columns].to_numpy(dtype=np.float64)
            parts.append(sample[np.isfinite(sample).all(axis=1)])
    rng = np.random.default_rng(0)
    low = np.array([s.min if s.min is not None else -1.0 for s in loaded.signature.inputs])
    high = np.array([s.max if s.max is not None else 1.0 for s in loaded.signature.inputs])
    parts.append(rng.uniform(low, high, size=(_CHECK_ROWS, len(columns))))
    return np.ascontiguousarray(np.concatenate(parts))


def _checked_kernel(registry: Registry, loaded: LoadedModel) -> Kernel | None:
    """The runtime's kernel, if it has one and it equals the runtime on check rows."""
    where = {"model": loaded.name, "version": loaded.version.version}
    columns = float_columns(loaded.signature.inputs)
    if columns is None:
        log.info("served through the runtime: its inputs are not all float64", extra=where)
        return None
    runtime = loaded.runtime
    kernel = runtime.compile(columns)
    if kernel is None:
        log.info(
            "served through the runtime: no compiled form for this kind of model",
            extra={**where, "flavor": loaded.version.flavor},
        )
        return None
    try:
        rows = _check_rows(registry, loaded, columns)
        mismatch = kernel_mismatch(runtime, kernel, rows, columns)
    except Exception as exc:  # the runtime itself refused a check row: keep to the runtime
        mismatch = f"{type(exc).__name__}: {exc}"
    if mismatch is not None:
        log.warning(
            "compiled model differs from the runtime; serving through the runtime",
            extra={**where, "why": mismatch},
        )
        return None
    return kernel
