"""Small real models of every flavor, trained on generated data, and what each framework
itself answers for them: the fixtures of the runtime contract."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.runtimes import flavors

COLUMNS = [f"f{i}" for i in range(5)]


def make_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(rows, len(COLUMNS))), columns=COLUMNS)


def binary_target(data: pd.DataFrame) -> pd.Series[Any]:
    return (data.f0 + 0.5 * data.f1 - data.f2 > 0).astype(np.int64)


def three_classes(data: pd.DataFrame, labels: tuple[Any, ...] = ("a", "b", "c")) -> pd.Series[Any]:
    index = np.digitize(data.f0 + data.f1 - 0.3 * data.f4, [-0.6, 0.6])
    return pd.Series(np.asarray(labels, dtype=object)[index], index=data.index)


def regression_target(data: pd.DataFrame, seed: int = 0) -> pd.Series[Any]:
    noise = np.random.default_rng(seed).normal(scale=0.1, size=len(data))
    return 2 * data.f0 - data.f1 + 0.5 * data.f3**2 + noise


TRAIN = make_frame(400, seed=0)
TEST = make_frame(10_000, seed=1)


@dataclass
class Case:
    """A trained model and what its own framework answers for it."""

    model: Any
    predict: Callable[[pd.DataFrame], Any]
    proba: Callable[[pd.DataFrame], Any] | None = None
    classes: list[Any] | None = None

    @property
    def labels(self) -> bool:
        return self.classes is not None


# -- factories, one set per flavor ------------------------------------------------------


def _sklearn_classifier() -> Case:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(TRAIN, three_classes(TRAIN))
    return Case(model, model.predict, model.predict_proba, model.classes_.tolist())


def _sklearn_regressor() -> Case:
    from sklearn.tree import DecisionTreeRegressor

    model = DecisionTreeRegressor(max_depth=5, random_state=0).fit(TRAIN, regression_target(TRAIN))
    return Case(model, model.predict)


def _xgboost_classifier() -> Case:
    import xgboost as xgb

    labels = three_classes(TRAIN, labels=(0, 1, 2)).astype(np.int64)
    model = xgb.XGBClassifier(n_estimators=15, max_depth=3, n_jobs=1).fit(TRAIN, labels)
    return Case(model, model.predict, model.predict_proba, [0, 1, 2])


def _xgboost_regressor() -> Case:
    import xgboost as xgb

    model = xgb.XGBRegressor(n_estimators=15, max_depth=3, n_jobs=1).fit(
        TRAIN, regression_target(TRAIN)
    )
    return Case(model, model.predict)


def _xgboost_booster() -> Case:
    import xgboost as xgb

    params = {"objective": "binary:logistic", "max_depth": 3, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(TRAIN, label=binary_target(TRAIN)), num_boost_round=10)

    def proba(data: pd.DataFrame) -> Any:
        p = booster.predict(xgb.DMatrix(data))
        return np.column_stack([1 - p, p])

    def predict(data: pd.DataFrame) -> Any:
        return (booster.predict(xgb.DMatrix(data)) > 0.5).astype(np.int64)

    return Case(booster, predict, proba, [0, 1])


def _lightgbm_model(kind: str) -> Case:
    import lightgbm as lgb

    options: dict[str, Any] = {"n_estimators": 15, "num_leaves": 7, "verbose": -1, "n_jobs": 1}
    if kind == "regressor":
        model = lgb.LGBMRegressor(**options).fit(TRAIN, regression_target(TRAIN))
        return Case(model, model.predict)
    target = three_classes(TRAIN) if kind == "classifier" else binary_target(TRAIN)
    model = lgb.LGBMClassifier(**options).fit(TRAIN, target)
    return Case(model, model.predict, model.predict_proba, model.classes_.tolist())


def _lightgbm_booster() -> Case:
    import lightgbm as lgb

    params = {"objective": "regression", "num_leaves": 7, "verbose": -1, "num_threads": 1}
    booster = lgb.train(
        params, lgb.Dataset(TRAIN, label=regression_target(TRAIN)), num_boost_round=10
    )
    return Case(booster, booster.predict)


def _onnx_classifier(zipmap: bool) -> Case:
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    sk = LogisticRegression().fit(TRAIN, three_classes(TRAIN, labels=(0, 1, 2)).astype(np.int64))
    options = None if zipmap else {id(sk): {"zipmap": False}}
    model = to_onnx(sk, TRAIN.to_numpy(np.float32)[:1], options=options)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    classes = sk.classes_.tolist()

    def run(data: pd.DataFrame) -> list[Any]:
        return list(session.run(None, {"X": data.to_numpy(np.float32)}))

    def proba(data: pd.DataFrame) -> Any:
        out = run(data)[1]
        return [[row[c] for c in classes] for row in out] if zipmap else out

    return Case(model, lambda data: run(data)[0], proba, classes)


def _onnx_regressor() -> Case:
    """Several inputs, one per column, as skl2onnx makes them for a DataFrame."""
    import onnxruntime as ort
    from skl2onnx import to_onnx
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scale = ColumnTransformer([("scale", StandardScaler(), COLUMNS)])
    sk = make_pipeline(scale, LinearRegression()).fit(TRAIN, regression_target(TRAIN))
    model = to_onnx(sk, TRAIN.astype(np.float32)[:1])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])

    def predict(data: pd.DataFrame) -> Any:
        feeds = {c: data[[c]].to_numpy(np.float32) for c in COLUMNS}
        return session.run(None, feeds)[0].ravel()

    return Case(model, predict)


def river_rows(data: pd.DataFrame) -> list[dict[str, Any]]:
    return data.to_dict(orient="records")  # type: ignore[return-value]


def _river_case(model: Any, target: pd.Series[Any], classes: list[Any] | None) -> Case:
    for row, label in zip(river_rows(TRAIN), target.tolist(), strict=True):
        model.learn_one(row, label)

    def predict(data: pd.DataFrame) -> Any:
        return [model.predict_one(row) for row in river_rows(data)]

    def proba(data: pd.DataFrame) -> Any:
        assert classes is not None
        answers = [model.predict_proba_one(row) for row in river_rows(data)]
        return [[answer.get(c, 0.0) for c in classes] for answer in answers]

    return Case(model, predict, proba if classes is not None else None, classes)


def _river_binary() -> Case:
    from river import linear_model, preprocessing

    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    return _river_case(model, binary_target(TRAIN).astype(bool), [False, True])


def _river_multiclass() -> Case:
    from river import naive_bayes

    model = naive_bayes.GaussianNB()  # type: ignore[no-untyped-call]
    return _river_case(model, three_classes(TRAIN), ["a", "b", "c"])


def _river_regressor() -> Case:
    from river import linear_model, preprocessing

    model = preprocessing.StandardScaler() | linear_model.LinearRegression()
    return _river_case(model, regression_target(TRAIN), None)


def _pyfunc_classifier() -> Case:
    from runtimes.pyfunc_models import CentroidClassifier

    model = CentroidClassifier().fit(TRAIN, three_classes(TRAIN))
    return Case(model, model.predict, model.predict_proba, ["a", "b", "c"])


def _pyfunc_regressor() -> Case:
    from runtimes.pyfunc_models import LeastSquaresRegressor

    model = LeastSquaresRegressor().fit(TRAIN, regression_target(TRAIN))
    return Case(model, model.predict)


FACTORIES: dict[str, dict[str, Callable[[], Case]]] = {
    "sklearn": {"classifier": _sklearn_classifier, "regressor": _sklearn_regressor},
    "xgboost": {
        "classifier": _xgboost_classifier,
        "regressor": _xgboost_regressor,
        "booster": _xgboost_booster,
    },
    "lightgbm": {
        "classifier": lambda: _lightgbm_model("classifier"),
        "binary": lambda: _lightgbm_model("binary"),
        "regressor": lambda: _lightgbm_model("regressor"),
        "booster": _lightgbm_booster,
    },
    "onnx": {
        "classifier": lambda: _onnx_classifier(zipmap=True),
        "tensor-proba": lambda: _onnx_classifier(zipmap=False),
        "regressor": _onnx_regressor,
    },
    "river": {
        "classifier": _river_binary,
        "multiclass": _river_multiclass,
        "regressor": _river_regressor,
    },
    "pyfunc": {"classifier": _pyfunc_classifier, "regressor": _pyfunc_regressor},
}
#: Modules each optional flavor imports (and whose absence must be reported clearly).
OPTIONAL_MODULES = {
    "xgboost": ["xgboost"],
    "lightgbm": ["lightgbm"],
    "onnx": ["onnx", "onnxruntime"],
    "river": ["river"],
}

CASES = [
    pytest.param(flavor, kind, id=f"{flavor}-{kind}")
    for flavor in flavors()
    for kind in FACTORIES.get(flavor) or ["no-factory"]
]

_trained: dict[tuple[str, str], Case] = {}


def trained_case(flavor: str, kind: str) -> Case:
    if flavor not in FACTORIES:
        pytest.fail(f"flavor {flavor!r} has no factory in FACTORIES; add one")
    if (flavor, kind) not in _trained:
        _trained[flavor, kind] = FACTORIES[flavor][kind]()
    return _trained[flavor, kind]
