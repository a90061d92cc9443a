"""Plain-Python models for the pyfunc contract tests (importable as ``runtimes.pyfunc_models``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from shipyard.runtimes.pyfunc import PythonModel


class CentroidClassifier(PythonModel):
    """Nearest-centroid classifier; probabilities are a softmax of negative distances."""

    def __init__(self) -> None:
        self.centroids: np.ndarray[Any, Any] | None = None
        self.classes: list[Any] | None = None

    def fit(self, data: pd.DataFrame, target: pd.Series[Any]) -> Self:
        self.classes = sorted(target.unique().tolist())
        values = data.to_numpy(dtype=np.float64)
        labels = target.to_numpy()
        self.centroids = np.stack([values[labels == c].mean(axis=0) for c in self.classes])
        return self

    def save(self, path: Path) -> None:
        assert self.centroids is not None
        np.save(path / "centroids.npy", self.centroids)
        (path / "classes.json").write_text(json.dumps(self.classes))

    def load(self, path: Path) -> None:
        self.centroids = np.load(path / "centroids.npy")
        self.classes = json.loads((path / "classes.json").read_text())

    def predict_proba(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        assert self.centroids is not None
        values = data.to_numpy(dtype=np.float64)
        distances = ((values[:, None, :] - self.centroids[None, :, :]) ** 2).sum(axis=2)
        scores = np.exp(-(distances - distances.min(axis=1, keepdims=True)))
        proba: np.ndarray[Any, Any] = scores / scores.sum(axis=1, keepdims=True)
        return proba

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        labels: np.ndarray[Any, Any] = np.asarray(self.classes)[
            self.predict_proba(data).argmax(axis=1)
        ]
        return labels


class LeastSquaresRegressor(PythonModel):
    """Ordinary least squares with an intercept."""

    def __init__(self) -> None:
        self.coef: np.ndarray[Any, Any] | None = None

    def fit(self, data: pd.DataFrame, target: pd.Series[Any]) -> Self:
        design = np.column_stack([np.ones(len(data)), data.to_numpy(dtype=np.float64)])
        self.coef = np.linalg.lstsq(design, target.to_numpy(dtype=np.float64), rcond=None)[0]
        return self

    def save(self, path: Path) -> None:
        assert self.coef is not None
        np.save(path / "coef.npy", self.coef)

    def load(self, path: Path) -> None:
        self.coef = np.load(path / "coef.npy")

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        assert self.coef is not None
        values: np.ndarray[Any, Any] = (
            self.coef[0] + data.to_numpy(dtype=np.float64) @ self.coef[1:]
        )
        return values
