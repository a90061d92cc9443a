"""Data quality of a window of inputs against a version's reference profile (and signature).

:func:`data_quality` counts, per column:

- ``violations``: present values of the wrong type for the column — a string or a boolean
  in a numeric column, a non-integral number in an integer column, a non-boolean in a
  boolean column, a value that is neither a datetime nor an ISO 8601 string in a datetime
  column, a non-string in a string column. The expected type is the signature's column
  kind when a signature is given, else the reference profile's kind (any value fits a
  categorical column). An integer in a float column fits, as the signature accepts it.
- ``missing`` and ``missing_rate``, next to the reference's rate and the difference
  (window minus reference).
- ``below_min`` / ``above_max``: finite numeric values outside the reference's range
  (the profile's min and max, else the signature's).
- ``unseen``: values whose label (``str(value)``) is not among the known categories, with
  the most frequent ones as examples. The known categories are the signature's (a
  ``category`` column, or a ``string`` column with at most 100 distinct values), else the
  profile's when it lists all of them (its ``max_categories`` was not reached);
  otherwise ``unseen`` is ``None``.
- ``constant``: the window holds exactly one distinct non-missing value.

Columns the reference expects (the signature's inputs, else the profile's columns) but
the window lacks are listed in ``missing_columns``; window columns it does not expect, in
``unexpected_columns`` (they get no per-column entry).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from shipyard.errors import InvalidInputError
from shipyard.schema.signature import ColumnSpec, Signature
from shipyard.schema.types import Kind
from shipyard.schema.values import FAST_OK, NUMPY_OK, accepts, show
from shipyard.stats._columns import label, label_counts
from shipyard.stats.profile import ColumnProfile, DatasetProfile

#: The signature kind whose values a profiled column expects.
_PROFILE_KINDS: dict[str, Kind] = {
    "numeric": "float",
    "boolean": "bool",
    "datetime": "datetime",
    "categorical": "category",
}


class ColumnQuality(BaseModel):
    """Data quality of one column of the window."""

    name: str
    expected: Kind
    """The kind of values expected (signature kind; a profile's is mapped to one)."""
    rows: int
    violations: int
    """Present values of the wrong type."""
    violation_examples: list[str]
    missing: int
    missing_rate: float | None
    """``None`` for an empty window."""
    reference_missing_rate: float | None
    missing_rate_change: float | None
    """``missing_rate - reference_missing_rate``."""
    below_min: int | None = None
    above_max: int | None = None
    reference_min: float | None = None
    reference_max: float | None = None
    unseen: int | None = None
    """Values outside the known categories (``None``: not a categorical column, or the
    categories are not all known)."""
    unseen_examples: dict[str, int] | None = None
    """The most frequent unseen labels and their counts."""
    distinct: int
    constant: bool
    """Exactly one distinct non-missing value in the window."""

    @property
    def has_issues(self) -> bool:
        """Any violation, out-of-range or unseen value, or a constant column."""
        return bool(
            self.violations or self.below_min or self.above_max or self.unseen or self.constant
        )


class QualityReport(BaseModel):
    """Data quality of a window, per column."""

    rows: int
    columns: dict[str, ColumnQuality]
    """By name, in the reference's column order."""
    missing_columns: list[str]
    """Expected columns absent from the window."""
    unexpected_columns: list[str]
    """Window columns the reference does not have."""
    columns_with_issues: list[str]
    """Columns whose :attr:`ColumnQuality.has_issues` is true."""

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return self.model_dump(mode="json")


def _fits(kind: Kind, value: Any) -> bool:
    if isinstance(value, np.generic):
        value = value.item()
    if kind == "int" and isinstance(value, float):
        return value.is_integer()
    if kind == "datetime" and isinstance(value, str):
        try:
            pd.Timestamp(value)
        except (TypeError, ValueError):
            return False
        return True
    return accepts(kind, value)


def _violations(series: pd.Series[Any], kind: Kind, present: Any) -> Any:
    """A mask of the present values of the wrong type."""
    bad = np.zeros(len(series), dtype=bool)
    if kind == "category" or not present.any():
        return bad
    dtype_kind = getattr(series.dtype, "kind", "O")
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
        dtype_kind = "O"
    if dtype_kind in NUMPY_OK.get(kind, ()):
        return bad
    if kind == "int" and dtype_kind == "f":
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return present & ~(np.isfinite(values) & (values == np.round(values)))
    if kind == "string" and pd.api.types.is_string_dtype(series.dtype) and dtype_kind != "O":
        return bad
    values = series[present]
    if kind != "datetime" and pd.api.types.infer_dtype(values, skipna=True) in FAST_OK[kind]:
        return bad
    bad[np.flatnonzero(present)] = [not _fits(kind, v) for v in values]
    return bad


def _known_categories(profile: ColumnProfile | None, spec: ColumnSpec | None) -> set[str] | None:
    if spec is not None and spec.kind in ("category", "string") and spec.categories is not None:
        return {label(c) for c in spec.categories}
    if spec is not None and spec.kind not in ("category", "string"):
        return None
    if profile is not None and profile.kind == "categorical":
        if profile.categories is not None and not profile.other:
            return set(profile.categories)
    return None


def _column(
    name: str,
    series: pd.Series[Any],
    profile: ColumnProfile | None,
    spec: ColumnSpec | None,
    examples: int,
) -> ColumnQuality:
    if spec is not None:
        kind = spec.kind
    else:
        assert profile is not None
        kind = _PROFILE_KINDS[profile.kind]
    series = series.reset_index(drop=True)
    n = len(series)
    present = series.notna().to_numpy()
    bad = _violations(series, kind, present)
    valid = series[present & ~bad]
    missing = n - int(present.sum())
    rate = missing / n if n else None
    reference_rate = None if profile is None else profile.missing_rate
    labels, counts = label_counts(valid)
    out: dict[str, Any] = {
        "name": name,
        "expected": kind,
        "rows": n,
        "violations": int(bad.sum()),
        "violation_examples": [show(v) for v in series[bad].iloc[:examples]],
        "missing": missing,
        "missing_rate": rate,
        "reference_missing_rate": reference_rate,
        "missing_rate_change": None
        if rate is None or reference_rate is None
        else rate - reference_rate,
        "distinct": len(labels),
        "constant": len(labels) == 1,
    }
    if kind in ("int", "float"):
        low = profile.min if profile is not None and profile.min is not None else None
        high = profile.max if profile is not None and profile.max is not None else None
        if spec is not None:
            low = spec.min if low is None else low
            high = spec.max if high is None else high
        values = pd.to_numeric(valid, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        out["reference_min"], out["reference_max"] = low, high
        out["below_min"] = None if low is None else int(np.count_nonzero(finite < low))
        out["above_max"] = None if high is None else int(np.count_nonzero(finite > high))
    known = _known_categories(profile, spec)
    if known is not None:
        unseen = np.asarray([lab not in known for lab in labels.tolist()], dtype=bool)
        order = sorted(np.flatnonzero(unseen).tolist(), key=lambda i: (-counts[i], labels[i]))
        out["unseen"] = int(counts[unseen].sum())
        out["unseen_examples"] = {str(labels[i]): int(counts[i]) for i in order[:examples]}
    return ColumnQuality(**out)


def data_quality(
    window: pd.DataFrame,
    reference: DatasetProfile,
    *,
    signature: Signature | None = None,
    examples: int = 5,
) -> QualityReport:
    """Check ``window`` (current inputs, one column per feature) against the reference
    profile and, when given, the signature (see the module docstring).

    ``examples`` is how many offending values are shown per column.
    """
    if not isinstance(window, pd.DataFrame):
        raise InvalidInputError(
            f"pass the window as a pandas DataFrame with named columns; got {type(window).__name__}"
        )
    if examples < 0:
        raise InvalidInputError(f"examples must be 0 or more; got {examples}")
    names = [str(c) for c in window.columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidInputError(f"column(s) {', '.join(dupes)} appear twice; rename them")
    specs = {} if signature is None else {s.name: s for s in signature.inputs}
    expected = list(specs) if signature is not None else list(reference.columns)
    columns = {
        name: _column(
            name,
            window.iloc[:, names.index(name)],
            reference.columns.get(name),
            specs.get(name),
            examples,
        )
        for name in expected
        if name in names
    }
    return QualityReport(
        rows=len(window),
        columns=columns,
        missing_columns=[n for n in expected if n not in names],
        unexpected_columns=[n for n in names if n not in set(expected)],
        columns_with_issues=[n for n, c in columns.items() if c.has_issues],
    )
