"""Drift tests: each against scipy or its textbook formula, and one contract over all."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats
from scipy.spatial import distance

from shipyard.errors import InvalidInputError
from shipyard.stats.drift_tests import (
    PSI_EPSILON,
    DriftTest,
    Sample,
    get_test,
    registered_tests,
    wasserstein_sorted,
)

TOL = 1e-9
RNG = np.random.default_rng(3)
NUM_REF = RNG.normal(0, 1, 700)
NUM_CUR = RNG.normal(0.2, 1.3, 450)
LABELS = np.array(["a", "b", "c", "d"])
CAT_REF = RNG.choice(LABELS, 900, p=[0.4, 0.3, 0.2, 0.1])
CAT_CUR = RNG.choice(np.append(LABELS, "e"), 600, p=[0.3, 0.3, 0.2, 0.1, 0.1])


def _shares(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> tuple[Any, Any]:
    labels = sorted(set(ref) | set(cur))
    r = np.array([np.sum(ref == x) for x in labels], float)
    c = np.array([np.sum(cur == x) for x in labels], float)
    return r / r.sum(), c / c.sum()


def _decile_shares(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> tuple[Any, Any]:
    inner = np.unique(np.quantile(ref, np.arange(1, 10) / 10))
    r = np.bincount(np.searchsorted(inner, ref, side="right"), minlength=inner.size + 1)
    c = np.bincount(np.searchsorted(inner, cur, side="right"), minlength=inner.size + 1)
    return r / r.sum(), c / c.sum()


def _psi(r: Any, c: Any) -> float:
    r, c = np.where(r == 0, PSI_EPSILON, r), np.where(c == 0, PSI_EPSILON, c)
    return float(sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c, strict=True)))


def _hellinger(r: Any, c: Any) -> float:
    return float(np.linalg.norm(np.sqrt(r) - np.sqrt(c)) / math.sqrt(2))


def _run(key: str, ref: Any, cur: Any, numeric: bool) -> tuple[float, float | None]:
    make = Sample.numeric if numeric else Sample.categorical
    result = get_test(key).run(make(ref), make(cur))
    return result.statistic, result.p_value


def test_ks_matches_scipy() -> None:
    expected = stats.ks_2samp(NUM_REF, NUM_CUR)
    statistic, p = _run("ks", NUM_REF, NUM_CUR, True)
    assert statistic == pytest.approx(expected.statistic, abs=TOL)
    assert p == pytest.approx(expected.pvalue, abs=TOL)


def test_chisquare_matches_scipy_contingency_over_all_labels() -> None:
    labels = sorted(set(CAT_REF) | set(CAT_CUR))
    table = [[np.sum(CAT_REF == x) for x in labels], [np.sum(CAT_CUR == x) for x in labels]]
    expected = stats.chi2_contingency(table, correction=False)
    statistic, p = _run("chisquare", CAT_REF, CAT_CUR, False)
    assert statistic == pytest.approx(expected.statistic, abs=TOL)
    assert p == pytest.approx(expected.pvalue, abs=TOL)


def test_ztest_matches_the_textbook_formula_and_chisquare() -> None:
    ref = RNG.random(800) < 0.3
    cur = RNG.random(500) < 0.38
    p1, p2 = ref.mean(), cur.mean()
    pooled = (ref.sum() + cur.sum()) / (ref.size + cur.size)
    z = (p2 - p1) / math.sqrt(pooled * (1 - pooled) * (1 / ref.size + 1 / cur.size))
    statistic, p = _run("ztest", ref, cur, False)
    assert statistic == pytest.approx(z, abs=TOL)
    assert p == pytest.approx(2 * stats.norm.sf(abs(z)), abs=TOL)
    chi2, chi2_p = _run("chisquare", ref, cur, False)  # z^2 is the 2x2 chi-squared
    assert chi2 == pytest.approx(z**2, abs=TOL) and chi2_p == pytest.approx(p, abs=TOL)


@pytest.mark.parametrize(("n", "m"), [(1, 1), (1, 7), (7, 13), (700, 450), (100, 1000)])
def test_wasserstein_matches_scipy(n: int, m: int) -> None:
    u, v = RNG.normal(0, 1, n), RNG.exponential(1, m)
    expected = stats.wasserstein_distance(u, v)
    assert wasserstein_sorted(np.sort(u), np.sort(v)) == pytest.approx(expected, abs=TOL)
    statistic, p = _run("wasserstein", u, v, True)
    if n > 1:
        assert statistic == pytest.approx(expected / np.std(u), abs=TOL)
    assert p is None


def test_wasserstein_with_ties() -> None:
    u, v = RNG.integers(0, 4, 50).astype(float), RNG.integers(1, 6, 31).astype(float)
    expected = stats.wasserstein_distance(u, v) / np.std(u)
    assert _run("wasserstein", u, v, True)[0] == pytest.approx(expected, abs=TOL)


@pytest.mark.parametrize(
    ("key", "formula"),
    [
        ("jensenshannon", lambda r, c: distance.jensenshannon(r, c)),
        ("psi", _psi),
        ("hellinger", _hellinger),
    ],
)
def test_binned_distances_match_their_formulas(key: str, formula: Any) -> None:
    r, c = _shares(CAT_REF, CAT_CUR)  # "e" is new: an empty reference share
    assert _run(key, CAT_REF, CAT_CUR, False)[0] == pytest.approx(formula(r, c), abs=TOL)
    r, c = _decile_shares(NUM_REF, NUM_CUR)
    assert _run(key, NUM_REF, NUM_CUR, True)[0] == pytest.approx(formula(r, c), abs=TOL)


def test_psi_uses_the_documented_epsilon_for_an_empty_bin() -> None:
    ref = np.array(["a"] * 50 + ["b"] * 50)
    cur = np.array(["a"] * 100)
    expected = (1 - 0.5) * math.log(1 / 0.5) + (PSI_EPSILON - 0.5) * math.log(PSI_EPSILON / 0.5)
    assert _run("psi", ref, cur, False)[0] == pytest.approx(expected, abs=TOL)


# The contract every registered test meets.


def _numeric(test: DriftTest) -> bool:
    return test.kinds == {"numeric"}


def _samples(test: DriftTest, ref: Any, cur: Any) -> tuple[Sample, Sample]:
    if _numeric(test):
        return Sample.numeric(ref), Sample.numeric(cur)
    return Sample.categorical(ref), Sample.categorical(cur)


def _data(test: DriftTest, shift: bool, size: int = 2000) -> Any:
    rng = np.random.default_rng(11)
    if test.key == "ztest":
        return rng.random(size) < (0.6 if shift else 0.3)
    if _numeric(test):
        return rng.normal(2.0 if shift else 0.0, 1, size)
    return rng.choice(list("abc"), size, p=[0.8, 0.1, 0.1] if shift else [0.2, 0.4, 0.4])


@pytest.fixture(params=registered_tests())
def test(request: pytest.FixtureRequest) -> DriftTest:
    return get_test(request.param)


def test_every_test_declares_its_contract(test: DriftTest) -> None:
    assert test.key and test.name
    assert test.kinds and test.kinds <= {"numeric", "categorical"}
    assert test.threshold_kind in ("p_value", "distance")
    assert 0 < test.default_threshold < 1


def test_identical_samples_do_not_drift(test: DriftTest) -> None:
    data = _data(test, shift=False)
    result = test.run(*_samples(test, data, data))
    assert not result.drift_detected
    if test.threshold_kind == "distance":
        assert result.statistic == pytest.approx(0, abs=TOL) and result.p_value is None
    else:
        assert result.p_value == pytest.approx(1, abs=TOL)


def test_a_strong_shift_drifts(test: DriftTest) -> None:
    result = test.run(*_samples(test, _data(test, False), _data(test, True)))
    assert result.drift_detected
    assert result.threshold == test.default_threshold
    if test.threshold_kind == "p_value":
        assert result.p_value is not None and result.p_value < 1e-6
    else:
        assert result.statistic >= test.default_threshold


def test_a_threshold_overrides_the_default(test: DriftTest) -> None:
    ref, cur = _samples(test, _data(test, False), _data(test, True))
    strict = 0.0 if test.threshold_kind == "p_value" else 1e6
    result = test.run(ref, cur, threshold=strict)
    assert not result.drift_detected and result.threshold == strict


def test_results_are_deterministic(test: DriftTest) -> None:
    ref, cur = _data(test, False), _data(test, True)[:777]
    assert test.run(*_samples(test, ref, cur)) == test.run(*_samples(test, ref, cur))


def test_an_empty_side_is_a_clear_error(test: DriftTest) -> None:
    data = _data(test, False)
    empty = np.array([np.nan, np.nan]) if _numeric(test) else np.array([None, None])
    for ref, cur in ((data, empty), (empty, data)):
        with pytest.raises(InvalidInputError, match="no non-missing values"):
            test.run(*_samples(test, ref, cur))


def test_missing_values_are_left_out(test: DriftTest) -> None:
    data = _data(test, False)
    holed = np.array(data, dtype=object)
    holed[::7] = None
    ref, cur = _samples(test, data, holed)
    assert cur.missing == len(range(0, data.size, 7))
    clean = np.array([x for x in holed if x is not None])
    expected = test.run(*_samples(test, data, clean))
    assert test.run(ref, cur) == expected


def test_constant_samples_have_a_defined_result(test: DriftTest) -> None:
    one = np.ones(50) if _numeric(test) else np.array(["x"] * 50)
    result = test.run(*_samples(test, one, one))
    assert not result.drift_detected and math.isfinite(result.statistic)
    other = np.full(50, 2.0) if _numeric(test) else np.array(["y"] * 50)
    moved = test.run(*_samples(test, one, other))
    assert moved.drift_detected


def test_a_test_refuses_the_kind_of_column_it_does_not_suit() -> None:
    numbers = (Sample.numeric([1.0, 2.0]), Sample.numeric([1.0]))
    labels = (Sample.categorical(["a", "b"]), Sample.categorical(["a"]))
    refused = 0
    for key in registered_tests():
        test = get_test(key)
        for kind, samples in (("numeric", numbers), ("categorical", labels)):
            if kind not in test.kinds:
                refused += 1
                with pytest.raises(InvalidInputError, match="choose a test"):
                    test.run(*samples)
    assert refused == 2  # ks and wasserstein take numbers only


def test_unknown_keys_name_the_registered_ones() -> None:
    with pytest.raises(InvalidInputError, match="ks"):
        get_test("nope")
    assert registered_tests() == sorted(
        ["chisquare", "hellinger", "jensenshannon", "ks", "psi", "wasserstein", "ztest"]
    )
