"""A/B comparisons match scipy on the same numbers, declare winners only when
significant, and say how many more samples a real difference needs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from shipyard.stats.ab import compare_means, compare_rates


@pytest.mark.parametrize(
    ("sa", "na", "sb", "nb"), [(120, 1000, 150, 1000), (30, 400, 31, 410), (5, 50, 0, 60)]
)
def test_rates_match_the_chi_squared_test_and_the_textbook_interval(
    sa: int, na: int, sb: int, nb: int
) -> None:
    result = compare_rates(sa, na, sb, nb)
    table = np.array([[sa, na - sa], [sb, nb - sb]])
    chi2, p_value, _, _ = stats.chi2_contingency(table, correction=False)
    assert math.isclose(result.p_value, p_value, rel_tol=1e-9, abs_tol=1e-12)
    assert math.isclose(result.statistic**2, chi2, rel_tol=1e-9)  # z squared is chi squared
    pa, pb = sa / na, sb / nb
    half = stats.norm.isf(0.025) * math.sqrt(pa * (1 - pa) / na + pb * (1 - pb) / nb)
    assert math.isclose(result.ci_low, pb - pa - half, abs_tol=1e-12)
    assert math.isclose(result.ci_high, pb - pa + half, abs_tol=1e-12)


def test_means_match_scipys_welch_test_and_its_interval() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(10, 2, 300), rng.normal(10.6, 3, 250)
    result = compare_means(a, b)
    scipy_result = stats.ttest_ind(b, a, equal_var=False)
    assert math.isclose(result.statistic, scipy_result.statistic, rel_tol=1e-9)
    assert math.isclose(result.p_value, scipy_result.pvalue, rel_tol=1e-9)
    low, high = scipy_result.confidence_interval(0.95)
    assert math.isclose(result.ci_low, low, rel_tol=1e-9)
    assert math.isclose(result.ci_high, high, rel_tol=1e-9)


def test_a_winner_is_declared_only_when_significant() -> None:
    clear = compare_rates(100, 1000, 160, 1000)
    assert clear.significant and clear.winner == "b" and clear.needed_per_variant is None
    errors = compare_rates(100, 1000, 160, 1000, better="lower")
    assert errors.winner == "a"  # B errs more: A wins
    unclear = compare_rates(100, 1000, 110, 1000)
    assert not unclear.significant and unclear.winner is None
    assert unclear.needed_per_variant is not None and unclear.needed_per_variant > 1000
    assert unclear.more_needed == unclear.needed_per_variant - 1000
    rng = np.random.default_rng(1)
    latency = compare_means(rng.normal(50, 5, 40), rng.normal(51, 5, 40), better="lower")
    assert not latency.significant and latency.winner is None
    assert latency.more_needed is not None and latency.more_needed > 0


def test_the_sample_size_estimate_delivers_the_power_it_promises() -> None:
    p_a, p_b = 0.10, 0.12
    planned = compare_rates(100, 1000, 120, 1000).needed_per_variant
    assert planned is not None
    rng = np.random.default_rng(2)
    hits = sum(
        compare_rates(
            int(rng.binomial(planned, p_a)), planned, int(rng.binomial(planned, p_b)), planned
        ).significant
        for _ in range(400)
    )
    assert 0.74 <= hits / 400 <= 0.86  # 80% power, within sampling error


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one trial"):
        compare_rates(1, 0, 1, 10)
    with pytest.raises(ValueError, match="successes <= trials"):
        compare_rates(11, 10, 1, 10)
    with pytest.raises(ValueError, match="at least two values"):
        compare_means([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        compare_means([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(ValueError, match="alpha and power"):
        compare_rates(1, 10, 1, 10, alpha=1.5)
