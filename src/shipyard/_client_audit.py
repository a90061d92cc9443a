"""The calls of :class:`shipyard.Client` on the audit trail.

:class:`Audit` is a mixin: :class:`~shipyard.client.Client` inherits it and supplies
:meth:`~Audit._request`.
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any

import httpx


class Audit(abc.ABC):
    """The audit trail over ``/api/v1/audit``."""

    @abc.abstractmethod
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The server's successful response, or raise the error it answered."""

    def audit_entries(
        self,
        *,
        since: datetime | None = None,
        after_id: int = 0,
        entity: str | None = None,
        limit: int = 1000,
    ) -> list[dict[str, Any]]:
        """Changes, oldest first (``shipyard audit list``); page with ``after_id``."""
        params: dict[str, Any] = {"after_id": after_id, "limit": limit}
        if since is not None:
            params["since"] = since.isoformat()
        if entity is not None:
            params["entity"] = entity
        found: list[dict[str, Any]] = self._request("GET", "/audit", params=params).json()
        return found

    def verify_audit(self, head: str | None = None) -> dict[str, Any]:
        """Recompute the hash chain (``shipyard audit verify``): ``ok``, ``rows``,
        ``head`` and the first ``problem``."""
        params = {} if head is None else {"head": head}
        found: dict[str, Any] = self._request("GET", "/audit/verify", params=params).json()
        return found
