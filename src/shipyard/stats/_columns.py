"""Per-column computations behind :mod:`shipyard.stats.profile` (numpy and pandas only)."""

from __future__ import annotations

import datetime as _dt
import heapq
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

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


def as_series(values: Values, name: str) -> pd.Series[Any]:
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


def profile_kind(series: pd.Series[Any]) -> ProfileKind:
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


def float_values(series: pd.Series[Any]) -> FloatArray:
    """float64 values with NaN for every missing value."""
    try:
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"column {series.name!r}: expected numbers, got values of dtype {series.dtype} ({exc})"
        ) from exc


def epoch_seconds(series: pd.Series[Any]) -> FloatArray:
    """Seconds since 1970-01-01 UTC (naive datetimes are taken as UTC), NaN for NaT."""
    if getattr(series.dtype, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    stamps = series.to_numpy()
    seconds: FloatArray = (stamps - np.datetime64(0, "s")) / np.timedelta64(1, "s")
    return seconds


def numeric_stats(values: FloatArray, bins: int, integer: bool) -> dict[str, Any]:
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
        "histogram": histogram(finite, change, bins, integer),
    }


def histogram(finite: FloatArray, change: IntArray, bins: int, integer: bool) -> dict[str, Any]:
    """Histogram of sorted finite values; ``change`` are the indices where a new value starts."""
    n = finite.size
    if integer and change.size + 1 <= bins:
        starts = np.concatenate(([0], change))
        distinct = finite[starts]
        edges = np.concatenate(
            ([distinct[0] - 0.5], (distinct[1:] + distinct[:-1]) / 2, [distinct[-1] + 0.5])
        )
        counts = np.diff(np.concatenate((starts, [n])))
        return {"edges": edges.tolist(), "counts": counts.tolist(), "values": distinct.tolist()}
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
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def datetime_stats(series: pd.Series[Any], bins: int) -> dict[str, Any]:
    seconds = epoch_seconds(series)
    finite = np.sort(seconds[np.isfinite(seconds)])
    if finite.size == 0:
        return {"distinct": 0}
    change = np.flatnonzero(finite[1:] != finite[:-1]) + 1
    stamps = series.dropna()
    return {
        "distinct": int(stamps.nunique()),
        "earliest": pd.Timestamp(stamps.min()).isoformat(),
        "latest": pd.Timestamp(stamps.max()).isoformat(),
        "histogram": histogram(finite, change, bins, integer=False),
    }


def label(value: Any) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return value
    if isinstance(value, _dt.date | _dt.time):
        return value.isoformat()
    return str(value)


def label_counts(series: pd.Series[Any]) -> tuple[np.ndarray[Any, Any], IntArray]:
    """Distinct labels (object array of ``str``) of the non-missing values and their counts.

    One hash pass (:func:`pandas.factorize`) and one :func:`numpy.bincount`; labels are
    made only for the distinct values.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques)).astype(np.int64)
    if isinstance(uniques.dtype, pd.StringDtype):  # already distinct str labels
        return np.asarray(uniques, dtype=object), counts
    labels = np.array([label(v) for v in uniques], dtype=object)
    # Different values may share a label (1 and "1" in an object column): pool them.
    label_codes, merged = pd.factorize(labels)
    if len(merged) == len(labels):
        return labels, counts
    pooled = np.bincount(label_codes, weights=counts, minlength=len(merged))
    return np.asarray(merged, dtype=object), pooled.astype(np.int64)


def top_categories(
    labels: np.ndarray[Any, Any], counts: IntArray, k: int
) -> tuple[dict[str, int], int]:
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
