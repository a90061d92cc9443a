"""Rules for the names users choose: models, aliases, tags."""

from __future__ import annotations

import re

from shipyard.errors import InvalidNameError

MODEL_NAME_MAX = 128
ALIAS_MAX = 64
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 1024

_MODEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?", re.ASCII)
_ALIAS = re.compile(r"[a-z](?:[a-z0-9_-]*[a-z0-9])?", re.ASCII)
_TAG_KEY = re.compile(r"[A-Za-z0-9_.:/-]+", re.ASCII)
#: Alias names with a fixed meaning in URIs.
RESERVED_ALIASES = frozenset({"latest"})


def validate_model_name(name: object) -> str:
    """Return ``name`` if it is a valid model name, else raise :class:`InvalidNameError`.

    A model name is 1–128 characters of letters, digits, ``.``, ``_`` and ``-``,
    starting and ending with a letter or digit, without ``..``.
    """
    if not isinstance(name, str) or not name:
        raise InvalidNameError("model name is empty; give a name such as 'fraud-detector'")
    if len(name) > MODEL_NAME_MAX:
        raise InvalidNameError(
            f"model name is {len(name)} characters long; the limit is {MODEL_NAME_MAX}"
        )
    if not _MODEL.fullmatch(name) or ".." in name:
        raise InvalidNameError(
            f"model name {name!r} is not allowed; use letters, digits, '.', '_' and '-', "
            "starting and ending with a letter or digit (e.g. 'fraud-detector')"
        )
    return name


def validate_alias(alias: object) -> str:
    """Return ``alias`` if it is a valid alias name, else raise :class:`InvalidNameError`.

    An alias is 1–64 characters of lowercase letters, digits, ``_`` and ``-``, starting
    with a letter (so it never looks like a version number); ``latest`` is reserved.
    """
    if not isinstance(alias, str) or not alias:
        raise InvalidNameError("alias is empty; give a name such as 'champion'")
    if len(alias) > ALIAS_MAX:
        raise InvalidNameError(f"alias is {len(alias)} characters long; the limit is {ALIAS_MAX}")
    if not _ALIAS.fullmatch(alias):
        raise InvalidNameError(
            f"alias {alias!r} is not allowed; use lowercase letters, digits, '_' and '-', "
            "starting with a letter (e.g. 'champion', 'challenger', 'staging')"
        )
    if alias in RESERVED_ALIASES:
        raise InvalidNameError(
            f"alias {alias!r} is reserved (models:/NAME/latest is the newest ready version); "
            "choose another name"
        )
    return alias


def validate_tags(tags: object) -> dict[str, str]:
    """Check a tag mapping: string keys of safe characters, string values of bounded size."""
    if tags is None:
        return {}
    if not isinstance(tags, dict):
        raise InvalidNameError(f"tags must be a mapping of strings to strings; got {tags!r}")
    clean: dict[str, str] = {}
    for key, value in tags.items():
        if (
            not isinstance(key, str)
            or not key
            or len(key) > TAG_KEY_MAX
            or not _TAG_KEY.fullmatch(key)
        ):
            raise InvalidNameError(
                f"tag key {key!r} is not allowed; use 1-{TAG_KEY_MAX} letters, digits or _.:/-"
            )
        if not isinstance(value, str | int | float | bool):
            raise InvalidNameError(f"tag {key!r} has a {type(value).__name__} value; use a string")
        text = str(value)
        if len(text) > TAG_VALUE_MAX:
            raise InvalidNameError(f"tag {key!r} is longer than {TAG_VALUE_MAX} characters")
        clean[key] = text
    return clean
