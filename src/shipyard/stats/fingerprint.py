"""Data fingerprints: a stable content hash of a table, recorded in a version's lineage.

The hash covers, in order, the row count, then for each column its name, its dtype and
the 64-bit hash of every value (:func:`pandas.util.hash_pandas_object` with
``index=False``, whose key is fixed, so it does not vary between processes)::

    sha256( "shipyard-fingerprint/1" | rows | columns
            | for each column: len(name) | name | len(dtype) | dtype | h(v_0) … h(v_{n-1}) )

with integers as 8-byte little-endian. The row index does not count; the order of rows
and columns, every value and every dtype do. pandas hashes the values of object columns
through their string form, so ``1`` and ``"1"`` in an object column hash alike (the dtype
still tells an ``int64`` column from a ``str`` one). Fingerprints are stable across
processes and machines with the same pandas version; a pandas release that renames a
dtype changes them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from shipyard.errors import InvalidInputError

__all__ = ["DataFingerprint", "fingerprint"]

_MAGIC = b"shipyard-fingerprint/1"


class DataFingerprint(BaseModel):
    """Content hash and shape of a data set."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    """Hex digest over column names, dtypes and values (see the module docstring)."""
    rows: int
    columns: list[str]
    """Column names, in order (``"0"``, ``"1"`` … for arrays and unnamed Series)."""


def fingerprint(data: pd.DataFrame | pd.Series[Any] | np.ndarray[Any, Any]) -> DataFingerprint:
    """Fingerprint a DataFrame, a Series (one column) or a 1-D or 2-D array.

    Raises :class:`~shipyard.errors.InvalidInputError` for other inputs and for values
    pandas cannot hash (lists or dicts inside cells).
    """
    frame = _frame(data)
    names = [str(c) for c in frame.columns]
    digest = hashlib.sha256(_MAGIC)
    digest.update(_int(len(frame)))
    digest.update(_int(len(names)))
    for position, name in enumerate(names):
        column = frame.iloc[:, position]
        try:
            hashes = pd.util.hash_pandas_object(column, index=False).to_numpy()
        except TypeError as exc:
            raise InvalidInputError(
                f"column {name!r} holds values that cannot be hashed ({exc}); use scalar "
                "values (numbers, strings, booleans, datetimes) in every cell"
            ) from exc
        digest.update(_text(name))
        digest.update(_text(str(column.dtype)))
        digest.update(np.ascontiguousarray(hashes, dtype="<u8").tobytes())
    return DataFingerprint(sha256=digest.hexdigest(), rows=len(frame), columns=names)


def _frame(data: pd.DataFrame | pd.Series[Any] | np.ndarray[Any, Any]) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame(name=0 if data.name is None else data.name)
    if isinstance(data, np.ndarray):
        if data.ndim not in (1, 2):
            raise InvalidInputError(f"fingerprint a 1-D or 2-D array; got shape {list(data.shape)}")
        return pd.DataFrame(data)
    raise InvalidInputError(
        f"fingerprint a DataFrame, a Series or a numpy array; got {type(data).__name__}"
    )


def _int(value: int) -> bytes:
    return value.to_bytes(8, "little")


def _text(text: str) -> bytes:
    encoded = text.encode("utf-8")
    return _int(len(encoded)) + encoded
