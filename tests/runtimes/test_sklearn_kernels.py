"""Compiled scikit-learn models answer exactly what scikit-learn answers: equal bit for
bit, for whole batches and single rows, or they are not compiled at all."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.runtimes.base import float_frame, kernel_mismatch
from shipyard.runtimes.sklearn import SklearnRuntime

COLUMNS = [f"f{i}" for i in range(8)]


def _data(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(scale=2.0, size=(rows, len(COLUMNS))), columns=COLUMNS)


TRAIN = _data(800, seed=0)
TEST = np.ascontiguousarray(_data(3_000, seed=1).to_numpy())
SCORE = TRAIN.f0 + 0.5 * TRAIN.f1 - TRAIN.f2 + 0.3 * TRAIN.f3 * TRAIN.f4


def _binary() -> Any:
    return (SCORE > 0).astype(np.int64)


def _three_labels() -> Any:
    return np.asarray(["low", "mid", "high"], dtype=object)[np.digitize(SCORE, [-1.0, 1.0])]


def _value() -> Any:
    return SCORE + np.random.default_rng(2).normal(scale=0.1, size=len(TRAIN))


def _models() -> dict[str, tuple[Any, Any]]:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    return {
        "logistic-binary": (LogisticRegression(max_iter=500), _binary()),
        "logistic-labels": (LogisticRegression(max_iter=500), _three_labels()),
        "linear": (LinearRegression(), _value()),
        "ridge": (Ridge(alpha=0.5), _value()),
        "lasso": (Lasso(alpha=0.01), _value()),
        "elastic-net": (ElasticNet(alpha=0.01), _value()),
        "tree-classifier": (DecisionTreeClassifier(random_state=0), _three_labels()),
        "tree-regressor": (DecisionTreeRegressor(max_depth=8, random_state=0), _value()),
        "forest-binary": (RandomForestClassifier(40, max_depth=10, random_state=0), _binary()),
        "forest-labels": (RandomForestClassifier(25, random_state=0), _three_labels()),
        "extra-trees": (ExtraTreesClassifier(20, random_state=0), _three_labels()),
        "forest-regressor": (RandomForestRegressor(30, random_state=0), _value()),
        "extra-regressor": (ExtraTreesRegressor(15, max_depth=12, random_state=0), _value()),
        "scaled-logistic": (
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
            _three_labels(),
        ),
        "scaled-ridge": (make_pipeline(StandardScaler(), Ridge(alpha=0.5)), _value()),
        "scaled-forest": (
            make_pipeline(
                StandardScaler(with_mean=False), RandomForestClassifier(10, random_state=0)
            ),
            _binary(),
        ),
    }


def _fitted(name: str, on_array: bool = False) -> Any:
    model, target = _models()[name]
    return model.fit(TRAIN.to_numpy() if on_array else TRAIN, target)


@pytest.mark.parametrize("name", sorted(_models()))
def test_kernel_equals_scikit_learn_bit_for_bit(name: str) -> None:
    model = _fitted(name)
    runtime = SklearnRuntime(model)
    kernel = runtime.compile(COLUMNS)
    assert kernel is not None
    for rows in (TEST, TEST[:1], TEST[5:6], TEST[:7], TEST[:64]):
        got = kernel(np.ascontiguousarray(rows))
        assert got is not None
        predictions, probabilities = got
        frame = float_frame(rows, COLUMNS)
        expected = model.predict(frame)
        assert predictions.dtype == expected.dtype
        np.testing.assert_array_equal(predictions, expected, strict=True)
        if hasattr(model, "predict_proba"):
            assert probabilities is not None
            np.testing.assert_array_equal(probabilities, model.predict_proba(frame), strict=True)
            assert probabilities.flags.c_contiguous
        else:
            assert probabilities is None
        assert predictions.flags.c_contiguous
    assert kernel_mismatch(runtime, kernel, TEST[:500], COLUMNS) is None


def test_a_model_fitted_on_a_bare_array_is_compiled_too() -> None:
    model = _fitted("forest-binary", on_array=True)
    kernel = SklearnRuntime(model).compile(COLUMNS)
    assert kernel is not None
    got = kernel(TEST)
    assert got is not None
    np.testing.assert_array_equal(got[1], model.predict_proba(TEST), strict=True)


def test_unknown_models_other_orders_and_several_outputs_get_no_kernel() -> None:
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC
    from sklearn.tree import DecisionTreeRegressor

    assert SklearnRuntime(SVC().fit(TRAIN, _binary())).compile(COLUMNS) is None
    pipeline = make_pipeline(StandardScaler(), SVC())
    assert SklearnRuntime(pipeline.fit(TRAIN, _binary())).compile(COLUMNS) is None
    from sklearn.preprocessing import MinMaxScaler

    other = make_pipeline(MinMaxScaler(), _models()["logistic-binary"][0])
    assert SklearnRuntime(other.fit(TRAIN, _binary())).compile(COLUMNS) is None
    two_targets = np.stack([_value(), -_value()], axis=1)
    assert SklearnRuntime(DecisionTreeRegressor().fit(TRAIN, two_targets)).compile(COLUMNS) is None
    assert SklearnRuntime(MultiOutputRegressor(DecisionTreeRegressor())).compile(COLUMNS) is None
    threaded = _fitted("forest-binary").set_params(n_jobs=2)  # sums trees in thread order
    assert SklearnRuntime(threaded).compile(COLUMNS) is None
    model = _fitted("logistic-binary")
    assert SklearnRuntime(model).compile(COLUMNS[::-1]) is None  # columns in another order
    assert SklearnRuntime(model).compile(COLUMNS[:-1]) is None  # another width


def test_values_too_large_for_float32_are_left_to_scikit_learn() -> None:
    model = _fitted("forest-binary")
    kernel = SklearnRuntime(model).compile(COLUMNS)
    assert kernel is not None
    rows = TEST[:3].copy()
    rows[1, 2] = 1e300
    assert kernel(rows) is None
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="float32"):
        model.predict(float_frame(rows, COLUMNS))


def test_a_kernel_that_differs_is_caught() -> None:
    model = _fitted("forest-labels")
    runtime = SklearnRuntime(model)
    kernel = runtime.compile(COLUMNS)
    assert kernel is not None

    def off_by_an_ulp(x: np.ndarray[Any, Any]) -> Any:
        got = kernel(x)
        assert got is not None
        return got[0], np.nextafter(got[1], 2.0)

    def wrong_label(x: np.ndarray[Any, Any]) -> Any:
        got = kernel(x)
        assert got is not None
        labels = got[0].copy()
        labels[-1] = "low" if labels[-1] != "low" else "high"
        return labels, got[1]

    assert kernel_mismatch(runtime, off_by_an_ulp, TEST[:50], COLUMNS) == (
        "probabilities differ on 50 row(s)"
    )
    assert kernel_mismatch(runtime, wrong_label, TEST[:50], COLUMNS) == (
        "predictions differ on 50 row(s)"
    )
