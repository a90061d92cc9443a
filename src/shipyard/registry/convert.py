"""Turn user-supplied values into JSON-safe, validated metadata."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from shipyard.errors import InvalidInputError

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_METRIC_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,128}", re.ASCII)


def jsonable(value: Any, *, depth: int = 0) -> Any:
    """A JSON-safe copy of ``value``: numpy scalars unwrapped, unknown objects as ``repr``,
    non-finite floats as strings."""
    if depth > 20:
        return repr(value)
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime) and value.utcoffset() == timedelta(0):
        return value.isoformat().replace("+00:00", "Z")  # as the API writes UTC times
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [jsonable(v, depth=depth + 1) for v in items]
    if isinstance(value, np.ndarray) and value.size <= 1_000:
        return jsonable(value.tolist(), depth=depth + 1)
    if isinstance(value, type) or callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}.{value.__qualname__}"
    # Default reprs carry a memory address, which would make equal models look different.
    return _ADDRESS.sub("", repr(value))


def clean_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float]:
    """Metrics are finite numbers keyed by name."""
    clean: dict[str, float] = {}
    for key, value in (metrics or {}).items():
        if not isinstance(key, str) or not _METRIC_NAME.fullmatch(key):
            raise InvalidInputError(
                f"metric name {key!r} is not allowed; use letters, digits and _.:/- "
                "(e.g. 'f1', 'roc_auc', 'val/loss') so it can be searched with --metric"
            )
        if isinstance(value, np.generic):
            value = value.item()
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise InvalidInputError(f"metric {key!r} is {value!r}; metrics must be finite numbers")
        clean[key] = float(value)
    return clean


def clean_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameters: any JSON-able mapping (other values are kept as their repr)."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidInputError(f"params must be a mapping of names to values; got {params!r}")
    return {str(k): jsonable(v) for k, v in params.items()}
