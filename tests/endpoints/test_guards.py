"""Rollout guards: parsed with clear errors, judged on prediction-log frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.endpoints.guards import Guard, judge, parse_guards
from shipyard.errors import InvalidInputError


def _log(
    rows: int, *, errors: int = 0, latency: float = 5.0, prediction: object = 1
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(rows)],
            "row": 0,
            "latency_ms": np.full(rows, latency) + np.arange(rows) / rows,
            "error": [("boom" if i < errors else None) for i in range(rows)],
            "prediction": [(None if i < errors else prediction) for i in range(rows)],
        }
    )


def test_guards_parse_and_say_what_they_accept() -> None:
    guards = parse_guards(["error_rate<0.01", "p99_latency_ms <= 50", "agreement>0.9"])
    assert [str(g) for g in guards] == ["error_rate<0.01", "p99_latency_ms<=50", "agreement>0.9"]
    for text, message in [
        ("error_rate", "is not METRIC<NUMBER"),
        ("error_rate=0.1", "is not METRIC<NUMBER"),
        ("errors<0.1", "unknown metric 'errors'; use one of error_rate, p50_latency_ms"),
        ("error_rate<2", "a share between 0 and 1"),
        ("p99_latency_ms<0", "positive milliseconds"),
    ]:
        with pytest.raises(InvalidInputError, match="guard") as caught:
            Guard.parse(text)
        assert message in str(caught.value)
    with pytest.raises(InvalidInputError, match="given twice: error_rate"):
        parse_guards(["error_rate<0.1", "error_rate<0.2"])


def test_a_version_that_errors_on_a_fifth_of_rows_breaches() -> None:
    guards = parse_guards(["error_rate<0.01", "p99_latency_ms<50"])
    healthy, failing = _log(200), _log(200, errors=40)
    assert [j.verdict for j in judge(guards, healthy, healthy)] == ["pass", "pass"]
    verdicts = judge(guards, failing, healthy)
    assert verdicts[0].verdict == "breach" and verdicts[0].value == pytest.approx(0.2)
    assert "error_rate<0.01: breach (error_rate=0.2, 200 rows)" == str(verdicts[0])


def test_latency_is_a_quantile_of_requests() -> None:
    slow = _log(100, latency=80.0)
    (verdict,) = judge(parse_guards(["p50_latency_ms<50"]), slow, slow)
    assert verdict.verdict == "breach"
    assert verdict.value == pytest.approx(np.quantile(slow["latency_ms"], 0.5))


def test_agreement_compares_both_versions_on_the_same_requests() -> None:
    current = _log(100, prediction="yes")
    new = current.copy()
    new.loc[:29, "prediction"] = "no"  # disagrees on 30 of 100
    (verdict,) = judge(parse_guards(["agreement>0.9"]), new, current)
    assert verdict.verdict == "breach" and verdict.value == pytest.approx(0.7)
    (same,) = judge(parse_guards(["agreement>0.9"]), current, current)
    assert same.verdict == "pass" and same.value == 1.0


def test_too_few_rows_means_wait() -> None:
    guards = parse_guards(["error_rate<0.01", "agreement>0.9"])
    verdicts = judge(guards, _log(10, errors=5), _log(0), min_rows=50)
    assert [j.verdict for j in verdicts] == ["wait", "wait"]
    assert str(verdicts[0]) == "error_rate<0.01: waiting (10 rows so far)"


def test_prediction_drift_measures_how_far_the_new_predictions_moved() -> None:
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import ks_2samp

    from shipyard.endpoints.guards import prediction_drift

    rng = np.random.default_rng(0)
    same = _log(400, prediction=0)
    same["prediction"] = rng.integers(0, 2, 400)
    other = same.copy()
    other["prediction"] = rng.integers(0, 2, 400)
    shifted = same.copy()
    shifted["prediction"] = (rng.uniform(size=400) < 0.9).astype(int)
    guard = parse_guards(["prediction_drift<0.1"])
    (calm,) = judge(guard, other, same)
    (moved,) = judge(guard, shifted, same)
    assert calm.verdict == "pass" and moved.verdict == "breach"
    frequencies = [np.bincount(f["prediction"], minlength=2) for f in (shifted, same)]
    assert moved.value == pytest.approx(jensenshannon(*frequencies, base=2), abs=1e-12)
    values = pd.Series(rng.normal(0, 1, 300))
    drifted = pd.Series(rng.normal(0.5, 1, 300))
    expected = ks_2samp(drifted.to_numpy(), values.to_numpy()).statistic
    assert prediction_drift(drifted, values) == pytest.approx(expected, abs=1e-12)
    labels = pd.Series(["yes", "no", "yes"])
    assert prediction_drift(labels, labels) == 0.0
    with pytest.raises(InvalidInputError, match="a share between 0 and 1"):
        Guard.parse("prediction_drift<3")
