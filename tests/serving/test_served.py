"""The one-call path for trees and forests answers exactly what predict does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models import classification_data
from shipyard.config import Settings
from shipyard.registry import Registry
from shipyard.serving.served import ServedModel


@pytest.mark.parametrize("labels", ["int", "str"])
def test_forest_labels_read_off_the_probabilities_equal_predict(
    tmp_path: Path, labels: str
) -> None:
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    registry = Registry.from_settings(Settings(home=tmp_path, reference_sample_rows=0))
    frame, target = classification_data(rows=600)
    target = target if labels == "int" else np.where(target == 1, "yes", "no")
    test, _ = classification_data(rows=5_000, seed=7)
    models = {
        "forest": RandomForestClassifier(n_estimators=30, random_state=0),
        "extra": make_pipeline(StandardScaler(), ExtraTreesClassifier(random_state=0)),
        "logistic": LogisticRegression(max_iter=500),
    }
    for name, model in models.items():
        model.fit(frame, target)
        registry.register_model(model, name, training_data=frame)
        served = ServedModel.load(registry, f"models:/{name}/1")
        assert (served.labels is not None) == (name != "logistic")
        result = served.predict(served.loaded.signature.validate(test))
        expected = model.predict(test)
        assert result.predictions.dtype == expected.dtype
        np.testing.assert_array_equal(result.predictions, expected)
        np.testing.assert_allclose(result.probabilities, model.predict_proba(test), rtol=0, atol=0)
    registry.db.dispose()
    assert isinstance(test, pd.DataFrame)
