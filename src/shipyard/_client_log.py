"""The calls of :class:`shipyard.Client` on the prediction log's erasure and retention.

:class:`PredictionLog` is a mixin: :class:`~shipyard.client.Client` inherits it and
supplies :meth:`~PredictionLog._request`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import httpx


class PredictionLog(abc.ABC):
    """Erasure and retention over ``/api/v1/log``."""

    @abc.abstractmethod
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The server's successful response, or raise the error it answered."""

    def erase_predictions(
        self, request_ids: Sequence[str] = (), *, subject: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """Erase logged rows of ``request_ids`` or of ``subject`` (``(column, value)``)
        and their feedback (``shipyard log erase``); what was removed."""
        body: dict[str, Any] = {"request_ids": list(request_ids)}
        if subject is not None:
            body["subject"] = {"column": subject[0], "value": subject[1]}
        found: dict[str, Any] = self._request("POST", "/log/erasures", json=body).json()
        return found

    def log_retention(self) -> dict[str, int]:
        """Days kept, by endpoint (``shipyard log retention``)."""
        found: dict[str, int] = self._request("GET", "/log/retention").json()
        return found

    def set_log_retention(self, endpoint: str, days: int | None) -> dict[str, int]:
        """Keep ``days`` days of ``endpoint``'s log (``*``: everything; ``None``: for
        good) (``shipyard log retain``); every period."""
        found: dict[str, int] = self._request(
            "PUT", f"/log/retention/{endpoint}", json={"days": days}
        ).json()
        return found

    def expire_log(self) -> dict[str, Any]:
        """Remove the log past its retention now (``shipyard log expire``)."""
        found: dict[str, Any] = self._request("POST", "/log/expire").json()
        return found
