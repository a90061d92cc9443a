"""``predict_both`` gives exactly what ``predict`` and ``predict_proba`` give, for the
tree and forest classifiers that compute both in one pass and for the others."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from shipyard.runtimes.sklearn import SklearnRuntime


@pytest.mark.parametrize(
    "model",
    [
        RandomForestClassifier(n_estimators=15, random_state=0),
        ExtraTreesClassifier(n_estimators=15, random_state=0),
        DecisionTreeClassifier(random_state=0),
        LogisticRegression(max_iter=500),
    ],
    ids=lambda m: type(m).__name__,
)
@pytest.mark.parametrize("text_labels", [False, True])
def test_predict_both_equals_predict_and_predict_proba(model: object, text_labels: bool) -> None:
    x, y = make_classification(2_000, 8, n_classes=3, n_informative=4, random_state=1)
    labels = np.array(["low", "mid", "high"])[y] if text_labels else y
    fitted = model.fit(x, labels)  # type: ignore[attr-defined]
    frame = pd.DataFrame(x)
    got, proba = SklearnRuntime(fitted).predict_both(frame)
    assert np.array_equal(got, fitted.predict(x))
    assert proba is not None and np.array_equal(proba, fitted.predict_proba(x))


def test_a_regressor_gives_no_probabilities() -> None:
    x, y = make_classification(500, 4, random_state=2)
    fitted = LinearRegression().fit(x, y.astype(float))
    runtime = SklearnRuntime(fitted)
    got, proba = runtime.predict_both(pd.DataFrame(x))
    assert proba is None and np.array_equal(got, runtime.predict(pd.DataFrame(x)))
