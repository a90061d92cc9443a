"""Differentially private counts: a table's histograms and category counts, with noise.

A release describes a table (a version's reference sample, a monitor's window) by
counts only: its number of rows, and per column the counts of a partition of the rows
that is fixed before the data is looked at:

``numeric`` (numbers, and datetimes as epoch seconds)
    ``[below, bin_0 … bin_n-1, above, missing]`` on edges the caller gives (``edges``,
    or ``low``/``high``/``bins`` for equal widths). Bin ``i`` holds ``edges[i] <= x <
    edges[i + 1]``, the last one also its right edge (as :func:`numpy.histogram`);
    ``below`` and ``above`` hold everything outside the edges, ±infinity included.
``categorical``
    ``[category_0 … category_m-1, other, missing]`` for categories the caller declares;
    every other label is counted in ``other`` and never named.

The edges and categories must be public (chosen without looking at the data): edges
taken from the data (its minimum and maximum, as a reference profile's) or categories
seen in it would tell what the data holds whatever the noise. That is why nothing
here reads a stored profile: counts are made from raw rows on the caller's grid.

**Privacy unit and sensitivity.** Neighbouring tables differ by one row added or
removed. Each row falls in exactly one cell of each column's partition and adds one to
the row count, so each of these count vectors has L1 sensitivity 1 (under "replace
one row" it would be 2). A release of ``C`` columns is ``k = C + 1`` vectors; their
concatenation has L1 sensitivity ``k``.

**Mechanism.** Discrete Laplace noise (the two-sided geometric mechanism,
``P(noise = z) ∝ exp(-|z| / b)``) from OpenDP's ``make_laplace`` over a vector of
64-bit integers with the L1 distance, which samples exactly (no floating-point
attack on the noise) from the operating system's random source. With
``b = k / epsilon`` OpenDP's privacy map certifies that the whole release is
``epsilon``-differentially private; equivalently each vector spends ``epsilon / k``
(sequential composition) with noise of scale ``1 / (epsilon / k)``. The scale is moved
up by a few units in the last place when OpenDP's map, which rounds conservatively,
would otherwise say more than ``epsilon``.

**Post-processing** (free of privacy cost): noisy counts below zero are shown as 0
(this biases small counts upward), and a numeric column's ``binned_mean`` and
``quantiles`` are computed from its noisy histogram (bin midpoints, linear
interpolation inside a bin; ``None`` when the level falls outside the edges).
Exact means, extremes or quantiles of the data are never released.

>>> import pandas as pd
>>> frame = pd.DataFrame({"age": [23, 35, 51], "plan": ["a", "b", "a"]})
>>> out = private_release(
...     frame, {"age": Binning(low=0, high=100, bins=4), "plan": Binning(categories=["a"])},
...     epsilon=1.0)
>>> out.aggregates, out.scale, len(out.columns["age"].counts), out.columns["plan"].categories
(3, 3.0, 4, ['a'])
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from shipyard.errors import InvalidInputError, MissingDependencyError
from shipyard.stats._columns import (
    QUANTILE_LEVELS,
    IntArray,
    epoch_seconds,
    label_counts,
    quantile_key,
)

#: Most bins or categories one column may have in a release.
MAX_CELLS = 1000
#: Quantile levels derived from a noisy histogram (the extremes are left out).
RELEASED_LEVELS = tuple(q for q in QUANTILE_LEVELS if 0 < q < 1)
MECHANISM = "discrete Laplace (OpenDP make_laplace, L1 distance)"
NEIGHBOURING = "one row added or removed"


class Binning(BaseModel):
    """The public grid one column is counted on: ``edges``; or ``low``, ``high`` and
    ``bins`` (equal widths); or ``categories`` (a declared domain)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    edges: list[float] | None = None
    """Increasing, finite bin edges (at least two)."""
    low: float | None = None
    high: float | None = None
    bins: int | None = None
    """Equal-width bins between ``low`` and ``high``."""
    categories: list[str] | None = None
    """The labels counted one by one; every other label goes to ``other``."""

    @field_validator("categories")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not 1 <= len(value) <= MAX_CELLS:
            raise ValueError(f"give between 1 and {MAX_CELLS} categories; got {len(value)}")
        if len(set(value)) != len(value):
            raise ValueError("categories are listed twice; list each once")
        return value

    @model_validator(mode="after")
    def _one_grid(self) -> Binning:
        ranged = (self.low, self.high, self.bins)
        given = [
            self.edges is not None,
            any(v is not None for v in ranged),
            self.categories is not None,
        ]
        if sum(given) != 1:
            raise ValueError(
                "give one of: edges [e0, e1, ...]; low, high and bins; or categories [...]"
            )
        if given[1]:
            if any(v is None for v in ranged):
                raise ValueError("give low, high and bins together, e.g. low 0, high 100, bins 10")
            assert self.low is not None and self.high is not None and self.bins is not None
            if not 1 <= self.bins <= MAX_CELLS:
                raise ValueError(f"bins must be between 1 and {MAX_CELLS}; got {self.bins}")
            _check_edges([self.low, self.high])
        if self.edges is not None:
            if len(self.edges) > MAX_CELLS + 1:
                raise ValueError(f"give at most {MAX_CELLS + 1} edges; got {len(self.edges)}")
            _check_edges(self.edges)
        return self

    @property
    def kind(self) -> Literal["numeric", "categorical"]:
        return "categorical" if self.categories is not None else "numeric"

    def grid(self) -> list[float]:
        """The bin edges of a numeric binning."""
        if self.edges is not None:
            return list(self.edges)
        assert self.low is not None and self.high is not None and self.bins is not None
        return [float(e) for e in np.linspace(self.low, self.high, self.bins + 1)]


