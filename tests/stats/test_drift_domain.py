"""The domain classifier: joint shifts, no false alarm on the same distribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from shipyard.errors import InvalidInputError
from shipyard.stats.drift import domain_classifier_drift, drift_report
from shipyard.stats.drift_domain import roc_auc


def _pair(rows: int, seed: int, correlated: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    noise = rng.normal(size=rows)
    y = 0.9 * x + np.sqrt(1 - 0.81) * noise if correlated else noise
    return pd.DataFrame({"x": x, "y": y, "tag": rng.choice(["a", "b"], rows)})


def test_a_shift_in_the_joint_distribution_alone_is_found() -> None:
    ref, cur = _pair(3000, 0, correlated=False), _pair(3000, 1, correlated=True)
    assert drift_report(ref, cur).drifted_columns == 0  # each column alone is unchanged
    result = domain_classifier_drift(ref, cur, permutations=200)
    assert result.drift_detected and result.roc_auc > 0.7
    assert result.p_value == pytest.approx(1 / 201)
    assert result.roc_auc > result.threshold


def test_the_same_distribution_does_not_drift_and_runs_are_repeatable() -> None:
    ref, cur = _pair(2000, 0, correlated=True), _pair(2000, 1, correlated=True)
    result = domain_classifier_drift(ref, cur, permutations=200)
    assert not result.drift_detected and 0.4 < result.roc_auc < 0.6
    assert 0.5 < result.threshold < 0.6
    assert domain_classifier_drift(ref, cur, permutations=200) == result


def test_the_auc_is_sklearns() -> None:
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 500)
    scores = rng.integers(0, 20, 500).astype(float) + labels  # ties on purpose
    assert roc_auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_errors_say_what_to_do() -> None:
    ref = _pair(100, 0, False)
    with pytest.raises(InvalidInputError, match="present in both"):
        domain_classifier_drift(ref, ref.rename(columns=str.upper))
    with pytest.raises(InvalidInputError, match="at least 20 rows"):
        domain_classifier_drift(ref.head(5), ref)
