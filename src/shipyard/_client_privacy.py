"""The calls of :class:`shipyard.Client` on differentially private releases and their
budgets (``/api/v1/models/…/profile/release``, ``/api/v1/monitors/…/release``, ``…/privacy``).

:class:`Privacy` mirrors :class:`~shipyard.privacy.PrivacyService` over HTTP and returns
its records; :class:`~shipyard.client.Client` inherits it and supplies
:meth:`~Privacy._request`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from shipyard.privacy import Binning, Budget, PrivateRelease, parse_target
from shipyard.registry.uri import ModelURI


def _columns(columns: Mapping[str, Binning | Mapping[str, Any]] | None) -> dict[str, Any]:
    return {
        name: spec.model_dump(exclude_none=True) if isinstance(spec, Binning) else dict(spec)
        for name, spec in (columns or {}).items()
    }


def _version(name: str, version: int | str) -> str:
    return f"/models/{quote(name, safe='')}/versions/{quote(str(version), safe='')}"


def _monitor(name: str) -> str:
    return f"/monitors/{quote(name, safe='')}"


def _budget_path(target: str) -> str:
    kind, name = parse_target(target)
    if kind == "monitor":
        return f"{_monitor(name)}/privacy"
    uri = ModelURI.parse(name)
    ref = uri.alias if uri.alias is not None else "latest" if uri.latest else uri.version
    assert ref is not None
    return f"{_version(uri.name, ref)}/privacy"


class Privacy(abc.ABC):
    """Private releases and budgets over ``/api/v1``: the twins of ``shipyard models
    release-profile``, ``shipyard monitor release`` and ``shipyard privacy …``."""

    @abc.abstractmethod
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The server's successful response, or raise the error it answered."""

    def release_profile(
        self,
        name: str,
        version: int | str,
        epsilon: float,
        columns: Mapping[str, Binning | Mapping[str, Any]] | None = None,
    ) -> PrivateRelease:
        """Noisy counts of the version's reference sample on public grids (``columns``:
        ``{"age": {"low": 0, "high": 100, "bins": 10}, "plan": {"categories": [...]}}``),
        ``epsilon``-DP; :class:`~shipyard.errors.PrivacyBudgetError` when its budget
        has less left."""
        body = {"epsilon": epsilon, "columns": _columns(columns)}
        path = f"{_version(name, version)}/profile/release"
        return PrivateRelease.model_validate(self._request("POST", path, json=body).json())

    def release_monitor_window(
        self,
        name: str,
        epsilon: float,
        columns: Mapping[str, Binning | Mapping[str, Any]] | None = None,
    ) -> PrivateRelease:
        """Noisy counts of the monitor's current window on public grids, ``epsilon``-DP,
        paid from the budget of the endpoint or model it watches."""
        body = {"epsilon": epsilon, "columns": _columns(columns)}
        response = self._request("POST", f"{_monitor(name)}/release", json=body)
        return PrivateRelease.model_validate(response.json())

    def privacy_budget(self, target: str, *, limit: int = 100) -> Budget:
        """The budget of ``models:/NAME/VERSION`` (or ``@ALIAS``) or ``monitor:NAME``,
        with its latest releases."""
        response = self._request("GET", _budget_path(target), params={"limit": limit})
        return Budget.model_validate(response.json())

    def set_privacy_budget(self, target: str, budget: float) -> Budget:
        """Give ``target``'s privacy unit a budget of its own."""
        response = self._request("PUT", _budget_path(target), json={"budget": budget})
        return Budget.model_validate(response.json())