def _check_edges(edges: list[float]) -> None:
    if len(edges) < 2 or not all(math.isfinite(e) for e in edges):
        raise ValueError("edges must be at least two finite numbers, e.g. [0, 10, 100]")
    if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"edges must increase strictly; got {edges}")


class PrivateColumn(BaseModel):
    """One column's noisy counts (see the module docstring for the layout)."""

    model_config = ConfigDict(frozen=True)

    column: str
    kind: Literal["numeric", "categorical"]
    edges: list[float] | None = None
    categories: list[str] | None = None
    counts: list[int]
    """Noisy counts per bin or per declared category."""
    below: int | None = None
    """Values under the first edge (numeric)."""
    above: int | None = None
    """Values over the last edge (numeric)."""
    other: int | None = None
    """Labels not declared (categorical)."""
    missing: int
    binned_mean: float | None = None
    """Mean of the bin midpoints weighted by the noisy counts inside the edges (numeric)."""
    quantiles: dict[str, float | None] | None = None
    """Quantiles interpolated on the noisy histogram, keyed like a profile's (numeric)."""


class PrivateRelease(BaseModel):
    """Noisy counts of a table, safe to share under ``epsilon``-differential privacy."""

    model_config = ConfigDict(frozen=True)

    release_format: int = 1
    subject: str = ""
    """What the budget was spent on: ``models:/NAME/N``, ``endpoint NAME`` or ``model NAME``."""
    data: str = ""
    """What rows the counts are of."""
    epsilon: float
    """Privacy loss of this release, over all its counts."""
    neighbouring: str = NEIGHBOURING
    mechanism: str = MECHANISM
    aggregates: int
    """Count vectors released (the row count and one per column); each spends
    ``epsilon / aggregates``."""
    scale: float
    """The Laplace scale ``b`` of the noise on every count: its standard deviation is
    about ``b * sqrt(2)``, and 95% of the noise lies within about ``3 * b``."""
    rows: int
    """Noisy number of rows."""
    columns: dict[str, PrivateColumn]
    omitted: dict[str, str] = {}
    """Columns not released, and why."""
    window: dict[str, Any] | None = None
    """The monitor window the counts are of (a monitor's release)."""
    release_id: str | None = None
    released_at: str | None = None
    released_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


@functools.cache
def _opendp() -> Any:
    try:
        import opendp.prelude as dp
    except ImportError:
        raise MissingDependencyError(
            "differentially private releases need OpenDP: pip install 'shipyard[privacy]'"
        ) from None
    # make_laplace is in OpenDP's "contrib" set: proven in its documentation, not yet
    # through the project's vetting; enabling it is what every OpenDP user of it does.
    dp.enable_features("contrib")
    return dp


def check_epsilon(epsilon: Any) -> float:
    """``epsilon`` as a float, or :class:`InvalidInputError` saying what is allowed."""
    if isinstance(epsilon, bool) or not isinstance(epsilon, int | float):
        raise InvalidInputError(f"epsilon must be a number, e.g. 0.5; got {epsilon!r}")
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise InvalidInputError(
            f"epsilon must be a positive finite number, e.g. 0.5; got {epsilon}"
        )
    return float(epsilon)


def laplace_counts(counts: list[int], epsilon: float, sensitivity: int) -> tuple[list[int], float]:
    """``counts`` plus discrete Laplace noise making them ``epsilon``-DP when one row
    changes them by at most ``sensitivity`` in L1; returns the noisy counts and the scale."""
    dp = _opendp()
    epsilon = check_epsilon(epsilon)
    space = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64")
    scale = sensitivity / epsilon
    measurement = dp.m.make_laplace(*space, scale=scale)
    while measurement.map(sensitivity) > epsilon:  # the map rounds up: a hair more noise
        scale = math.nextafter(scale, math.inf)
        measurement = dp.m.make_laplace(*space, scale=scale)
    return [int(v) for v in measurement([int(c) for c in counts])], scale


