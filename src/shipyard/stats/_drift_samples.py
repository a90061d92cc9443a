"""Samples as drift tests take them, and the sorted-data Wasserstein distance."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from shipyard.errors import InvalidInputError
from shipyard.stats._columns import FloatArray, IntArray, Values, as_series, label_counts

SampleKind = Literal["numeric", "categorical"]


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
