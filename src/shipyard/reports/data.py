"""What a monitoring report shows, as plain data: no rows, only pre-binned counts.

A :class:`ReportData` holds a drift summary (a :class:`~shipyard.stats.drift.DriftReport`),
per-column histograms of the reference and the current window on one shared grid
(:func:`column_histograms`), and metric trends over past windows (the time series of a
monitor's results). Its size grows with the number of columns, bins and windows, never
with the number of rows, so a report on a window of millions of rows stays small.

Numeric (and datetime, as epoch seconds) columns are binned on the reference's grid:
``bins`` equal-width bins between the reference's 0.5 % and 99.5 % quantiles, so one
outlier does not squash the rest into a single bin, plus a tail bin either side out to the
smallest and largest value of both tables when there are values beyond. Categorical and
boolean columns are counted by label: the ``max_categories`` labels with the largest share
in either table (a label new in the current window ranks by its current share), the rest
pooled in a last ``(other)`` bin. Every non-missing finite value is counted exactly once,
so a side's counts sum to its non-missing rows; missing values (and ±infinity) are counted
apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from shipyard.errors import InvalidInputError
from shipyard.stats.drift import DriftReport, prepare

#: Quantiles of the reference that bound the equal-width numeric bins.
INNER_RANGE = (0.005, 0.995)
#: Name of the bin pooling the categories not listed.
OTHER = "(other)"


class ColumnHistogram(BaseModel):
    """Counts of one column in the reference and the current window, on the same bins.

    Numeric bins (``edges`` set) follow :func:`numpy.histogram`: bin ``i`` holds
    ``edges[i] <= x < edges[i + 1]``, the last bin also its right edge. Categorical bins
    (``labels`` set) count one label each; when ``pooled`` the last label is
    :data:`OTHER` and counts every label not listed.
    """

    model_config = ConfigDict(frozen=True)

    column: str
    kind: Literal["numeric", "datetime", "categorical", "boolean"]
    edges: list[float] | None = None
    """Numeric bin edges (epoch seconds for datetimes), one more than the counts."""
    labels: list[str] | None = None
    pooled: bool = False
    reference: list[int]
    current: list[int]
    reference_missing: int
    current_missing: int
    """Values left out: missing, and for numbers ±infinity."""


class ReportWindow(BaseModel):
    """The time window the current data comes from."""

    model_config = ConfigDict(frozen=True)

    start: dt.datetime
    end: dt.datetime


class TrendPoint(BaseModel):
    """One result of one check over one window: a point of a monitor's time series."""

    model_config = ConfigDict(frozen=True)

    metric: str
    """What was measured, e.g. ``drift_share``, ``accuracy``, ``missing_rate``."""
    column: str | None = None
    """The column measured, ``None`` for a data-set or model metric."""
    window_start: dt.datetime
    window_end: dt.datetime
    value: float | None
    """``None`` when the metric could not be computed on that window."""
    threshold: float | None = None
    status: str
    """The check's outcome, e.g. ``ok``, ``breach`` or ``error``; anything but ``ok`` is
    highlighted."""


class ReportData(BaseModel):
    """Everything a report shows (see :mod:`shipyard.reports.html` for the rendering)."""

    model_config = ConfigDict(frozen=True)

    report_format: int = 1
    title: str
    target: str
    """What the report is about, e.g. the endpoint's name."""
    window: ReportWindow | None = None
    reference_rows: int | None = None
    current_rows: int | None = None
    drift: DriftReport | None = None
    histograms: list[ColumnHistogram] = []
    trends: list[TrendPoint] = []


def _numeric_edges(
    reference: np.ndarray[Any, Any], current: np.ndarray[Any, Any], bins: int
) -> Any:
    """Equal-width edges over the reference's inner range, plus tail bins to both extremes."""
    base = reference if reference.size else current
    low, high = (float(q) for q in np.quantile(base, INNER_RANGE))
    if not high > low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)
    lowest = min(
        float(reference[0]) if reference.size else low, float(current[0]) if current.size else low
    )
    highest = max(
        float(reference[-1]) if reference.size else high,
        float(current[-1]) if current.size else high,
    )
    if lowest < low:
        edges = np.concatenate(([lowest], edges))
    if highest > high:
        edges = np.concatenate((edges, [highest]))
    return edges


