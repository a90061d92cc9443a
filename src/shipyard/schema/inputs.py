"""Every accepted shape of input rows, read into a DataFrame without converting values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import SignatureError
from shipyard.schema.types import Rows


def read_rows(rows: Rows, names: list[str]) -> pd.DataFrame:
    """Turn any accepted input shape into a DataFrame without converting values."""
    if isinstance(rows, pd.DataFrame):
        return rows
    if isinstance(rows, np.ndarray):
        if rows.ndim == 1 and len(names) == 1:
            rows = rows.reshape(-1, 1)
        if rows.ndim != 2 or rows.shape[1] != len(names):
            raise SignatureError(
                f"expected an array of shape [rows, {len(names)}] with columns "
                f"{', '.join(names)}; got shape {list(rows.shape)}"
            )
        return pd.DataFrame(rows, columns=names)
    if isinstance(rows, Mapping):
        values = list(rows.values())
        if values and all(isinstance(v, list | tuple | np.ndarray | pd.Series) for v in values):
            lengths = {len(v) for v in values}
            if len(lengths) > 1:
                raise SignatureError(
                    "columns have different lengths; send the same number of values per column"
                )
            return pd.DataFrame({k: pd.Series(list(v), dtype=object) for k, v in rows.items()})
        rows = [rows]
    if isinstance(rows, Sequence) and not isinstance(rows, str | bytes):
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise SignatureError(
                    f"row {index} is a {type(row).__name__}; send each row as an object "
                    "mapping column names to values",
                    row=index,
                )
        columns: dict[str, list[Any]] = {}
        keys = list(dict.fromkeys(k for row in rows for k in row))
        for key in keys:
            columns[key] = [row.get(key, _ABSENT) for row in rows]
        for key, values in columns.items():
            for index, value in enumerate(values):
                if value is _ABSENT:
                    raise SignatureError(
                        f"row {index} has no column {key!r}; every row needs every column",
                        column=key,
                        row=index,
                    )
        return pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
    raise SignatureError(
        f"cannot read rows from a {type(rows).__name__}; pass a DataFrame, a list of "
        "row objects, a mapping of columns to value lists, or a 2-D array"
    )


_ABSENT = object()
