"""Drift tests: one small interface, implementations registered by key.

A :class:`DriftTest` compares a reference :class:`Sample` with a current one and returns
a statistic, a p-value where the test has one, and a decision against a threshold whose
meaning the test declares: ``"p_value"`` tests detect drift when ``p_value < threshold``,
``"distance"`` tests when ``statistic >= threshold``.

Registered tests (key: columns it suits, threshold kind and default; what it matches):

- ``ks``: numeric; p-value < 0.05; :func:`scipy.stats.ks_2samp` (``method="auto"``).
- ``chisquare``: categorical; p-value < 0.05; :func:`scipy.stats.chi2_contingency` on the
  2 x k table of counts, ``correction=False``.
- ``ztest``: categorical with at most 2 labels; p-value < 0.05; the two-proportion
  z-test with a pooled standard error, on the share of the larger label (``True``).
- ``wasserstein``: numeric; distance >= 0.1; :func:`scipy.stats.wasserstein_distance`
  divided by the reference's standard deviation (``np.std``, ddof 0).
- ``jensenshannon``: categorical or numeric; distance >= 0.1;
  :func:`scipy.spatial.distance.jensenshannon` of the shares (natural logarithm).
- ``psi``: categorical or numeric; distance >= 0.1; ``sum (c_i - r_i) ln(c_i / r_i)``
  over the shares, an empty share replaced by :data:`PSI_EPSILON` (1e-4).
- ``hellinger``: categorical or numeric; distance >= 0.1;
  ``sqrt(1 - sum sqrt(r_i c_i))``.

Categorical tests compare the shares of every label seen in either sample. On a numeric
column the binned tests (``jensenshannon``, ``psi``, ``hellinger``) use ``bins`` bins
(default 10) between the reference's quantiles at ``0, 1/bins, …, 1``; a current value
outside the reference's range falls in the first or last bin. ``chisquare`` and ``ztest``
on a numeric column count each distinct value as a category.

To add a test, subclass :class:`DriftTest` in this module and decorate it with
:func:`register`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from scipy import stats
from scipy.spatial import distance

from shipyard.errors import InvalidInputError
from shipyard.stats._columns import FloatArray
from shipyard.stats._drift_samples import (
    Sample,
    SampleKind,
    aligned_counts,
    quantile_bin_counts,
    release_cache,
    wasserstein_sorted,
)

__all__ = [
    "PSI_EPSILON",
    "DriftResult",
    "DriftTest",
    "Outcome",
    "Sample",
    "SampleKind",
    "ThresholdKind",
    "aligned_counts",
    "get_test",
    "quantile_bin_counts",
    "register",
    "registered_tests",
    "release_cache",
    "wasserstein_sorted",
]

ThresholdKind = Literal["p_value", "distance"]

#: Share that replaces an empty bin's share in PSI (as Evidently does), so ln(c / r) is finite.
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class Outcome:
    """What a test computed: its statistic and p-value (``None`` for distances)."""

    statistic: float
    p_value: float | None


@dataclass(frozen=True)
class DriftResult:
    """A test's outcome and decision."""

    test: str
    statistic: float
    p_value: float | None
    threshold: float
    threshold_kind: ThresholdKind
    drift_detected: bool


class DriftTest(ABC):
    """A two-sample drift test. Subclasses set the class attributes and :meth:`compute`."""

    key: ClassVar[str]
    """Registry key, e.g. ``"ks"``."""
    name: ClassVar[str]
    kinds: ClassVar[frozenset[SampleKind]]
    """Sample kinds the test accepts."""
    threshold_kind: ClassVar[ThresholdKind]
    """``"p_value"``: drift when ``p_value < threshold``; ``"distance"``: when
    ``statistic >= threshold``."""
    default_threshold: ClassVar[float]

    def __init__(self, bins: int = 10) -> None:
        if bins < 2:
            raise InvalidInputError(f"bins must be at least 2; got {bins}")
        self.bins = bins

    @abstractmethod
    def compute(self, reference: Sample, current: Sample) -> Outcome:
        """The statistic (and p-value) of two checked, non-empty samples."""

    def check(self, reference: Sample, current: Sample) -> None:
        for side, sample in (("reference", reference), ("current", current)):
            if sample.kind not in self.kinds:
                raise InvalidInputError(
                    f"the {self.key} test takes {' or '.join(sorted(self.kinds))} values, "
                    f"not {sample.kind} ones; choose a test for {sample.kind} columns"
                )
            if sample.size == 0:
                raise InvalidInputError(
                    f"the {side} sample has no non-missing values; the {self.key} test "
                    "needs at least one on each side"
                )

    def outcome(self, reference: Sample, current: Sample) -> Outcome:
        """Check both samples, then compute."""
        self.check(reference, current)
        return self.compute(reference, current)

    def detects(self, outcome: Outcome, threshold: float | None = None) -> bool:
        limit = self.default_threshold if threshold is None else threshold
        if self.threshold_kind == "p_value":
            return outcome.p_value is not None and outcome.p_value < limit
        return outcome.statistic >= limit

    def run(
        self, reference: Sample, current: Sample, threshold: float | None = None
    ) -> DriftResult:
        """Statistic, p-value and decision of ``current`` against ``reference``."""
        outcome = self.outcome(reference, current)
        limit = self.default_threshold if threshold is None else threshold
        return DriftResult(
            test=self.key,
            statistic=outcome.statistic,
            p_value=outcome.p_value,
            threshold=limit,
            threshold_kind=self.threshold_kind,
            drift_detected=self.detects(outcome, limit),
        )