def numeric_cells(series: pd.Series[Any] | None, rows: int, edges: list[float]) -> IntArray:
    """Exact ``[below, bins…, above, missing]`` of ``series`` (``None``: all missing)."""
    bins = len(edges) - 1
    out = np.zeros(bins + 3, dtype=np.int64)
    if series is None:
        out[-1] = rows
        return out
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = epoch_seconds(series)
    else:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    present = values[~missing]
    low, high = edges[0], edges[-1]
    inside = present[(present >= low) & (present <= high)]
    index = np.searchsorted(np.asarray(edges[1:-1], dtype=np.float64), inside, side="right")
    out[0] = np.count_nonzero(present < low)
    out[1 : bins + 1] = np.bincount(index, minlength=bins)
    out[bins + 1] = np.count_nonzero(present > high)
    out[-1] = np.count_nonzero(missing)
    return out


def categorical_cells(series: pd.Series[Any] | None, rows: int, categories: list[str]) -> IntArray:
    """Exact ``[categories…, other, missing]`` of ``series`` by label (``str(value)``)."""
    out = np.zeros(len(categories) + 2, dtype=np.int64)
    if series is None:
        out[-1] = rows
        return out
    labels, counts = label_counts(series)
    position = {label: i for i, label in enumerate(categories)}
    for label, n in zip(labels.tolist(), counts.tolist(), strict=True):
        out[position.get(label, len(categories))] += n
    out[-1] = len(series) - int(counts.sum())
    return out


def _quantiles(edges: list[float], counts: list[int], below: int, above: int) -> dict[str, Any]:
    total = below + sum(counts) + above
    found: dict[str, float | None] = {}
    for level in RELEASED_LEVELS:
        target, seen, value = level * total, float(below), None
        if total > 0 and target > below:
            for i, n in enumerate(counts):
                if n > 0 and seen + n >= target:
                    share = (target - seen) / n
                    value = edges[i] + share * (edges[i + 1] - edges[i])
                    break
                seen += n
        found[quantile_key(level)] = value
    return found


def _numeric_column(name: str, edges: list[float], noisy: list[int]) -> PrivateColumn:
    below, counts, above, missing = noisy[0], noisy[1:-2], noisy[-2], noisy[-1]
    inside = sum(counts)
    mids = [(a + b) / 2 for a, b in zip(edges, edges[1:], strict=False)]
    mean = sum(n * m for n, m in zip(counts, mids, strict=True)) / inside if inside else None
    return PrivateColumn(
        column=name,
        kind="numeric",
        edges=edges,
        counts=counts,
        below=below,
        above=above,
        missing=missing,
        binned_mean=mean,
        quantiles=_quantiles(edges, counts, below, above),
    )


def private_release(
    frame: pd.DataFrame,
    binnings: Mapping[str, Binning],
    epsilon: float,
    *,
    omitted: Mapping[str, str] | None = None,
) -> PrivateRelease:
    """The row count of ``frame`` and the counts of each column of ``binnings`` on its
    grid, with noise making them ``epsilon``-DP together (see the module docstring).

    A column ``frame`` lacks counts as all missing, so the columns released never
    depend on the data. ``omitted`` (column: reason) is passed through to the result.
    """
    epsilon = check_epsilon(epsilon)
    rows = len(frame)
    names = [str(c) for c in frame.columns]
    vectors: list[IntArray] = [np.asarray([rows], dtype=np.int64)]
    for name, binning in binnings.items():
        series = frame.iloc[:, names.index(name)] if name in names else None
        if binning.categories is not None:
            vectors.append(categorical_cells(series, rows, binning.categories))
        else:
            vectors.append(numeric_cells(series, rows, binning.grid()))
    flat = np.concatenate(vectors).tolist()
    noisy, scale = laplace_counts(flat, epsilon, sensitivity=len(vectors))
    clamped = [max(0, v) for v in noisy]
    columns: dict[str, PrivateColumn] = {}
    start = 1
    for (name, binning), vector in zip(binnings.items(), vectors[1:], strict=True):
        part = clamped[start : start + len(vector)]
        start += len(vector)
        if binning.categories is not None:
            columns[name] = PrivateColumn(
                column=name,
                kind="categorical",
                categories=list(binning.categories),
                counts=part[:-2],
                other=part[-2],
                missing=part[-1],
            )
        else:
            columns[name] = _numeric_column(name, binning.grid(), part)
    return PrivateRelease(
        epsilon=epsilon,
        aggregates=len(vectors),
        scale=scale,
        rows=clamped[0],
        columns=columns,
        omitted=dict(omitted or {}),
    )


__all__ = [
    "Binning",
    "PrivateColumn",
    "PrivateRelease",
    "categorical_cells",
    "check_epsilon",
    "laplace_counts",
    "numeric_cells",
    "private_release",
]
