"""The fast lane of signature validation: small batches of clean JSON-like rows.

Online requests carry a few rows of plain Python values. Checking them value by value
in Python and building each column once costs tens of microseconds, where going through
a pandas Series per column costs milliseconds. This lane only ever *accepts*: the first
value it is not sure of (a missing value, a non-finite float, a datetime, an unknown
category, an integer out of range …) sends the whole batch down the general path in
:mod:`shipyard.schema.signature`, which produces the same result or the precise error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from shipyard.schema.signature import ColumnSpec

#: Batches up to this many rows take the fast lane.
MAX_ROWS = 64

_INT_BOUNDS: dict[str, tuple[int, int]] = {}


def _bounds(dtype: str) -> tuple[int, int]:
    bounds = _INT_BOUNDS.get(dtype)
    if bounds is None:
        info = np.iinfo(dtype)
        bounds = _INT_BOUNDS[dtype] = (int(info.min), int(info.max))
    return bounds


def _column(spec: ColumnSpec, values: list[Any]) -> Any:
    """The column as an array of the spec's dtype, or ``None`` to use the general path."""
    kind = spec.kind
    if kind == "float":
        if not all(type(v) is float or type(v) is int for v in values):
            return None
        if not all(math.isfinite(v) for v in values if type(v) is float):
            return None
        with np.errstate(over="ignore"):
            try:
                array = np.array(values, dtype=spec.dtype)
            except OverflowError:
                return None
        return array if np.isfinite(array).all() else None
    if kind == "int":
        low, high = _bounds(spec.dtype)
        if not all(type(v) is int and low <= v <= high for v in values):
            return None
        return np.array(values, dtype=spec.dtype)
    if kind == "bool":
        return np.array(values, dtype=bool) if all(type(v) is bool for v in values) else None
    if kind == "string":
        if not all(type(v) is str for v in values):
            return None
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    if kind == "category":
        known = {(type(c), c) for c in spec.categories or []}
        if not all((type(v), v) in known for v in values):
            return None
        return pd.Categorical(values, categories=spec.categories, ordered=spec.ordered)
    return None  # datetimes: parsing and time zones are the general path's job


def validate_records(specs: Sequence[ColumnSpec], rows: Any) -> pd.DataFrame | None:
    """``rows`` as a validated DataFrame if it is a small batch of clean records (or a small
    DataFrame of them), else ``None`` (the caller then validates it the general way)."""
    if (
        isinstance(rows, pd.DataFrame)
        and 0 < len(rows) <= MAX_ROWS
        and rows.columns.is_unique
        and all(isinstance(c, str) for c in rows.columns)
    ):
        rows = rows.to_dict(orient="records")  # plain Python scalars, as from JSON
    if not isinstance(rows, list) or not 0 < len(rows) <= MAX_ROWS:
        return None
    width = len(specs)
    if not all(isinstance(row, Mapping) and len(row) == width for row in rows):
        return None
    columns: dict[str, Any] = {}
    for spec in specs:
        try:
            values = [row[spec.name] for row in rows]
        except KeyError:
            return None
        column = _column(spec, values)
        if column is None:
            return None
        columns[spec.name] = column
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))


# -- the float matrix lane -------------------------------------------------------------

#: Batches up to this many rows may take the float matrix lane.
MATRIX_MAX_ROWS = 4096
_NUMBERS = frozenset({float, int})


def float_columns(specs: Sequence[ColumnSpec]) -> list[str] | None:
    """The column names, if every input column is float64 (the matrix lane applies)."""
    if specs and all(s.kind == "float" and s.dtype == "float64" for s in specs):
        return [s.name for s in specs]
    return None


def _finite_matrix(table: list[Any], width: int) -> np.ndarray[Any, Any] | None:
    try:
        matrix = np.array(table, dtype=np.float64)
    except (OverflowError, ValueError):
        return None
    if matrix.ndim == 1:
        matrix = matrix.reshape(-1, width)
    return matrix if np.isfinite(matrix).all() else None


def float_matrix(columns: Sequence[str], rows: Any) -> np.ndarray[Any, Any] | None:
    """Records (mappings with exactly ``columns`` as keys, every value an int or a finite
    float) as a C-contiguous float64 matrix in ``columns`` order, or ``None`` when the
    rows are anything else (the general path then validates them, or names the error)."""
    if type(rows) is not list or not 0 < len(rows) <= MATRIX_MAX_ROWS:
        return None
    width = len(columns)
    table = []
    for row in rows:
        if type(row) is not dict or len(row) != width:
            return None
        try:
            table.append([row[name] for name in columns])
        except KeyError:
            return None
    if not {type(v) for values in table for v in values} <= _NUMBERS:
        return None
    return _finite_matrix(table, width)


def float_tensor(values: list[Any], width: int) -> np.ndarray[Any, Any] | None:
    """A flat row-major list of ints and finite floats as a ``(rows, width)`` float64
    matrix, or ``None`` (see :func:`float_matrix`)."""
    if not 0 < len(values) <= MATRIX_MAX_ROWS * width or len(values) % width:
        return None
    if not {type(v) for v in values} <= _NUMBERS:
        return None
    return _finite_matrix(values, width)
