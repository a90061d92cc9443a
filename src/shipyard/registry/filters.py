"""Filters for searching versions by their metrics."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable

from shipyard.errors import InvalidInputError

COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
_METRIC_FILTER = re.compile(r"^\s*([A-Za-z0-9_.:/-]+)\s*(>=|<=|==|!=|>|<|=)\s*(\S+)\s*$")


def parse_metric_filter(text: str) -> tuple[str, str, float]:
    """``"accuracy>=0.9"`` -> ``("accuracy", ">=", 0.9)``."""
    match = _METRIC_FILTER.match(text)
    if not match:
        raise InvalidInputError(
            f"metric filter {text!r} is not of the form NAME OP NUMBER (e.g. 'accuracy>=0.9'); "
            "OP is one of >=, <=, >, <, ==, !="
        )
    name, op, raw = match.groups()
    try:
        value = float(raw)
    except ValueError:
        hint = f" (did you mean {raw[0]}=?)" if raw[:1] in ("<", ">") and op in ("=", "==") else ""
        raise InvalidInputError(f"metric filter {text!r}: {raw!r} is not a number{hint}") from None
    if not math.isfinite(value):
        raise InvalidInputError(f"metric filter {text!r}: compare with a finite number")
    return name, op, value
