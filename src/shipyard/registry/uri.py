"""Model URIs: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` and ``models:/NAME/latest``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.errors import InvalidNameError, InvalidURIError
from shipyard.registry.names import validate_alias, validate_model_name

SCHEME = "models:/"
_VERSION = re.compile(r"[1-9][0-9]*", re.ASCII)


@dataclass(frozen=True)
class ModelURI:
    """A parsed model URI: exactly one of ``version``, ``alias`` or ``latest`` is set."""

    name: str
    version: int | None = None
    alias: str | None = None
    latest: bool = False

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{SCHEME}{self.name}@{self.alias}"
        if self.latest:
            return f"{SCHEME}{self.name}/latest"
        return f"{SCHEME}{self.name}/{self.version}"

    @classmethod
    def parse(cls, uri: str) -> ModelURI:
        """Parse a model URI, raising :class:`InvalidURIError` with the accepted forms."""
        forms = "models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME/latest"
        if not isinstance(uri, str) or not uri.startswith(SCHEME):
            raise InvalidURIError(f"{uri!r} is not a model URI; expected {forms}")
        rest = uri[len(SCHEME) :]
        try:
            if "@" in rest:
                name, alias = rest.split("@", 1)
                return cls(name=validate_model_name(name), alias=validate_alias(alias))
            if "/" in rest:
                name, version = rest.split("/", 1)
                validate_model_name(name)
                if version == "latest":
                    return cls(name=name, latest=True)
                if _VERSION.fullmatch(version):
                    return cls(name=name, version=int(version))
                raise InvalidURIError(
                    f"{uri!r}: version {version!r} is not a positive integer; expected {forms}"
                )
        except InvalidNameError as exc:
            raise InvalidURIError(f"{uri!r}: {exc}") from exc
        raise InvalidURIError(f"{uri!r} names no version or alias; expected {forms}")
