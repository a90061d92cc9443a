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

import datetime as _dt
import heapq
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict

from shipyard.errors import InvalidInputError

ProfileKind = Literal["numeric", "categorical", "boolean", "datetime"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Values: TypeAlias = "pd.Series[Any] | np.ndarray[Any, Any] | Sequence[Any]"
"""What :func:`profile_values` and the counting methods accept: a Series, array or list."""

#: Probability levels of the stored quantiles (numpy's default ``linear`` method).
QUANTILE_LEVELS: tuple[float, ...] = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)


def quantile_key(level: float) -> str:
    """Key of a quantile level in :attr:`ColumnProfile.quantiles`: ``0.25 -> "0.25"``,
    ``0.0 -> "0"``, ``1.0 -> "1"`` (Python's ``g`` format)."""
    return f"{level:g}"


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
        series = _as_series(values, self.name)
        if self.kind == "datetime":
            try:
                stamps = pd.to_datetime(series)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"column {self.name!r}: expected datetimes ({exc})"
                ) from exc
            return histogram.bin_counts(_epoch_seconds(stamps))
        return histogram.bin_counts(_float_values(series))

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
        labels, counts = _label_counts(_as_series(values, self.name))
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
    kind = _kind(series)
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
        return ColumnProfile(**base, **_numeric(_float_values(series), bins, integer))
    if kind == "datetime":
        return ColumnProfile(**base, **_datetime(series, bins))
    labels, counts = _label_counts(series)
    categories, other = _top(labels, counts, max_categories)
    return ColumnProfile(**base, distinct=len(labels), categories=categories, other=other)


def profile_values(
    values: Values, *, name: str = "value", bins: int = 20, max_categories: int = 1000
) -> ColumnProfile:
    """Profile a 1-D array, list or Series (a target, or a model's predictions)."""
    return profile_series(
        _as_series(values, name), bins=bins, max_categories=max_categories, name=name
    )


# --- internals -------------------------------------------------------------------------


def _as_series(values: Values, name: str) -> pd.Series[Any]:
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, pd.DataFrame):
        raise InvalidInputError("expected one column of values, got a DataFrame")
    array = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidInputError(
            f"expected a 1-D array of values, got shape {list(array.shape)}; profile each "
            "column separately"
        )
    return pd.Series(array, name=name)


def _kind(series: pd.Series[Any]) -> ProfileKind:
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred == "boolean":
        return "boolean"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "numeric"
    return "categorical"


def _float_values(series: pd.Series[Any]) -> FloatArray:
    """float64 values with NaN for every missing value."""
    try:
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"column {series.name!r}: expected numbers, got values of dtype {series.dtype} ({exc})"
        ) from exc


