"""A/B comparisons of two variants: is the difference real, and if not, how many more
samples would show it? Pure numpy/scipy, no I/O.

- Rates (conversion, accuracy, error rate): the two-proportion z-test with a pooled
  standard error, and a Wald confidence interval for the difference.
- Means (latency, an error metric): Welch's t-test (unequal variances), with its
  Welch–Satterthwaite degrees of freedom and confidence interval.

A comparison declares a winner only when the difference is significant at ``alpha``;
otherwise it estimates the samples per variant a test of the same ``alpha`` and
``power`` would need to detect the observed difference, and how many more that is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

Better = Literal["higher", "lower"]


@dataclass(frozen=True)
class Comparison:
    """Variant B against variant A on one metric."""

    test: str
    a: float
    """A's rate or mean."""
    b: float
    n_a: int
    n_b: int
    difference: float
    """``b - a``."""
    ci_low: float
    ci_high: float
    """Confidence interval of the difference at ``1 - alpha``."""
    statistic: float
    p_value: float
    alpha: float
    significant: bool
    winner: Literal["a", "b"] | None
    """The better variant when significant (by ``better``), else ``None``."""
    needed_per_variant: int | None
    """Samples per variant to detect the observed difference at ``alpha`` and ``power``
    (``None`` when significant, or when there is no difference to detect)."""
    more_needed: int | None
    """How many more than the smaller variant has now."""


def _comparison(
    test: str,
    values: tuple[float, float],
    sizes: tuple[int, int],
    statistic: float,
    p_value: float,
    half_width: float,
    alpha: float,
    better: Better,
    needed: int | None,
) -> Comparison:
    difference = values[1] - values[0]
    significant = p_value < alpha
    winner: Literal["a", "b"] | None = None
    if significant and difference != 0:
        b_is_better = difference > 0 if better == "higher" else difference < 0
        winner = "b" if b_is_better else "a"
    return Comparison(
        test=test,
        a=values[0],
        b=values[1],
        n_a=sizes[0],
        n_b=sizes[1],
        difference=difference,
        ci_low=difference - half_width,
        ci_high=difference + half_width,
        statistic=statistic,
        p_value=p_value,
        alpha=alpha,
        significant=significant,
        winner=winner,
        needed_per_variant=needed,
        more_needed=None if needed is None else max(needed - min(sizes), 0),
    )


def _check(alpha: float, power: float) -> None:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError("alpha and power must be between 0 and 1")


def compare_rates(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    better: Better = "higher",
) -> Comparison:
    """Two-proportion z-test of B's rate against A's."""
    _check(alpha, power)
    if n_a < 1 or n_b < 1 or not 0 <= successes_a <= n_a or not 0 <= successes_b <= n_b:
        raise ValueError("each variant needs at least one trial and 0 <= successes <= trials")
    p_a, p_b = successes_a / n_a, successes_b / n_b
    difference = p_b - p_a
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se_pooled == 0:
        z, p_value = 0.0, 1.0
    else:
        z = difference / se_pooled
        p_value = float(2 * stats.norm.sf(abs(z)))
    se = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    z_crit = float(stats.norm.isf(alpha / 2))
    significant = p_value < alpha
    needed = None
    if not significant and difference != 0:
        z_power = float(stats.norm.isf(1 - power))
        mean = (p_a + p_b) / 2
        numerator = z_crit * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(
            p_a * (1 - p_a) + p_b * (1 - p_b)
        )
        needed = math.ceil((numerator / difference) ** 2)
    return _comparison(
        "two-proportion z-test",
        (p_a, p_b),
        (n_a, n_b),
        z,
        p_value,
        z_crit * se,
        alpha,
        better,
        needed,
    )


def compare_means(
    a: np.ndarray | list[float],
    b: np.ndarray | list[float],
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    better: Better = "higher",
) -> Comparison:
    """Welch's t-test of B's mean against A's."""
    _check(alpha, power)
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(x) < 2 or len(y) < 2:
        raise ValueError("each variant needs at least two values")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("values must be finite")
    mean_a, mean_b = float(x.mean()), float(y.mean())
    var_a, var_b = float(x.var(ddof=1)), float(y.var(ddof=1))
    difference = mean_b - mean_a
    se2 = var_a / len(x) + var_b / len(y)
    se = math.sqrt(se2)
    if se == 0:
        t, p_value, dof = 0.0, 1.0, float(len(x) + len(y) - 2)
    else:
        t = difference / se
        dof = se2**2 / ((var_a / len(x)) ** 2 / (len(x) - 1) + (var_b / len(y)) ** 2 / (len(y) - 1))
        p_value = float(2 * stats.t.sf(abs(t), dof))
    t_crit = float(stats.t.isf(alpha / 2, dof))
    significant = p_value < alpha
    needed = None
    if not significant and difference != 0:
        z = float(stats.norm.isf(alpha / 2) + stats.norm.isf(1 - power))
        needed = math.ceil(z**2 * (var_a + var_b) / difference**2)
    return _comparison(
        "Welch's t-test",
        (mean_a, mean_b),
        (len(x), len(y)),
        t,
        p_value,
        t_crit * se,
        alpha,
        better,
        needed,
    )
