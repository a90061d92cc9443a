"""Checking and converting one column's values to the dtype a signature recorded."""

from __future__ import annotations

import datetime
import math
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from shipyard.errors import SignatureError
from shipyard.schema.types import Kind

if TYPE_CHECKING:
    from shipyard.schema.signature import ColumnSpec


def column_error(spec: ColumnSpec, row: int, problem: str) -> SignatureError:
    """The error for one bad value: ``column 'x': <problem>``, locating column and row."""
    return SignatureError(f"column {spec.name!r}: {problem}", column=spec.name, row=row)


def show(value: Any) -> str:
    """A value as an error message shows it: short, and as the user wrote it."""
    if isinstance(value, np.generic):
        value = value.item()
    text = f"'{value}'" if isinstance(value, pd.Timestamp | np.datetime64) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def type_name(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "boolean"
    if isinstance(value, int | np.integer):
        return "integer"
    if isinstance(value, float | np.floating):
        return "float"
    if isinstance(value, str):
        return "string"
    return type(value).__name__


def accepts(kind: Kind, value: Any) -> bool:
    if kind == "bool":
        return isinstance(value, bool | np.bool_)
    if kind == "int":
        return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if kind == "float":
        return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_
        )
    if kind == "string":
        return isinstance(value, str)
    if kind == "category":
        return not isinstance(value, list | dict | tuple | set)  # membership is checked later
    # datetime: timestamps, or ISO 8601 strings (JSON has no datetime type)
    return isinstance(value, pd.Timestamp | np.datetime64 | datetime.datetime | str)


#: ``infer_dtype`` answers that settle an object column's values as acceptable at once.
FAST_OK: dict[Kind, frozenset[str]] = {
    "bool": frozenset({"boolean"}),
    "int": frozenset({"integer"}),
    "float": frozenset({"integer", "floating", "mixed-integer-float"}),
    "string": frozenset({"string"}),
    "category": frozenset({"string", "integer", "floating", "boolean"}),
    "datetime": frozenset({"datetime", "datetime64"}),
}


NUMPY_OK: dict[Kind, tuple[str, ...]] = {
    "bool": ("b",),
    "int": ("i", "u"),
    "float": ("i", "u", "f"),
    "datetime": ("M",),
}


def to_floats(spec: ColumnSpec, values: pd.Series[Any]) -> np.ndarray[Any, Any]:
    """Values as the column's float dtype. A value the dtype cannot hold, or ±inf where
    training had none, is an error naming the row."""
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            array: np.ndarray[Any, Any] | None = values.to_numpy(dtype=spec.dtype, na_value=np.nan)
        except OverflowError:  # a Python int beyond the float range
            array = None
    suspects = range(len(values)) if array is None else np.flatnonzero(np.isinf(array))
    for row in suspects:
        value = values.iloc[int(row)]
        try:
            number: float | None = float(value)
        except OverflowError:
            number = None  # beyond any float
        if number is not None and math.isinf(number):
            if not spec.allow_inf:
                raise column_error(
                    spec,
                    int(row),
                    f"{show(value)} at row {row} is not finite; "
                    "training data had only finite values in this column",
                )
        elif number is None or (array is not None and np.isinf(array[row])):
            raise column_error(
                spec,
                int(row),
                f"{show(value)} at row {row} is too large for {spec.dtype}",
            )
    assert array is not None
    return array


def check_int_range(
    spec: ColumnSpec, values: pd.Series[Any], missing: np.ndarray[Any, Any]
) -> None:
    """Refuse integers the column's dtype cannot hold instead of letting them wrap around."""
    info = np.iinfo(spec.dtype)
    array = values.to_numpy()
    if array.dtype.kind in "iu" and np.can_cast(array.dtype, spec.dtype):
        return
    objects = array.astype(object)
    for row, value in enumerate(objects):
        if not missing[row] and not info.min <= int(value) <= info.max:
            raise column_error(
                spec,
                row,
                f"{show(value)} at row {row} is out of range for "
                f"{spec.dtype} ({info.min} to {info.max})",
            )


def to_datetimes(
    spec: ColumnSpec, values: pd.Series[Any], missing: np.ndarray[Any, Any]
) -> pd.Series[Any]:
    """Timestamps (or ISO 8601 strings) as the column's datetime dtype; time zones must
    match training (both naive, or both aware)."""
    aware = "," in spec.dtype  # e.g. "datetime64[ns, UTC]"
    if getattr(values.dtype, "kind", "O") == "M":  # already datetimes: one vectorised check
        if (getattr(values.dtype, "tz", None) is not None) != aware:
            row = int(np.argmax(~missing))
            expected = "with a time zone" if aware else "without a time zone"
            raise column_error(
                spec,
                row,
                f"{show(values.iloc[row])} at row {row} must be a "
                f"datetime {expected}, as in training",
            )
        return values.astype(cast(Any, spec.dtype))
    stamps: list[Any] = []
    for row, value in enumerate(values):
        if missing[row]:
            stamps.append(pd.NaT)
            continue
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise column_error(
                spec,
                row,
                f"{show(value)} at row {row} is not a datetime "
                "(send an ISO 8601 string such as '2026-01-31T12:00:00')",
            ) from exc
        if (stamp.tzinfo is not None) != aware:
            expected = "with a time zone" if aware else "without a time zone"
            raise column_error(
                spec,
                row,
                f"{show(value)} at row {row} must be a datetime {expected}, as in training",
            )
        stamps.append(stamp)
    parsed = pd.to_datetime(pd.Series(stamps, dtype="object"), utc=aware)
    return parsed.astype(cast(Any, spec.dtype))


def to_categories(
    spec: ColumnSpec, values: pd.Series[Any], missing: np.ndarray[Any, Any]
) -> pd.Categorical:
    """Values as the column's categorical; a value outside its categories (compared with its
    type: ``1``, ``"1"`` and ``True`` differ) is an error."""
    categories = spec.categories or []
    family = pd.api.types.infer_dtype(categories, skipna=True)
    present = values[~missing]
    if pd.api.types.infer_dtype(present, skipna=True) == family:
        unknown = ~values.isin(categories).to_numpy() & ~missing
    else:
        known = {(type_name(c), c) for c in categories}
        unknown = np.array(
            [
                not m and (type_name(v), v) not in known
                for v, m in zip(values, missing, strict=True)
            ],
            dtype=bool,
        )
    if unknown.any():
        row = int(np.argmax(unknown))
        raise column_error(
            spec,
            row,
            f"unknown category {show(values.iloc[row])} at row {row}; "
            f"expected one of: {', '.join(map(str, categories))}",
        )
    return pd.Categorical(values, categories=categories, ordered=spec.ordered)


def all_missing(spec: ColumnSpec, rows: int) -> Any:
    """A column of ``rows`` missing values in the column's training dtype."""
    if spec.kind == "float":
        return np.full(rows, np.nan, dtype=spec.dtype)
    if spec.kind == "int":
        return pd.array([pd.NA] * rows, dtype="Int64")
    if spec.kind == "bool":
        return pd.array([pd.NA] * rows, dtype="boolean")
    if spec.kind == "category":
        return pd.Categorical([None] * rows, categories=spec.categories, ordered=spec.ordered)
    if spec.kind == "datetime":
        return pd.Series([pd.NaT] * rows).astype(cast(Any, spec.dtype))
    return np.full(rows, None, dtype=object)
