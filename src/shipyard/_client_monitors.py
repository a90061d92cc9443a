"""The calls of :class:`shipyard.Client` on monitors (``/api/v1/monitors``).

:class:`MonitorOperations` mirrors :class:`~shipyard.monitoring.MonitorService` over HTTP
and returns its records; :class:`~shipyard.client.Client` inherits it and supplies
:meth:`~MonitorOperations._request`.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from shipyard.monitoring import Monitor, MonitorResult, MonitorRun
from shipyard.reports.data import ReportData


def _path(name: str, *rest: str) -> str:
    return "/".join([f"/monitors/{quote(name, safe='')}", *rest])


class MonitorOperations(abc.ABC):
    """Monitors over ``/api/v1``: the twins of ``shipyard monitor …``."""

    @abc.abstractmethod
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The server's successful response, or raise the error it answered."""

    def create_monitor(
        self,
        name: str,
        *,
        endpoint: str | None = None,
        model: str | None = None,
        checks: Sequence[str] | None = None,
        window: str | float | None = None,
        rows: int | None = None,
        reference: str | Mapping[str, Any] = "training",
        every: str | float = "15m",
        thresholds: Mapping[str, float] | None = None,
        drift: Mapping[str, Any] | None = None,
        performance: Mapping[str, Any] | None = None,
        concept: Mapping[str, Any] | None = None,
        enabled: bool = True,
    ) -> Monitor:
        """A new monitor of ``endpoint`` or ``model`` (``shipyard monitor create``):
        ``window`` as ``"1h"`` or seconds, or ``rows``; ``reference`` ``"training"``,
        ``"previous"`` or ``"START..END"``; ``thresholds`` by key; ``performance``:
        ``{"segment_by": COLUMN, "bins": ...}``."""
        body = {
            "name": name,
            "endpoint": endpoint,
            "model": model,
            "checks": None if checks is None else list(checks),
            "window": window,
            "rows": rows,
            "reference": reference if isinstance(reference, str) else dict(reference),
            "every": every,
            "thresholds": dict(thresholds or {}),
            "drift": None if drift is None else dict(drift),
            "performance": None if performance is None else dict(performance),
            "concept": None if concept is None else dict(concept),
            "enabled": enabled,
        }
        return Monitor.model_validate(self._request("POST", "/monitors", json=body).json())

    def list_monitors(self) -> list[Monitor]:
        """Every monitor, by name."""
        found = self._request("GET", "/monitors").json()
        return TypeAdapter(list[Monitor]).validate_python(found)

    def get_monitor(self, name: str) -> Monitor:
        """The monitor's settings (its latest results: :meth:`monitor_results`)."""
        return Monitor.model_validate(self._request("GET", _path(name)).json())

    def update_monitor(
        self,
        name: str,
        *,
        checks: Sequence[str] | None = None,
        window: str | float | None = None,
        rows: int | None = None,
        reference: str | Mapping[str, Any] | None = None,
        every: str | float | None = None,
        thresholds: Mapping[str, float | None] | None = None,
        drift: Mapping[str, Any] | None = None,
        performance: Mapping[str, Any] | None = None,
        concept: Mapping[str, Any] | None = None,
        enabled: bool | None = None,
    ) -> Monitor:
        """Change what is given (``shipyard monitor update``); ``thresholds``, ``drift``
        and ``performance`` are merged into the monitor's (a key set to ``None`` returns
        to its default)."""
        body: dict[str, Any] = {
            "checks": None if checks is None else list(checks),
            "window": window,
            "rows": rows,
            "reference": reference
            if reference is None or isinstance(reference, str)
            else dict(reference),
            "every": every,
            "thresholds": None if thresholds is None else dict(thresholds),
            "drift": None if drift is None else dict(drift),
            "performance": None if performance is None else dict(performance),
            "concept": None if concept is None else dict(concept),
            "enabled": enabled,
        }
        sent = {k: v for k, v in body.items() if v is not None}
        return Monitor.model_validate(self._request("PATCH", _path(name), json=sent).json())

    def delete_monitor(self, name: str) -> Monitor:
        """Delete the monitor and its results; returns it as it was."""
        return Monitor.model_validate(self._request("DELETE", _path(name)).json())

    def run_monitor(self, name: str) -> MonitorRun:
        """Run the monitor now (enabled or not) and store its results."""
        return MonitorRun.model_validate(self._request("POST", _path(name, "run")).json())

    def monitor_results(
        self,
        name: str,
        *,
        metric: str | None = None,
        since: datetime | str | None = None,
        check: str | None = None,
        limit: int = 500,
    ) -> list[MonitorResult]:
        """The monitor's results, oldest first (at most the latest ``limit``); ``since``
        a timezone-aware time or ISO 8601 text."""
        params: dict[str, Any] = {
            "metric": metric,
            "since": since.isoformat() if isinstance(since, datetime) else since,
            "check": check,
            "limit": limit,
        }
        found = self._request(
            "GET",
            _path(name, "results"),
            params={k: v for k, v in params.items() if v is not None},
        ).json()
        return TypeAdapter(list[MonitorResult]).validate_python(found)

    def monitor_report(self, name: str) -> ReportData:
        """The report's data (``shipyard monitor report --json``)."""
        return ReportData.model_validate(self._request("GET", _path(name, "report")).json())

    def monitor_report_html(self, name: str) -> str:
        """The report as one self-contained HTML page (``shipyard monitor report
        --html``)."""
        return self._request("GET", _path(name, "report.html")).text
