"""Small text forms the command line and the REST API both accept, parsed one way."""

from __future__ import annotations

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
