"""Reference profiles: the compact statistics of a version's training data.

A :class:`DatasetProfile` is computed once at registration, stored as JSON with the
version (``model_dump(mode="json")`` / ``model_validate``) and is the baseline that drift
tests and data-quality checks compare current data against. Every number is a plain
Python ``int`` or ``float``; NaN and infinity are never stored (JSON has neither), a
statistic that is undefined (the standard deviation of one value, the minimum of an
all-missing column) is ``None``. The same data gives the same profile, byte for byte.

Columns are profiled by kind:

``numeric``
    integer and float columns (also nullable ``Int64``/``Float64`` and object columns of
    numbers). Missing means NaN or NA; ±infinity is counted in ``infinite`` and left out
    of min, max, mean, std, quantiles and histogram.
``categorical``
    strings, pandas categoricals and anything else, counted by label (``str(value)``).
``boolean``
    ``bool`` and nullable ``boolean`` columns, counted like categories ``"False"``/``"True"``.
``datetime``
    ``datetime64`` columns (time-zone aware ones in UTC), histogrammed over epoch seconds.

Large integers (beyond 2**53) are profiled as float64 and lose precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict

from shipyard.errors import InvalidInputError
from shipyard.stats._columns import (
    QUANTILE_LEVELS,
    FloatArray,
    IntArray,
    ProfileKind,
    Values,
    as_series,
    datetime_stats,
    epoch_seconds,
    float_values,
    label_counts,
    numeric_stats,
    profile_kind,
    quantile_key,
    top_categories,
)


class Histogram(BaseModel):
    """Counts of values in consecutive bins.

    Bin ``i`` holds the values ``x`` with ``edges[i] <= x < edges[i + 1]``; the last bin
    also holds ``edges[-1]`` (the convention of :func:`numpy.histogram`). Continuous
    histograms have equal-width bins between the finite minimum and maximum (widened by
    0.5 either side when they are equal). Discrete histograms (``values`` set) have one bin
    per distinct value of an integer column; their edges are the midpoints between
    consecutive values, padded by 0.5 at both ends, so counts are exact.
    """

    model_config = ConfigDict(frozen=True)

    edges: list[float]
    """Bin edges, increasing; one more than ``counts``."""
    counts: list[int]
    values: list[float] | None = None
    """For a discrete histogram, the value each bin counts."""

    def probabilities(self) -> FloatArray:
        """Counts normalised to sum to 1: ``p_i = n_i / sum_j n_j``."""
        counts = np.asarray(self.counts, dtype=np.float64)
        total = counts.sum()
        return counts / total if total > 0 else counts

    def bin_counts(self, values: npt.ArrayLike) -> IntArray:
        """Count ``values`` in this histogram's bins.

        Values below the first edge go to the first bin and values above the last edge
        to the last bin, so every finite value is counted; NaN and ±infinity are dropped
        (missing and infinite values are tracked separately). A value halfway between two
        discrete values goes to the upper one.
        """
        array = np.asarray(values, dtype=np.float64).ravel()
        array = array[np.isfinite(array)]
        inner = np.asarray(self.edges[1:-1], dtype=np.float64)
        index = np.searchsorted(inner, array, side="right")
        return np.bincount(index, minlength=len(self.counts)).astype(np.int64)


class ColumnProfile(BaseModel):
    """Statistics of one column; fields that do not apply to its ``kind`` are ``None``."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: ProfileKind
    dtype: str
    """The pandas dtype of the profiled column (``float64``, ``Int64``, ``str`` …)."""
    count: int
    """Non-missing values (including infinite ones)."""
    missing: int
    missing_rate: float | None
    """``missing / (count + missing)``; ``None`` for an empty column."""
    distinct: int
    """Distinct non-missing values."""
    # numeric: min, max, mean and std (ddof=1, None below two values) of the finite values
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    std: float | None = None
    infinite: int | None = None
    """Count of ±infinity (numeric)."""
    zeros: int | None = None
    quantiles: dict[str, float] | None = None
    """Quantiles of the finite values at :data:`QUANTILE_LEVELS`, keyed by
    :func:`quantile_key` (numeric)."""
    histogram: Histogram | None = None
    """Histogram of the finite values (numeric) or of epoch seconds (datetime)."""
    categories: dict[str, int] | None = None
    """Counts of the most frequent labels, most frequent first, ties by label
    (categorical, boolean)."""
    other: int | None = None
    """Count of the values whose label is not listed in ``categories``."""
    earliest: str | None = None
    """ISO 8601 of the minimum (datetime); ``latest`` is the maximum."""
    latest: str | None = None

    def quantile(self, level: float) -> float | None:
        """The stored quantile at ``level`` (one of :data:`QUANTILE_LEVELS`)."""
        if self.quantiles is None:
            return None
        try:
            return self.quantiles[quantile_key(level)]
        except KeyError:
            raise InvalidInputError(
                f"no quantile at {level}; stored levels are "
                f"{', '.join(map(quantile_key, QUANTILE_LEVELS))}"
            ) from None

    def _require_histogram(self) -> Histogram:
        if self.histogram is None:
            raise InvalidInputError(
                f"column {self.name!r} ({self.kind}) has no histogram: only numeric and "
                "datetime columns with at least one finite reference value have one"
            )
        return self.histogram

    def _require_categories(self) -> dict[str, int]:
        if self.categories is None:
            raise InvalidInputError(
                f"column {self.name!r} ({self.kind}) has no category counts: only "
                "categorical and boolean columns have them"
            )
        return self.categories

    def histogram_probabilities(self) -> FloatArray:
        """Reference histogram normalised to sum to 1."""
        return self._require_histogram().probabilities()

    def bin_counts(self, values: Values) -> IntArray:
        """Count current ``values`` on the reference bins (see :meth:`Histogram.bin_counts`);
        datetimes are converted to epoch seconds first."""
        histogram = self._require_histogram()
        series = as_series(values, self.name)
        if self.kind == "datetime":
            try:
                stamps = pd.to_datetime(series)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"column {self.name!r}: expected datetimes ({exc})"
                ) from exc
            return histogram.bin_counts(epoch_seconds(stamps))
        return histogram.bin_counts(float_values(series))

    def category_probabilities(self) -> FloatArray:
        """Reference shares of the listed categories, in order, then of all other values
        as the last element (length ``len(categories) + 1``)."""
        counts = np.asarray([*self._require_categories().values(), self.other or 0], float)
        total = counts.sum()
        return counts / total if total > 0 else counts

    def category_counts(self, values: Values) -> IntArray:
        """Count current ``values`` in the layout of :meth:`category_probabilities`: one
        element per listed category, then everything else (values unseen in the reference
        included). Missing values are dropped."""
        listed = self._require_categories()
        labels, counts = label_counts(as_series(values, self.name))
        position = {label: i for i, label in enumerate(listed)}
        out = np.zeros(len(listed) + 1, dtype=np.int64)
        for label, n in zip(labels.tolist(), counts.tolist(), strict=True):
            out[position.get(label, len(listed))] += n
        return out


