"""Small text forms the command line and the REST API both accept, parsed one way."""

from __future__ import annotations

from datetime import datetime

from shipyard.errors import InvalidInputError


def pairs(values: list[str] | None, what: str) -> dict[str, str]:
    """Repeated ``KEY=VALUE`` fields (``what`` names them in errors, e.g. ``--tag``)."""
    parsed: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"{what} {item!r} is not of the form KEY=VALUE")
        parsed[key] = value
    return parsed


def numbers(values: list[str] | None, what: str) -> dict[str, float]:
    """Repeated ``NAME=NUMBER`` fields."""
    parsed: dict[str, float] = {}
    for key, value in pairs(values, what).items():
        try:
            parsed[key] = float(value)
        except ValueError:
            raise InvalidInputError(f"{what} {key}={value!r}: {value!r} is not a number") from None
    return parsed


def parse_time(value: str | None, what: str) -> datetime | None:
    """An ISO 8601 time with a time zone (``2026-11-27T00:00Z``), or ``None``."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            f"{what} {value!r} is not a time; give ISO 8601, e.g. 2026-11-27T00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidInputError(f"{what} {value!r} has no time zone; add one, e.g. Z or +01:00")
    return parsed
