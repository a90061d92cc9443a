"""Small real models and data, trained in the test run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def classification_data(
    rows: int = 300, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, rows),
            "income": rng.normal(50_000, 15_000, rows),
            "score": rng.uniform(0, 1, rows),
        }
    )
    target = ((frame["score"] + frame["age"] / 100 + rng.normal(0, 0.2, rows)) > 0.9).astype(int)
    return frame, target.to_numpy()


def logistic(rows: int = 300, seed: int = 0) -> tuple[Any, pd.DataFrame, np.ndarray[Any, Any]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame, target = classification_data(rows, seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(frame, target)
    return model, frame, target


class Ratio:
    """A hand-written transformer that needs named columns (no ``feature_names_in_``)."""

    def fit(self, x: pd.DataFrame, y: Any = None) -> Ratio:
        return self

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        out = x.copy()
        out["ratio"] = out["income"] / (out["age"] + 1)
        return out

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {}

    def set_params(self, **params: Any) -> Ratio:
        return self


from shipyard.runtimes.pyfunc import PythonModel  # noqa: E402


class Doubler(PythonModel):
    """Predicts ``2 * x`` after a pause, so concurrent requests pile up into batches."""

    pause = 0.02

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        import time

        time.sleep(self.pause)
        if (data["x"] < 0).any():
            raise ValueError("negative x")
        return (data["x"] * 2).to_numpy()


class Tripler(Doubler):
    """Like :class:`Doubler`, but ``3 * x``: tells which version answered."""

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        return super().predict(data) / 2 * 3


class Broken(PythonModel):
    """Raises on every call once ``armed``, counting them (registration passes)."""

    calls = 0
    armed = False

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        if not type(self).armed:
            return data["x"].to_numpy()
        type(self).calls += 1
        raise RuntimeError("broken model")


class Hanging(PythonModel):
    """Takes ``hang`` seconds per call once ``armed`` (the warm-up passes quickly)."""

    hang = 2.0
    armed = False

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        import time

        if type(self).armed:
            time.sleep(self.hang)
        return data["x"].to_numpy()


class Amounts(PythonModel):
    """Predicts ``2 * amount``; its other inputs (personal data in the column-policy
    tests) are taken and not used. A negative amount fails with a message that quotes the
    row's ``ssn``, as careless models do."""

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        if (data["amount"] < 0).any():
            raise ValueError(f"refused {data['ssn'].iloc[0]}")
        return (data["amount"] * 2).to_numpy()


class Echo(PythonModel):
    """Predicts its ``x`` column; takes any other columns (booleans, labels) along."""

    def predict(self, data: pd.DataFrame) -> np.ndarray[Any, Any]:
        return data["x"].to_numpy(dtype=float)


def members(rows: int = 200, seed: int = 0) -> pd.DataFrame:
    """``x`` in [0, 100), a boolean ``member`` and a label ``plan`` of which one value,
    ``secret-plan``, appears in one row only."""
    rng = np.random.default_rng(seed)
    plans = rng.choice(["basic", "pro"], rows).astype(object)
    plans[0] = "secret-plan"
    return pd.DataFrame(
        {"x": rng.uniform(0, 100, rows), "member": rng.random(rows) < 0.3, "plan": plans}
    )