def _count_sorted(values: np.ndarray[Any, Any], edges: Any) -> list[int]:
    cuts = np.searchsorted(values, edges[1:-1], side="left")
    return np.diff(np.concatenate(([0], cuts, [values.size]))).astype(np.int64).tolist()  # type: ignore[no-any-return]


def _label_bins(
    ref_labels: list[str],
    ref_counts: list[int],
    cur_labels: list[str],
    cur_counts: list[int],
    k: int,
) -> tuple[list[str], list[int], list[int], bool]:
    ref = dict(zip(ref_labels, ref_counts, strict=True))
    cur = dict(zip(cur_labels, cur_counts, strict=True))
    ref_total, cur_total = max(sum(ref_counts), 1), max(sum(cur_counts), 1)
    every = set(ref) | set(cur)
    ranked = sorted(
        every, key=lambda x: (-max(ref.get(x, 0) / ref_total, cur.get(x, 0) / cur_total), x)
    )
    listed, rest = ranked[:k], ranked[k:]
    reference = [ref.get(x, 0) for x in listed]
    current = [cur.get(x, 0) for x in listed]
    if not rest:
        return listed, reference, current, False
    reference.append(sum(ref.get(x, 0) for x in rest))
    current.append(sum(cur.get(x, 0) for x in rest))
    return [*listed, OTHER], reference, current, True


def _histogram(
    name: str, ref_series: pd.Series[Any], cur_series: pd.Series[Any], bins: int, k: int
) -> ColumnHistogram:
    kind, reference = prepare(ref_series)
    _, current = prepare(cur_series)
    base: dict[str, Any] = {
        "column": name,
        "kind": kind,
        "reference_missing": reference.missing,
        "current_missing": current.missing,
    }
    if reference.values is not None and current.values is not None:
        if reference.size == 0 and current.size == 0:
            return ColumnHistogram(**base, edges=[], reference=[], current=[])
        edges = _numeric_edges(reference.values, current.values, bins)
        return ColumnHistogram(
            **base,
            edges=edges.tolist(),
            reference=_count_sorted(reference.values, edges),
            current=_count_sorted(current.values, edges),
        )
    # categories, or numbers on one side and labels on the other: count by label
    ref, cur = reference.as_counts(), current.as_counts()
    assert ref.labels is not None and ref.counts is not None
    assert cur.labels is not None and cur.counts is not None
    labels, ref_counts, cur_counts, pooled = _label_bins(
        ref.labels.tolist(), ref.counts.tolist(), cur.labels.tolist(), cur.counts.tolist(), k
    )
    if kind in ("numeric", "datetime"):
        base["kind"] = "categorical"
    return ColumnHistogram(
        **base, labels=labels, pooled=pooled, reference=ref_counts, current=cur_counts
    )


def column_histograms(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str] | None = None,
    bins: int = 30,
    *,
    max_categories: int = 20,
) -> list[ColumnHistogram]:
    """Histograms of the columns both tables share (or of ``columns``), reference and
    current on the same bins (see the module docstring for the binning)."""
    if bins < 1:
        raise InvalidInputError(f"bins must be at least 1; got {bins}")
    if max_categories < 1:
        raise InvalidInputError(f"max_categories must be at least 1; got {max_categories}")
    ref_names = [str(c) for c in reference.columns]
    cur_names = [str(c) for c in current.columns]
    shared = [n for n in ref_names if n in set(cur_names)]
    if columns is not None:
        unknown = [c for c in columns if c not in shared]
        if unknown:
            raise InvalidInputError(
                f"column(s) {', '.join(map(repr, unknown))} are not in both tables"
            )
        shared = [n for n in shared if n in set(columns)]
    return [
        _histogram(
            name,
            reference.iloc[:, ref_names.index(name)],
            current.iloc[:, cur_names.index(name)],
            bins,
            max_categories,
        )
        for name in shared
    ]