def _epoch_seconds(series: pd.Series[Any]) -> FloatArray:
    """Seconds since 1970-01-01 UTC (naive datetimes are taken as UTC), NaN for NaT."""
    if getattr(series.dtype, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    stamps = series.to_numpy()
    seconds: FloatArray = (stamps - np.datetime64(0, "s")) / np.timedelta64(1, "s")
    return seconds


def _numeric(values: FloatArray, bins: int, integer: bool) -> dict[str, Any]:
    finite = np.sort(values[np.isfinite(values)])
    n = finite.size
    infinite = int(np.count_nonzero(np.isinf(values)))
    signed_infs = int(np.isposinf(values).any()) + int(np.isneginf(values).any())
    zeros = int(np.searchsorted(finite, 0.0, "right") - np.searchsorted(finite, 0.0, "left"))
    out: dict[str, Any] = {"infinite": infinite, "zeros": zeros}
    if n == 0:
        return {**out, "distinct": signed_infs}
    change = np.flatnonzero(finite[1:] != finite[:-1]) + 1
    out["distinct"] = change.size + 1 + signed_infs
    with np.errstate(over="ignore", invalid="ignore"):
        mean = float(finite.mean())
        std = float(finite.std(ddof=1)) if n > 1 else None
    with np.errstate(over="ignore", invalid="ignore"):
        quantiles = np.quantile(finite, QUANTILE_LEVELS)
    if not np.isfinite(quantiles).all():  # numpy's b - a overflowed: use a(1 - t) + bt
        h = (n - 1) * np.asarray(QUANTILE_LEVELS)
        low = np.floor(h).astype(np.int64)
        t = h - low
        quantiles = finite[low] * (1 - t) + finite[np.minimum(low + 1, n - 1)] * t
    return {
        **out,
        "min": float(finite[0]),
        "max": float(finite[-1]),
        "mean": mean if np.isfinite(mean) else None,
        "std": std if std is not None and np.isfinite(std) else None,
        "quantiles": {
            quantile_key(q): float(v) for q, v in zip(QUANTILE_LEVELS, quantiles, strict=True)
        },
        "histogram": _histogram(finite, change, bins, integer),
    }


def _histogram(finite: FloatArray, change: IntArray, bins: int, integer: bool) -> Histogram:
    """Histogram of sorted finite values; ``change`` are the indices where a new value starts."""
    n = finite.size
    if integer and change.size + 1 <= bins:
        starts = np.concatenate(([0], change))
        distinct = finite[starts]
        edges = np.concatenate(
            ([distinct[0] - 0.5], (distinct[1:] + distinct[:-1]) / 2, [distinct[-1] + 0.5])
        )
        counts = np.diff(np.concatenate((starts, [n])))
        return Histogram(edges=edges.tolist(), counts=counts.tolist(), values=distinct.tolist())
    low, high = float(finite[0]), float(finite[-1])
    if low == high:  # as numpy.histogram does
        low, high = low - 0.5, high + 0.5
    with np.errstate(over="ignore", invalid="ignore"):
        edges = np.linspace(low, high, bins + 1)
    if not np.isfinite(edges).all():  # the range overflows float64
        share = np.arange(bins + 1) / bins
        edges = low * (1 - share) + high * share
    # In sorted data, bin i holds the values from the first >= edges[i] to the first
    # >= edges[i + 1]; the last bin is closed, so it ends at n.
    starts = np.searchsorted(finite, edges[1:-1], side="left")
    counts = np.diff(np.concatenate(([0], starts, [n])))
    return Histogram(edges=edges.tolist(), counts=counts.tolist())


def _datetime(series: pd.Series[Any], bins: int) -> dict[str, Any]:
    seconds = _epoch_seconds(series)
    finite = np.sort(seconds[np.isfinite(seconds)])
    if finite.size == 0:
        return {"distinct": 0}
    change = np.flatnonzero(finite[1:] != finite[:-1]) + 1
    stamps = series.dropna()
    return {
        "distinct": int(stamps.nunique()),
        "earliest": pd.Timestamp(stamps.min()).isoformat(),
        "latest": pd.Timestamp(stamps.max()).isoformat(),
        "histogram": _histogram(finite, change, bins, integer=False),
    }


def _label(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return value
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    return str(value)


def _label_counts(series: pd.Series[Any]) -> tuple[np.ndarray[Any, Any], IntArray]:
    """Distinct labels (object array of ``str``) of the non-missing values and their counts.

    One hash pass (:func:`pandas.factorize`) and one :func:`numpy.bincount`; labels are
    made only for the distinct values.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques)).astype(np.int64)
    if isinstance(uniques.dtype, pd.StringDtype):  # already distinct str labels
        return np.asarray(uniques, dtype=object), counts
    labels = np.array([_label(v) for v in uniques], dtype=object)
    # Different values may share a label (1 and "1" in an object column): pool them.
    label_codes, merged = pd.factorize(labels)
    if len(merged) == len(labels):
        return labels, counts
    pooled = np.bincount(label_codes, weights=counts, minlength=len(merged))
    return np.asarray(merged, dtype=object), pooled.astype(np.int64)


def _top(labels: np.ndarray[Any, Any], counts: IntArray, k: int) -> tuple[dict[str, int], int]:
    """The ``k`` most frequent labels (ties by label, code-point order) and the rest's count.

    Labels are distinct. Those more frequent than the ``k``-th count are all listed; the
    places left go to the smallest labels tied at that count (a heap, not a full sort, so
    a million equally frequent ids cost a fraction of a second).
    """
    total = int(counts.sum())
    if k == 0 or labels.size == 0:
        return {}, total
    tied: list[tuple[int, str]] = []
    if labels.size <= k:
        chosen = np.arange(labels.size)
    else:
        threshold = int(np.partition(counts, labels.size - k)[labels.size - k])
        chosen = np.flatnonzero(counts > threshold)
        candidates = labels[counts == threshold].tolist()
        tied = [(-threshold, label) for label in heapq.nsmallest(k - chosen.size, candidates)]
    ranked = sorted(zip((-counts[chosen]).tolist(), labels[chosen].tolist(), strict=True))
    listed = {str(label): -negative for negative, label in ranked + tied}
    return listed, total - sum(listed.values())
