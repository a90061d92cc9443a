"""Performance metrics, checked against scikit-learn's on the same rows, overall and per segment."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from shipyard.errors import InvalidInputError
from shipyard.stats.performance import (
    PerformanceReport,
    SegmentPerformance,
    classification_performance,
    regression_performance,
)

TOL = 1e-12


def _segment(report: PerformanceReport, name: str) -> SegmentPerformance:
    return next(s for s in report.segments if s.segment == name)


@pytest.fixture
def binary() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 3_000
    label = rng.integers(0, 2, n)
    score = np.clip(0.35 * label + rng.normal(0.35, 0.2, n), 0, 1)
    score[:3] = [0.0, 1.0, 0.5]  # clipping and a tie
    return pd.DataFrame(
        {
            "label": label,
            "prediction": (score > 0.5).astype(int),
            "score": score,
            "region": rng.choice(["north", "south", "east"], n),
            "age": rng.uniform(18, 90, n).round(),
        }
    )


def _sk_binary(frame: pd.DataFrame) -> dict[str, float]:
    y, p, s = frame["label"], frame["prediction"], frame["score"]
    prf = metrics.precision_recall_fscore_support(
        y, p, labels=[0, 1], average="macro", zero_division=0
    )
    return {
        "accuracy": metrics.accuracy_score(y, p),
        "precision": metrics.precision_score(y, p),
        "recall": metrics.recall_score(y, p),
        "f1": metrics.f1_score(y, p),
        "precision_macro": prf[0],
        "recall_macro": prf[1],
        "f1_macro": prf[2],
        "roc_auc": metrics.roc_auc_score(y, s),
        "log_loss": metrics.log_loss(y, s, labels=[0, 1]),
    }


def _assert_close(ours: dict[str, float | None], expected: dict[str, float]) -> None:
    for name, value in expected.items():
        assert ours[name] is not None, name
        assert ours[name] == pytest.approx(value, abs=TOL, rel=0), name


def test_binary_metrics_equal_scikit_learn_overall_and_by_segment(binary: pd.DataFrame) -> None:
    report = classification_performance(
        binary["label"],
        binary["prediction"],
        probabilities=binary["score"],
        segments=binary["region"],
        segment_by="region",
    )
    assert report.positive_label == 1
    _assert_close(report.overall.metrics, _sk_binary(binary))
    assert report.overall.undefined == {"roc_auc_ovr_macro": "two labels: see roc_auc"}
    matrix = report.overall.confusion_matrix
    assert matrix is not None and matrix.labels == [0, 1]
    assert matrix.counts == metrics.confusion_matrix(binary["label"], binary["prediction"]).tolist()
    assert [s.segment for s in report.segments] == ["east", "north", "south"]
    for region, rows in binary.groupby("region"):
        segment = _segment(report, str(region))
        assert segment.rows == len(rows)
        _assert_close(segment.metrics, _sk_binary(rows))
    assert report.to_dict()["segment_by"] == "region"


def test_numeric_segments_by_edges_and_by_quantile_bins(binary: pd.DataFrame) -> None:
    report = classification_performance(
        binary["label"], binary["prediction"], segments=binary["age"], bins=[30, 50, 70]
    )
    names = [s.segment for s in report.segments]
    assert names == ["< 30", "[30, 50)", "[50, 70]", "> 70"]
    groups = {
        "< 30": binary[binary.age < 30],
        "[30, 50)": binary[(binary.age >= 30) & (binary.age < 50)],
        "[50, 70]": binary[(binary.age >= 50) & (binary.age <= 70)],
        "> 70": binary[binary.age > 70],
    }
    for name, rows in groups.items():
        segment = _segment(report, name)
        assert segment.rows == len(rows)
        assert segment.metrics["f1"] == pytest.approx(
            metrics.f1_score(rows["label"], rows["prediction"]), abs=TOL, rel=0
        )
    quartiles = classification_performance(
        binary["label"], binary["prediction"], segments=binary["age"], bins=4
    )
    assert len(quartiles.segments) == 4
    assert sum(s.rows for s in quartiles.segments) == len(binary)
    assert all(abs(s.rows - len(binary) / 4) < 60 for s in quartiles.segments)


def test_string_labels_with_a_positive_label() -> None:
    rng = np.random.default_rng(3)
    y = rng.choice(["fraud", "ok"], 500, p=[0.2, 0.8])
    p = np.where(rng.random(500) < 0.8, y, rng.choice(["fraud", "ok"], 500))
    score = np.where(y == "fraud", 0.6, 0.4) + rng.normal(0, 0.2, 500)
    report = classification_performance(y, p, probabilities=score, positive_label="fraud")
    m = report.overall.metrics
    assert m["precision"] == pytest.approx(
        metrics.precision_score(y, p, pos_label="fraud"), abs=TOL, rel=0
    )
    assert m["recall"] == pytest.approx(
        metrics.recall_score(y, p, pos_label="fraud"), abs=TOL, rel=0
    )
    assert m["roc_auc"] == pytest.approx(metrics.roc_auc_score(y == "fraud", score), abs=TOL, rel=0)
    unlabelled = classification_performance(y, p)
    assert unlabelled.overall.metrics["precision"] is None
    assert unlabelled.overall.undefined["precision"] == "give positive_label"


def test_multiclass_macro_and_one_vs_rest_auc_equal_scikit_learn() -> None:
    rng = np.random.default_rng(5)
    classes = ["setosa", "versicolor", "virginica"]
    n = 2_000
    y = rng.choice(classes, n)
    logits = rng.normal(0, 1, (n, 3)) + 1.5 * (np.asarray(classes) == y[:, None])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    p = np.asarray(classes)[proba.argmax(axis=1)]
    segment = rng.choice(["a", "b"], n)
    report = classification_performance(
        y, p, probabilities=[list(row) for row in proba], classes=classes, segments=segment
    )
    for name, mask in [("all", np.ones(n, bool)), ("a", segment == "a"), ("b", segment == "b")]:
        ours = report.overall if name == "all" else _segment(report, name)
        prf = metrics.precision_recall_fscore_support(
            y[mask], p[mask], labels=classes, average="macro", zero_division=0
        )
        expected = {
            "accuracy": metrics.accuracy_score(y[mask], p[mask]),
            "precision_macro": prf[0],
            "recall_macro": prf[1],
            "f1_macro": prf[2],
            "roc_auc_ovr_macro": metrics.roc_auc_score(
                y[mask], proba[mask], multi_class="ovr", average="macro", labels=classes
            ),
            "log_loss": metrics.log_loss(y[mask], proba[mask], labels=classes),
        }
        _assert_close(ours.metrics, expected)
        assert ours.metrics["precision"] is None and ours.metrics["roc_auc"] is None
        assert ours.confusion_matrix is not None
        assert (
            ours.confusion_matrix.counts
            == metrics.confusion_matrix(y[mask], p[mask], labels=classes).tolist()
        )


def test_undefined_metrics_are_none_with_a_reason() -> None:
    report = classification_performance([1, 1, 1], [0, 0, 0], probabilities=[0.2, 0.3, 0.4])
    m, why = report.overall.metrics, report.overall.undefined
    assert m["accuracy"] == 0.0
    assert m["precision"] is None and why["precision"] == "no row predicted positive"
    assert m["recall"] == 0.0
    # a label never predicted (or never seen) counts 0 in the macro averages, as zero_division=0
    for name, score in [
        ("precision_macro", metrics.precision_score),
        ("f1_macro", metrics.f1_score),
    ]:
        assert m[name] == score([1, 1, 1], [0, 0, 0], average="macro", zero_division=0)
    assert m["roc_auc"] is None and why["roc_auc"] == "only one class present in the labels"
    empty = classification_performance([None, None], [1, 0])
    assert empty.dropped == 2 and empty.overall.rows == 0
    assert empty.overall.metrics["accuracy"] is None
    assert empty.overall.undefined["accuracy"] == "no rows"
    flat = regression_performance([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    assert flat.overall.metrics["r2"] is None
    assert flat.overall.undefined["r2"] == "labels are constant"
    one = regression_performance([2.0], [1.0])
    assert one.overall.undefined["r2"] == "fewer than 2 rows"
    zeros = regression_performance([0.0, 0.0], [1.0, 2.0])
    assert zeros.overall.metrics["mape"] is None and zeros.overall.zero_labels == 2


def test_regression_metrics_equal_scikit_learn_with_segments_and_zero_labels() -> None:
    rng = np.random.default_rng(9)
    n = 4_000
    y = rng.gamma(2.0, 10.0, n)
    y[rng.choice(n, 40, replace=False)] = 0.0
    pred = y + rng.normal(0, 3, n)
    group = rng.choice(["web", "app"], n)
    labels: list[Any] = list(y)
    labels[7] = None  # no feedback for this row
    report = regression_performance(labels, pred, segments=group, segment_by="channel")
    assert report.dropped == 1
    keep = np.arange(n) != 7
    for name, mask in [
        ("all", keep),
        ("app", keep & (group == "app")),
        ("web", keep & (group == "web")),
    ]:
        ours = report.overall if name == "all" else _segment(report, name)
        nonzero = mask & (y != 0)
        expected = {
            "mae": metrics.mean_absolute_error(y[mask], pred[mask]),
            "rmse": metrics.root_mean_squared_error(y[mask], pred[mask]),
            "mape": metrics.mean_absolute_percentage_error(y[nonzero], pred[nonzero]),
            "r2": metrics.r2_score(y[mask], pred[mask]),
        }
        _assert_close(ours.metrics, expected)
        assert ours.zero_labels == int((mask & (y == 0)).sum())
        assert ours.rows == int(mask.sum())


def test_user_errors_say_what_to_do() -> None:
    with pytest.raises(InvalidInputError, match="not in classes"):
        classification_performance([0, 1, 2], [0, 1, 1], classes=[0, 1])
    with pytest.raises(InvalidInputError, match="pass classes="):
        classification_performance([0, 1], [0, 1], probabilities=[[0.5, 0.5], [0.1, 0.9]])
    with pytest.raises(InvalidInputError, match="one per row"):
        regression_performance([1.0, 2.0], [1.0])
    with pytest.raises(InvalidInputError, match="increasing"):
        regression_performance([1.0, 2.0], [1.0, 2.0], segments=[1, 2], bins=[3, 1])
    with pytest.raises(InvalidInputError, match="bins needs segments"):
        regression_performance([1.0, 2.0], [1.0, 2.0], bins=3)


def test_missing_segment_values_and_close_edges_get_their_own_segments() -> None:
    report = regression_performance(
        [1.0, 2.0, 3.0, 4.0], [1.0, 2.5, 3.0, 5.0], segments=["a", None, "a", np.nan]
    )
    assert [(s.segment, s.rows) for s in report.segments] == [("a", 2), ("missing", 2)]
    assert _segment(report, "missing").metrics["mae"] == 0.75
    close = regression_performance(
        [1.0, 2.0, 3.0],
        [1.0, 2.0, 3.0],
        segments=[1.0, 1.0000001, 1.0000002],
        bins=[1.0, 1.0000001, 2.0],
    )
    assert [s.segment for s in close.segments] == ["[1.0, 1.0000001)", "[1.0000001, 2.0]"]