class DatasetProfile(BaseModel):
    """The reference profile of a data set: row count and one profile per column."""

    model_config = ConfigDict(frozen=True)

    profile_format: int = 1
    """Version of this JSON layout."""
    rows: int
    columns: dict[str, ColumnProfile]
    """Column profiles by name, in the column order of the data."""
    bins: int
    """Number of bins of continuous histograms."""
    max_categories: int
    """At most this many categories are listed per column."""
    created_from: str | None = None
    """Free text saying what was profiled (e.g. ``"training data"``)."""

    def column(self, name: str) -> ColumnProfile:
        """The profile of column ``name``."""
        try:
            return self.columns[name]
        except KeyError:
            raise InvalidInputError(
                f"the reference profile has no column {name!r}; it has: {', '.join(self.columns)}"
            ) from None


def profile_frame(
    data: pd.DataFrame,
    *,
    bins: int = 20,
    max_categories: int = 1000,
    created_from: str | None = None,
) -> DatasetProfile:
    """Profile every column of ``data`` (see :func:`profile_series`)."""
    if not isinstance(data, pd.DataFrame):
        raise InvalidInputError(
            f"profile a pandas DataFrame; got {type(data).__name__} (use profile_values "
            "for a single array)"
        )
    names = [str(c) for c in data.columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInputError(f"column(s) {', '.join(dupes)} appear twice; rename them")
    columns = {
        name: profile_series(data.iloc[:, i], bins=bins, max_categories=max_categories, name=name)
        for i, name in enumerate(names)
    }
    return DatasetProfile(
        rows=len(data),
        columns=columns,
        bins=bins,
        max_categories=max_categories,
        created_from=created_from,
    )


def profile_series(
    series: pd.Series[Any],
    *,
    bins: int = 20,
    max_categories: int = 1000,
    name: str | None = None,
) -> ColumnProfile:
    """Profile one column.

    Parameters
    ----------
    series
        The values; the index is ignored.
    bins
        Number of equal-width bins of continuous histograms (integer columns with at most
        ``bins`` distinct values get one exact bin per value instead).
    max_categories
        How many of the most frequent labels of a categorical or boolean column are listed;
        the rest are pooled in ``other``.
    name
        Column name to record (default ``str(series.name)``).
    """
    if bins < 1:
        raise InvalidInputError(f"bins must be at least 1; got {bins}")
    if max_categories < 0:
        raise InvalidInputError(f"max_categories must be 0 or more; got {max_categories}")
    kind = profile_kind(series)
    missing = int(series.isna().sum())
    total = len(series)
    base: dict[str, Any] = {
        "name": str(series.name) if name is None else name,
        "kind": kind,
        "dtype": str(series.dtype),
        "count": total - missing,
        "missing": missing,
        "missing_rate": missing / total if total else None,
    }
    if kind == "numeric":
        integer = pd.api.types.is_integer_dtype(series.dtype) or (
            series.dtype == object and pd.api.types.infer_dtype(series) == "integer"
        )
        return ColumnProfile(**base, **numeric_stats(float_values(series), bins, integer))
    if kind == "datetime":
        return ColumnProfile(**base, **datetime_stats(series, bins))
    labels, counts = label_counts(series)
    categories, other = top_categories(labels, counts, max_categories)
    return ColumnProfile(**base, distinct=len(labels), categories=categories, other=other)


def profile_values(
    values: Values, *, name: str = "value", bins: int = 20, max_categories: int = 1000
) -> ColumnProfile:
    """Profile a 1-D array, list or Series (a target, or a model's predictions)."""
    return profile_series(
        as_series(values, name), bins=bins, max_categories=max_categories, name=name
    )
