"""Signatures: the input and output schema of a model version.

A :class:`Signature` is inferred from a training sample at registration and checks
every input afterwards. It never casts silently: an integer in a float column is
fine (it is widened), a string in a float column, a float in an integer column or a
missing value where training had none is a :class:`~shipyard.errors.SignatureError`
naming the column, the row and the value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from shipyard.errors import SignatureError
from shipyard.schema.inputs import read_rows
from shipyard.schema.records import validate_records
from shipyard.schema.types import Kind, OutputKind, Rows
from shipyard.schema.values import (
    FAST_OK,
    NUMPY_OK,
    accepts,
    all_missing,
    check_int_range,
    column_error,
    show,
    to_categories,
    to_datetimes,
    to_floats,
    type_name,
)

#: At most this many distinct values of a string column are listed in its signature.
MAX_LISTED_CATEGORIES = 100


class ColumnSpec(BaseModel):
    """One input column."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: Kind
    """Family of values accepted: ``bool``, ``int``, ``float``, ``string``, ``category``
    (a pandas categorical) or ``datetime``."""
    dtype: str
    """The exact dtype of the column in training (``float64``, ``int32``, ``category`` …);
    validated input is converted to it."""
    nullable: bool = False
    """Whether missing values are accepted (true when training data had some)."""
    allow_inf: bool = False
    """Whether ±Infinity is accepted in a float column (true when training data had some)."""
    categories: list[Any] | None = None
    """Categories of a ``category`` column (enforced), or the distinct values of a string
    column with at most 100 of them (informative only)."""
    ordered: bool = False
    """Whether a ``category`` column's categories are ordered."""
    min: float | None = None
    """Smallest value seen in training (numeric columns; informative, not enforced)."""
    max: float | None = None
    """Largest value seen in training (numeric columns; informative, not enforced)."""


class OutputSpec(BaseModel):
    """What ``predict`` returns."""

    model_config = ConfigDict(frozen=True)

    kind: OutputKind
    dtype: str
    classes: list[Any] | None = None
    """Class labels, in the column order of ``predict_proba``."""
    probabilities: bool = False
    """Whether the model also gives class probabilities."""


#: What to run on a training column whose values ``infer_dtype`` classifies this way.
_CONVERSIONS = {
    "date": "df[{c!r}] = pd.to_datetime(df[{c!r}])",
    "datetime": "df[{c!r}] = pd.to_datetime(df[{c!r}])",
    "decimal": "df[{c!r}] = df[{c!r}].astype(float)",
    "time": "df[{c!r}] = df[{c!r}].astype(str)",
    "period": "df[{c!r}] = df[{c!r}].astype(str)",
    "interval": "df[{c!r}] = df[{c!r}].astype(str)",
    "bytes": "df[{c!r}] = df[{c!r}].str.decode('utf-8')",
}


#: Families of category labels a signature can store in JSON and compare exactly.
_CATEGORY_FAMILIES = ("string", "integer", "floating", "boolean", "empty")


def _unsupported(column: str, what: str) -> SignatureError:
    fix = _CONVERSIONS.get(what)
    advice = (
        f"convert it before registering, e.g. {fix.format(c=column)}"
        if fix
        else "give the column one type (numbers, strings, booleans or datetimes)"
    )
    return SignatureError(f"column {column!r} holds {what} values; {advice}", column=column)


def _kind_of(series: pd.Series[Any]) -> tuple[Kind, str]:
    dtype = series.dtype
    name = str(series.name)
    if isinstance(dtype, pd.CategoricalDtype):
        family = pd.api.types.infer_dtype(dtype.categories, skipna=True)
        if family not in _CATEGORY_FAMILIES:
            raise SignatureError(
                f"column {name!r} is a categorical of {family} values, which a signature "
                f"cannot compare exactly; convert its labels to strings before registering, "
                f"e.g. df[{name!r}] = df[{name!r}].astype(str).astype('category')",
                column=name,
            )
        return "category", "category"
    if pd.api.types.is_bool_dtype(dtype):
        return "bool", "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int", str(getattr(dtype, "numpy_dtype", dtype))
    if pd.api.types.is_float_dtype(dtype):
        return "float", str(getattr(dtype, "numpy_dtype", dtype))
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime", str(dtype)
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred in ("string", "empty"):
        return "string", "string"
    if inferred == "boolean":
        return "bool", "bool"
    if inferred == "integer":  # Python ints in an object column (None for missing)
        return "int", "int64"
    if inferred in ("floating", "mixed-integer-float"):
        return "float", "float64"
    raise _unsupported(name, inferred)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _finite_bounds(series: pd.Series[Any]) -> tuple[float | None, float | None]:
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None, None
    return float(values.min()), float(values.max())


def _column_spec(series: pd.Series[Any]) -> ColumnSpec:
    kind, dtype = _kind_of(series)
    nullable = bool(series.isna().any())
    categories: list[Any] | None = None
    low = high = None
    allow_inf = False
    ordered = False
    if kind == "category":
        categories = [_plain(c) for c in series.cat.categories]
        ordered = bool(series.cat.ordered)
    elif kind == "string":
        distinct = series.dropna().unique()
        if len(distinct) <= MAX_LISTED_CATEGORIES:
            categories = sorted(str(v) for v in distinct)
    elif kind in ("int", "float"):
        low, high = _finite_bounds(series)
        if kind == "float":
            allow_inf = bool(np.isinf(series.to_numpy(dtype="float64", na_value=np.nan)).any())
    return ColumnSpec(
        name=str(series.name),
        kind=kind,
        dtype=dtype,
        nullable=nullable,
        allow_inf=allow_inf,
        categories=categories,
        ordered=ordered,
        min=low,
        max=high,
    )


