"""The calls of :class:`shipyard.Client` on column policies.

:class:`ColumnPolicyOperations` is a mixin: :class:`~shipyard.client.Client` inherits it
and supplies :meth:`~ColumnPolicyOperations._request`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from pydantic import TypeAdapter

from shipyard.errors import InvalidInputError
from shipyard.protection.service import ColumnPolicy

_PATHS = {"model": "/models", "endpoint": "/endpoints"}


def _path(kind: str, name: str) -> str:
    if kind not in _PATHS:
        raise InvalidInputError(f"kind must be model or endpoint; got {kind!r}")
    return f"{_PATHS[kind]}/{name}/column-policy"


class ColumnPolicyOperations(abc.ABC):
    """Column policies over ``/api/v1/…/column-policy``."""

    @abc.abstractmethod
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The server's successful response, or raise the error it answered."""

    def list_column_policies(self, kind: str | None = None) -> list[ColumnPolicy]:
        """Every column policy, or those of models or endpoints (``shipyard policy
        list``)."""
        params = {} if kind is None else {"kind": kind}
        found = self._request("GET", "/column-policies", params=params).json()
        return TypeAdapter(list[ColumnPolicy]).validate_python(found)

    def get_column_policy(self, name: str, *, kind: str = "model") -> ColumnPolicy:
        """The column policy of model (or endpoint) ``name`` (``shipyard policy show``)."""
        return ColumnPolicy.model_validate(self._request("GET", _path(kind, name)).json())

    def set_column_policy(
        self, name: str, columns: Mapping[str, str], *, kind: str = "model"
    ) -> ColumnPolicy:
        """Make ``columns`` (``{"ssn": "encrypt", "email": "hash"}``) the whole column
        policy of model (or endpoint) ``name`` (``shipyard policy set``)."""
        body = {"columns": dict(columns)}
        return ColumnPolicy.model_validate(
            self._request("PUT", _path(kind, name), json=body).json()
        )

    def remove_column_policy(
        self, name: str, columns: Iterable[str] = (), *, kind: str = "model"
    ) -> ColumnPolicy | None:
        """Remove ``columns`` from the policy (all of it when none is named); what is left
        (``shipyard policy remove``)."""
        params = {"column": list(columns)}
        found = self._request("DELETE", _path(kind, name), params=params).json()
        return None if found is None else ColumnPolicy.model_validate(found)
