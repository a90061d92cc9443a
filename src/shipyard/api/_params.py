"""Parameters the model routes share, and resolving a version reference."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path as PathParam
from fastapi import Query

from shipyard.api.schemas import MAX_INT
from shipyard.errors import InvalidInputError
from shipyard.registry import ModelVersion, Registry
from shipyard.registry.uri import ModelURI

Name = Annotated[str, PathParam(description="Model name.", max_length=256)]
Ref = Annotated[
    str,
    PathParam(description="A version number, `latest`, or an alias.", max_length=256),
]
VersionNumber = Annotated[int, PathParam(ge=1, le=MAX_INT, description="Version number.")]
Tags = Annotated[
    list[str] | None, Query(description="KEY=VALUE; repeat to require several.", max_length=100)
]
Limit = Annotated[int, Query(ge=1, le=10_000, description="At most this many.")]
Offset = Annotated[int, Query(ge=0, le=MAX_INT, description="Skip this many first.")]


def version_of(registry: Registry, name: str, ref: str) -> ModelVersion:
    """A version from a number (``3``), ``latest``, or an alias (``champion``)."""
    if ref.isascii() and ref.isdigit():
        if not 1 <= int(ref) <= MAX_INT:
            raise InvalidInputError(f"version {ref} does not exist; versions count from 1")
        return registry.resolve(ModelURI.parse(f"models:/{name}/{int(ref)}"))
    if ref == "latest":
        return registry.resolve(ModelURI.parse(f"models:/{name}/latest"))
    return registry.resolve(ModelURI.parse(f"models:/{name}@{ref}"))
