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

import functools
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from scipy import stats
from scipy.spatial import distance

from shipyard.errors import InvalidInputError
from shipyard.stats._columns import FloatArray, IntArray, Values, as_series, label_counts

SampleKind = Literal["numeric", "categorical"]
ThresholdKind = Literal["p_value", "distance"]

#: Share that replaces an empty bin's share in PSI (as Evidently does), so ln(c / r) is finite.
PSI_EPSILON = 1e-4


@dataclass(frozen=True, eq=False)
class Sample:
    """One side of a comparison, prepared once and shared by every test.

    A numeric sample holds its finite values sorted ascending (``values``); a categorical
    one its distinct labels and their counts. ``missing`` counts the values left out
    (missing, and for numbers also ±infinity).
    """

    values: FloatArray | None = None
    labels: npt.NDArray[np.object_] | None = None
    counts: IntArray | None = None
    missing: int = 0

    @classmethod
    def numeric(cls, values: npt.ArrayLike) -> Sample:
        """Finite values of ``values`` (sorted); NaN and ±infinity are counted as missing."""
        try:
            array = np.asarray(values, dtype=np.float64).ravel()
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"expected numbers ({exc})") from exc
        finite = np.isfinite(array)
        kept = array[finite] if not finite.all() else array.copy()
        kept.sort()
        return cls(values=kept, missing=int(array.size - kept.size))

    @classmethod
    def categorical(cls, values: Values) -> Sample:
        """Counts of the labels (``str(value)``) of the non-missing values."""
        series = as_series(values, "value")
        labels, counts = label_counts(series)
        return cls(labels=labels, counts=counts, missing=int(series.isna().sum()))

    @classmethod
    def from_counts(cls, labels: npt.ArrayLike, counts: npt.ArrayLike, missing: int = 0) -> Sample:
        return cls(
            labels=np.asarray(labels, dtype=object),
            counts=np.asarray(counts, dtype=np.int64),
            missing=missing,
        )

    @property
    def kind(self) -> SampleKind:
        return "numeric" if self.values is not None else "categorical"

    @property
    def size(self) -> int:
        """Number of values compared (missing ones excluded)."""
        if self.values is not None:
            return int(self.values.size)
        assert self.counts is not None
        return int(self.counts.sum())

    def distinct(self) -> int:
        if self.values is not None:
            v = self.values
            return int(np.count_nonzero(v[1:] != v[:-1])) + 1 if v.size else 0
        assert self.counts is not None
        return int(np.count_nonzero(self.counts))

    def as_counts(self) -> Sample:
        """This sample counted by distinct value (labels ``repr(float)`` for numbers)."""
        if self.values is None:
            return self
        v = self.values
        starts = np.flatnonzero(np.concatenate(([True], v[1:] != v[:-1]))) if v.size else v
        starts = starts.astype(np.int64)
        counts = np.diff(np.concatenate((starts, [v.size])))
        labels = [repr(float(x)) for x in v[starts]]
        return Sample.from_counts(labels, counts, self.missing)


def aligned_counts(reference: Sample, current: Sample) -> tuple[list[str], FloatArray, FloatArray]:
    """Counts of both samples over every label seen in either, labels sorted."""
    ref, cur = reference.as_counts(), current.as_counts()
    assert ref.labels is not None and ref.counts is not None
    assert cur.labels is not None and cur.counts is not None
    labels = sorted(set(ref.labels.tolist()) | set(cur.labels.tolist()))
    position = {label: i for i, label in enumerate(labels)}
    out = np.zeros((2, len(labels)), dtype=np.float64)
    for row, sample in enumerate((ref, cur)):
        assert sample.labels is not None and sample.counts is not None
        index = np.fromiter((position[x] for x in sample.labels.tolist()), np.int64)
        np.add.at(out[row], index, sample.counts)
    return labels, out[0], out[1]


def quantile_bin_counts(
    reference: FloatArray, current: FloatArray, bins: int
) -> tuple[FloatArray, FloatArray]:
    """Counts of two sorted arrays in bins between the reference's quantiles.

    Bin ``i`` holds ``inner[i - 1] <= x < inner[i]`` where ``inner`` are the distinct
    inner quantiles; the first and last bins are open-ended.
    """
    levels = np.linspace(0.0, 1.0, bins + 1)[1:-1]
    inner = np.unique(np.quantile(reference, levels)) if levels.size else np.empty(0)

    def count(sorted_values: FloatArray) -> FloatArray:
        cuts = np.searchsorted(sorted_values, inner, side="left")
        return np.diff(np.concatenate(([0], cuts, [sorted_values.size]))).astype(np.float64)

    return count(reference), count(current)


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


def wasserstein_sorted(u: FloatArray, v: FloatArray) -> float:
    """W1 between the empirical distributions of two sorted arrays.

    ``W1 = integral over t in (0, 1] of |U^-1(t) - V^-1(t)| dt``: the quantile functions
    are step functions that change at ``i / n`` and ``j / m``, so the integral is a sum
    over the merged breakpoints (kept as integers ``i * m`` and ``j * n``). The grid
    depends only on the two sizes and is reused across columns.
    """
    iu, iv, dt = _quantile_grid(u.size, v.size)
    return float(np.dot(np.abs(u[iu] - v[iv]), dt))


@functools.lru_cache(maxsize=2)
def _quantile_grid(n: int, m: int) -> tuple[npt.NDArray[Any], npt.NDArray[Any], FloatArray]:
    """Indices into both sorted arrays and the width of each step of the merged grid.

    Cached for the last two sizes (every complete column of a table has the same);
    :func:`release_cache` frees them.
    """
    keys = np.concatenate(
        (np.arange(1, n + 1, dtype=np.int64) * m, np.arange(1, m + 1, dtype=np.int64) * n)
    )
    keys.sort(kind="stable")  # two sorted runs: a linear merge
    dt = np.diff(keys, prepend=0).astype(np.float64) / (float(n) * float(m))
    index = np.int32 if max(n, m) < 2**31 else np.int64
    iu = ((keys + (m - 1)) // m - 1).astype(index)
    iv = ((keys + (n - 1)) // n - 1).astype(index)
    return iu, iv, dt


def release_cache() -> None:
    """Free the cached Wasserstein grids."""
    _quantile_grid.cache_clear()


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