class Signature(BaseModel):
    """Input columns (in order) and the output of a model version."""

    model_config = ConfigDict(frozen=True)

    inputs: list[ColumnSpec]
    output: OutputSpec | None = None

    @property
    def names(self) -> list[str]:
        """Input column names, in order."""
        return [column.name for column in self.inputs]

    @classmethod
    def infer(cls, data: pd.DataFrame, output: OutputSpec | None = None) -> Signature:
        """Infer the input schema from a training sample."""
        if not isinstance(data, pd.DataFrame):
            raise SignatureError(
                f"training data must be a pandas DataFrame with named columns; got "
                f"{type(data).__name__}"
            )
        if data.columns.has_duplicates:
            dupes = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
            raise SignatureError(f"training data repeats column(s) {', '.join(dupes)}")
        return cls(inputs=[_column_spec(data[c]) for c in data.columns], output=output)

    def validate(self, rows: Rows) -> pd.DataFrame:  # type: ignore[override]
        """Check ``rows`` against the signature and return them as a DataFrame whose
        columns are in signature order with the training dtypes.

        Raises :class:`~shipyard.errors.SignatureError` naming the first offending column,
        row and value.
        """
        fast = validate_records(self.inputs, rows)
        if fast is not None:
            return fast
        names = self.names
        frame = read_rows(rows, names)
        odd = [c for c in frame.columns if not isinstance(c, str)]
        if odd:
            raise SignatureError(
                f"column names must be strings; got {', '.join(map(repr, odd[:5]))}; "
                f"expected columns: {', '.join(names)}"
            )
        present = list(frame.columns)
        missing = [n for n in names if n not in set(present)]
        if missing:
            raise SignatureError(
                f"missing column(s) {', '.join(map(repr, missing))}; expected columns: "
                f"{', '.join(names)}",
                column=missing[0],
            )
        extra = [c for c in present if c not in set(names)]
        if extra:
            raise SignatureError(
                f"unexpected column(s) {', '.join(map(repr, extra))}; expected columns: "
                f"{', '.join(names)}",
                column=extra[0],
            )
        if frame.columns.has_duplicates:
            raise SignatureError("a column is given twice; send each column once")
        out = {}
        for spec in self.inputs:
            try:
                out[spec.name] = self._column(spec, frame[spec.name])
            except SignatureError:
                raise
            except (TypeError, ValueError, OverflowError) as exc:  # anything left unforeseen
                raise SignatureError(
                    f"column {spec.name!r}: cannot be read as {spec.kind} ({exc}); send "
                    f"{spec.kind} values",
                    column=spec.name,
                ) from exc
        return pd.DataFrame(out, index=pd.RangeIndex(len(frame)))

    def _column(self, spec: ColumnSpec, series: pd.Series[Any]) -> pd.Series[Any]:
        values = series.reset_index(drop=True)
        missing = values.isna().to_numpy()
        if missing.any() and not spec.nullable:
            row = int(np.argmax(missing))
            raise column_error(
                spec,
                row,
                f"missing value at row {row}; training data had no "
                f"missing values in this column, so send a {spec.kind} value",
            )
        if len(values) and missing.all():  # e.g. an empty column read back from CSV as float
            return pd.Series(all_missing(spec, len(values)), name=spec.name)
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        numpy_kind = getattr(values.dtype, "kind", "O")
        if numpy_kind in NUMPY_OK.get(spec.kind, ()):
            pass
        elif numpy_kind in ("O", "U") or pd.api.types.is_string_dtype(values.dtype):
            present = values[~missing]
            # One C-level pass decides the common case; the loop only runs to find (and
            # name) an offending value, or for types infer_dtype does not know.
            if pd.api.types.infer_dtype(present, skipna=True) not in FAST_OK[spec.kind]:
                for position, value in zip(np.flatnonzero(~missing), present, strict=True):
                    if not accepts(spec.kind, value):
                        self._fail(spec, int(position), value)
        else:
            self._reject(spec, values, missing)
        return self._convert(spec, values, missing)

    def _reject(
        self, spec: ColumnSpec, values: pd.Series[Any], missing: np.ndarray[Any, Any]
    ) -> None:
        for row, value in enumerate(values):
            if missing[row]:
                continue
            item = value.item() if isinstance(value, np.generic) else value
            if not accepts(spec.kind, item):
                self._fail(spec, row, item)
        raise SignatureError(  # values all acceptable one by one but the column dtype is not
            f"column {spec.name!r}: expected {spec.kind} values, got dtype {values.dtype}",
            column=spec.name,
        )

    @staticmethod
    def _fail(spec: ColumnSpec, row: int, value: Any) -> None:
        raise column_error(
            spec,
            row,
            f"expected {spec.kind}, got {type_name(value)} {show(value)} at row {row}",
        )

    def _convert(
        self, spec: ColumnSpec, values: pd.Series[Any], missing: np.ndarray[Any, Any]
    ) -> pd.Series[Any]:
        if spec.kind == "float":
            return pd.Series(to_floats(spec, values), name=spec.name)
        if spec.kind == "int":
            check_int_range(spec, values, missing)
            if missing.any():
                return pd.Series(values, name=spec.name).astype("Int64")
            return pd.Series(values.to_numpy(dtype=spec.dtype), name=spec.name)
        if spec.kind == "bool":
            if missing.any():
                return pd.Series(values, name=spec.name).astype("boolean")
            return pd.Series(values.to_numpy(dtype=bool), name=spec.name)
        if spec.kind == "category":
            return pd.Series(to_categories(spec, values, missing), name=spec.name)
        if spec.kind == "datetime":
            return pd.Series(to_datetimes(spec, values, missing), name=spec.name)
        return pd.Series(values.to_numpy(dtype=object), name=spec.name)
