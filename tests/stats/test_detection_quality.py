"""Does the monitoring statistics' detection work at defaults? Fixed seeds throughout.

- a 0.2 std mean shift in one of 20 features on 10,000 rows is flagged;
- 20 independent samples from the training distribution raise data-set drift at most once;
- a change of the label relationship with unchanged inputs (concept drift) shows up in
  performance and in the streaming detectors, but not in data drift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shipyard
from shipyard.stats.performance import classification_performance
from shipyard.stats.streaming import ADWIN, DDM, DriftDetector, PageHinkley, detect

NUMERIC = 16
CATEGORIES = ["a", "b", "c", "d", "e"]
SHARES = [0.4, 0.3, 0.15, 0.1, 0.05]


def training_like(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """20 features: 16 standard normal, 4 categorical with five labels."""
    data: dict[str, object] = {f"x{i}": rng.normal(0.0, 1.0, rows) for i in range(NUMERIC)}
    for i in range(20 - NUMERIC):
        data[f"c{i}"] = rng.choice(CATEGORIES, rows, p=SHARES)
    return pd.DataFrame(data)


def test_a_small_mean_shift_in_one_of_20_features_is_flagged() -> None:
    rng = np.random.default_rng(20261127)
    reference = training_like(rng, 10_000)
    current = training_like(rng, 10_000)
    current["x3"] += 0.2  # the features have std 1
    report = shipyard.drift_report(reference, current)
    assert report.column("x3").drift_detected
    assert [c.column for c in report.columns if c.drift_detected] == ["x3"]
    assert not report.dataset_drift  # one column of 20 is below drift_share = 0.5


@pytest.mark.parametrize("rows", [100, 1_000, 10_000])
def test_samples_of_the_training_distribution_rarely_raise_dataset_drift(rows: int) -> None:
    """A window of ``rows`` predictions against a 10,000-row reference, 20 times."""
    rng = np.random.default_rng(7)
    reference = training_like(rng, 10_000)
    alarms = [shipyard.drift_report(reference, training_like(rng, rows)) for _ in range(20)]
    raised = sum(report.dataset_drift for report in alarms)
    drifted = [report.drifted_columns for report in alarms]
    assert raised <= 1, f"data-set drift in {raised} of 20 samples; drifted columns {drifted}"


CHANGE = 5_000


@pytest.fixture(scope="module")
def concept_drift() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A model predicting ``x0 > 0``; labels follow ``x0`` in the reference (about 85 %
    accuracy) and ``x1`` in the current window. Inputs have the same distribution, and so
    does the label (half positive in both)."""
    rng = np.random.default_rng(11)

    def window(rows: int, driver: str) -> pd.DataFrame:
        frame = training_like(rng, rows)
        frame["prediction"] = (frame["x0"] > 0).astype(int)
        frame["label"] = (frame[driver] + 0.5 * rng.normal(0.0, 1.0, rows) > 0).astype(int)
        return frame

    return window(CHANGE, "x0"), window(CHANGE, "x1")


def test_concept_drift_shows_in_performance(
    concept_drift: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    before, after = concept_drift
    old = classification_performance(before["label"], before["prediction"]).overall.metrics
    new = classification_performance(after["label"], after["prediction"]).overall.metrics
    assert old["accuracy"] is not None and new["accuracy"] is not None
    assert old["accuracy"] > 0.8
    assert new["accuracy"] < 0.6
    assert old["f1"] is not None and new["f1"] is not None and old["f1"] - new["f1"] > 0.2


def test_concept_drift_does_not_show_in_data_drift(
    concept_drift: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    before, after = concept_drift
    report = shipyard.drift_report(before, after)  # inputs, predictions and labels alike
    assert not report.dataset_drift
    assert report.drifted_columns == 0, [c.column for c in report.columns if c.drift_detected]


@pytest.mark.parametrize("detector", [PageHinkley(), ADWIN(), DDM()], ids=lambda d: d.key)
def test_concept_drift_shows_in_the_streaming_detectors(
    concept_drift: tuple[pd.DataFrame, pd.DataFrame], detector: DriftDetector
) -> None:
    before, after = concept_drift
    errors = pd.concat([before, after])
    wrong = (errors["label"] != errors["prediction"]).astype(float).tolist()
    positions = detect(detector, wrong)
    assert [p for p in positions if p < CHANGE] == [], "an alarm before the change"
    assert any(CHANGE <= p < CHANGE + 1_000 for p in positions), positions