_REGISTRY: dict[str, type[DriftTest]] = {}


def register(cls: type[DriftTest]) -> type[DriftTest]:
    """Class decorator: make a test available under its ``key``."""
    if cls.key in _REGISTRY:
        raise ValueError(f"a drift test {cls.key!r} is already registered")
    _REGISTRY[cls.key] = cls
    return cls


def registered_tests() -> list[str]:
    """Keys of every registered test, sorted."""
    return sorted(_REGISTRY)


def get_test(key: str, **options: Any) -> DriftTest:
    """A new instance of the test registered as ``key``."""
    try:
        cls = _REGISTRY[key]
    except KeyError:
        raise InvalidInputError(
            f"unknown drift test {key!r}; choose one of {', '.join(registered_tests())}"
        ) from None
    return cls(**options)


def _binned(test: DriftTest, reference: Sample, current: Sample) -> tuple[FloatArray, FloatArray]:
    """Shares of both samples: by label, or on reference-quantile bins for numbers."""
    if reference.values is not None and current.values is not None:
        r, c = quantile_bin_counts(reference.values, current.values, test.bins)
    else:
        _, r, c = aligned_counts(reference, current)
    return r / r.sum(), c / c.sum()


@register
class KolmogorovSmirnov(DriftTest):
    key = "ks"
    name = "Kolmogorov-Smirnov"
    kinds = frozenset({"numeric"})
    threshold_kind = "p_value"
    default_threshold = 0.05

    def compute(self, reference: Sample, current: Sample) -> Outcome:
        result = stats.ks_2samp(reference.values, current.values)
        return Outcome(float(result.statistic), float(result.pvalue))


@register
class ChiSquared(DriftTest):
    key = "chisquare"
    name = "chi-squared"
    kinds = frozenset({"categorical", "numeric"})
    threshold_kind = "p_value"
    default_threshold = 0.05

    def compute(self, reference: Sample, current: Sample) -> Outcome:
        _, r, c = aligned_counts(reference, current)
        if r.size < 2:  # one category on both sides: nothing can differ
            return Outcome(0.0, 1.0)
        result = stats.chi2_contingency(np.vstack((r, c)), correction=False)
        return Outcome(float(result.statistic), float(result.pvalue))


@register
class TwoProportionZ(DriftTest):
    key = "ztest"
    name = "two-proportion z-test"
    kinds = frozenset({"categorical", "numeric"})
    threshold_kind = "p_value"
    default_threshold = 0.05

    def compute(self, reference: Sample, current: Sample) -> Outcome:
        labels, r, c = aligned_counts(reference, current)
        if len(labels) > 2:
            raise InvalidInputError(
                f"the ztest compares two categories, got {len(labels)}; use chisquare"
            )
        if len(labels) < 2:
            return Outcome(0.0, 1.0)
        # the share of the second label (True for booleans, the larger label otherwise)
        n_r, n_c = r.sum(), c.sum()
        p_r, p_c = r[1] / n_r, c[1] / n_c
        pooled = (r[1] + c[1]) / (n_r + n_c)
        se = math.sqrt(pooled * (1 - pooled) * (1 / n_r + 1 / n_c))
        if se == 0:
            return Outcome(0.0, 1.0)
        z = float((p_c - p_r) / se)
        return Outcome(z, float(2 * stats.norm.sf(abs(z))))


@register
class NormedWasserstein(DriftTest):
    key = "wasserstein"
    name = "Wasserstein distance (normed)"
    kinds = frozenset({"numeric"})
    threshold_kind = "distance"
    default_threshold = 0.1

    def compute(self, reference: Sample, current: Sample) -> Outcome:
        assert reference.values is not None and current.values is not None
        w = wasserstein_sorted(reference.values, current.values)
        std = float(np.std(reference.values))
        if std == 0:  # a constant reference: any movement is infinitely many stds
            return Outcome(0.0 if w == 0 else math.inf, None)
        return Outcome(w / std, None)


class _SharesDistance(DriftTest):
    kinds = frozenset({"categorical", "numeric"})
    threshold_kind = "distance"
    default_threshold = 0.1

    @staticmethod
    @abstractmethod
    def formula(r: FloatArray, c: FloatArray) -> float:
        """The distance between two share vectors."""

    def compute(self, reference: Sample, current: Sample) -> Outcome:
        r, c = _binned(self, reference, current)
        return Outcome(self.formula(r, c), None)


def _jensen_shannon(r: FloatArray, c: FloatArray) -> float:
    return float(distance.jensenshannon(r, c))


def _psi(r: FloatArray, c: FloatArray) -> float:
    r = np.where(r == 0, PSI_EPSILON, r)
    c = np.where(c == 0, PSI_EPSILON, c)
    return float(np.sum((c - r) * np.log(c / r)))


def _hellinger(r: FloatArray, c: FloatArray) -> float:
    return math.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(r * c)))))


@register
class JensenShannon(_SharesDistance):
    key = "jensenshannon"
    name = "Jensen-Shannon distance"
    formula = staticmethod(_jensen_shannon)


@register
class PopulationStability(_SharesDistance):
    key = "psi"
    name = "population stability index"
    formula = staticmethod(_psi)


@register
class Hellinger(_SharesDistance):
    key = "hellinger"
    name = "Hellinger distance"
    formula = staticmethod(_hellinger)
