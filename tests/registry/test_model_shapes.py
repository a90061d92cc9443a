"""Models and data of less common shapes, registered end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import Ratio, classification_data, logistic
from shipyard.errors import ConflictError, InvalidInputError, UnsupportedModelError
from shipyard.registry import Registry


def test_pipeline_starting_with_a_hand_written_transformer(registry: Registry) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    frame, target = classification_data()
    model = make_pipeline(Ratio(), LogisticRegression(max_iter=500)).fit(frame, target)
    registry.register_model(model, "ratio", training_data=frame, target=target)
    loaded = registry.load("models:/ratio/1")
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_classes_defined_in_main_are_refused_with_advice(registry: Registry) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    class Local(Ratio):
        pass

    Local.__module__ = "__main__"
    frame, target = classification_data()
    model = make_pipeline(Local(), LogisticRegression(max_iter=500)).fit(frame, target)
    with pytest.raises(UnsupportedModelError, match="__main__.*move it into a module"):
        registry.register_model(model, "local", training_data=frame)


def test_reuse_identical_refuses_to_drop_new_metadata(registry: Registry) -> None:
    model, frame, target = logistic()
    first = registry.register_model(
        model, "m", training_data=frame, metrics={"f1": 0.5}, reuse_identical=True
    )
    same = registry.register_model(
        model, "m", training_data=frame, metrics={"f1": 0.5}, reuse_identical=True
    )
    assert same.version == first.version
    with pytest.raises(ConflictError, match="other metrics, description"):
        registry.register_model(
            model,
            "m",
            training_data=frame,
            metrics={"f1": 0.9},
            description="new",
            reuse_identical=True,
        )


def test_a_loaded_online_model_that_learned_registers_as_a_new_version(
    registry: Registry,
) -> None:
    from river import linear_model, preprocessing

    frame, target = classification_data()
    model = preprocessing.StandardScaler() | linear_model.LogisticRegression()
    for row, label in zip(frame.head(100).to_dict(orient="records"), target[:100], strict=True):
        model.learn_one(row, bool(label))
    registry.register_model(model, "online", training_data=frame.head(100))
    loaded = registry.load("models:/online/1")
    loaded.learn(frame.iloc[100:], target[100:].astype(bool))
    version = registry.register_model(loaded, "online", training_data=frame)
    assert (version.version, version.flavor) == (2, "river")
    again = registry.load("models:/online/2")
    np.testing.assert_array_equal(again.predict(frame), loaded.predict(frame))
    assert not np.array_equal(
        registry.load("models:/online/1").predict_proba(frame), again.predict_proba(frame)
    )


def test_multi_output_regression_is_not_called_probabilities(registry: Registry) -> None:
    from sklearn.linear_model import LinearRegression

    frame, _ = classification_data()
    targets = np.column_stack([frame["income"] * 2, frame["score"] - 1])
    model = LinearRegression().fit(frame, targets)
    version = registry.register_model(model, "two", training_data=frame, target=targets)
    assert version.signature.output is not None
    assert version.signature.output.kind == "other"
    assert version.target_profile is None and version.prediction_profile is None
    assert version.lineage["training_data"]["target"]["rows"] == len(frame)
    loaded = registry.load("models:/two/1")
    np.testing.assert_allclose(loaded.predict(frame), model.predict(frame))


def test_class_targets_and_predictions_are_profiled_per_class(registry: Registry) -> None:
    model, frame, target = logistic()
    version = registry.register_model(model, "m", training_data=frame, target=target)
    assert version.target_profile is not None and version.prediction_profile is not None
    assert version.target_profile["kind"] == "categorical"
    counts = pd.Series(target).value_counts()
    assert version.target_profile["categories"] == {str(k): int(v) for k, v in counts.items()}
    assert version.prediction_profile["kind"] == "categorical"


def test_model_card_makes_user_text_inert(registry: Registry) -> None:
    from sklearn.tree import DecisionTreeClassifier

    frame, target = classification_data()
    labels = np.where(target == 1, "<b>yes</b>", "no|maybe\nperhaps")
    model = DecisionTreeClassifier(max_depth=2, random_state=0).fit(frame, labels)
    registry.register_model(
        model, "m", training_data=frame, target=labels, description="Flags <script>x</script>"
    )
    card = registry.card("m", 1)
    assert "<b>" not in card and "<script>" not in card
    assert "&lt;b&gt;yes&lt;/b&gt;" in card
    assert "no\\|maybe perhaps" in card
    classes_line = next(line for line in card.splitlines() if line.startswith("- **Classes:**"))
    assert "perhaps" in classes_line


def test_params_are_deterministic_across_registrations(registry: Registry) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    model, frame, target = logistic()
    with_function = make_pipeline(FunctionTransformer(np.abs), model).fit(frame, target)
    first = registry.register_model(with_function, "f", training_data=frame)
    second = registry.register_model(with_function, "f", training_data=frame)
    assert first.params == second.params
    assert " at 0x" not in str(first.params)


def test_metric_names_must_be_searchable(registry: Registry) -> None:
    model, frame, _ = logistic()
    with pytest.raises(InvalidInputError, match="metric name 'f1 score'"):
        registry.register_model(model, "m", training_data=frame, metrics={"f1 score": 0.5})


def test_an_explicit_signature_stands_in_for_training_data(registry: Registry) -> None:
    from shipyard.schema import Signature

    model, frame, _ = logistic()
    version = registry.register_model(model, "m", signature=Signature.infer(frame))
    assert version.profile is None and version.signature.names == list(frame.columns)
    loaded = registry.load("models:/m/1")
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
