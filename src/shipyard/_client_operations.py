"""The calls of :class:`shipyard.Client` on rollouts, A/B reports and feedback.

:class:`Operations` holds them apart from the plumbing, registry and endpoint calls of
``client.py``; :class:`~shipyard.client.Client` inherits them and supplies
:meth:`~Operations._request`.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from pydantic import TypeAdapter

from shipyard.endpoints import ABReport, Rollout
from shipyard.endpoints.abreport import Task
from shipyard.errors import InvalidInputError
from shipyard.predictions import FeedbackReceipt


class Operations(abc.ABC):
    """Rollouts, A/B reports and feedback over ``/api/v1``."""

    @abc.abstractmethod
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The server's successful response, or raise the error it answered."""

    def _get(self, path: str, params: Any = None) -> Any:
        return self._request("GET", path, params=params).json()

    # -- rollouts --------------------------------------------------------------------

    def start_rollout(
        self,
        endpoint: str,
        to: str,
        *,
        guards: Sequence[str],
        steps: str | Sequence[float] = "5,25,50,100",
        interval: str | float = "5m",
        min_rows: int = 50,
    ) -> Rollout:
        """Start moving ``endpoint`` to version ``to`` step by step (``shipyard rollout
        start``); steps as ``"5,25,50,100"`` or numbers, interval as ``"5m"`` or seconds."""
        body = {
            "to": to,
            "steps": steps if isinstance(steps, str) else list(steps),
            "interval": interval,
            "guards": list(guards),
            "min_rows": min_rows,
        }
        response = self._request("POST", f"/endpoints/{endpoint}/rollout", json=body)
        return Rollout.model_validate(response.json())

    def get_rollout(self, endpoint: str) -> Rollout:
        """The endpoint's latest rollout (running, paused or ended)."""
        return Rollout.model_validate(self._get(f"/endpoints/{endpoint}/rollout"))

    def list_rollouts(self, *, endpoint: str | None = None, active: bool = False) -> list[Rollout]:
        """Rollouts, newest first: all, one endpoint's, or only running and paused ones."""
        params: dict[str, Any] = {"active": str(active).lower()}
        if endpoint is not None:
            params["endpoint"] = endpoint
        return TypeAdapter(list[Rollout]).validate_python(self._get("/rollouts", params))

    def pause_rollout(self, endpoint: str, *, reason: str = "") -> Rollout:
        """Hold the running rollout: traffic stays where it is."""
        return self._steer(endpoint, "pause", {"reason": reason})

    def resume_rollout(self, endpoint: str) -> Rollout:
        """Run a paused rollout again; its step is judged afresh from now."""
        return self._steer(endpoint, "resume", None)

    def abort_rollout(self, endpoint: str, *, reason: str = "") -> Rollout:
        """End the rollout and return the endpoint to the revision it started from."""
        return self._steer(endpoint, "abort", {"reason": reason})

    def _steer(self, endpoint: str, action: str, body: dict[str, Any] | None) -> Rollout:
        response = self._request("POST", f"/endpoints/{endpoint}/rollout/{action}", json=body)
        return Rollout.model_validate(response.json())

    # -- A/B reports and feedback ----------------------------------------------------

    def ab_report(
        self,
        endpoint: str,
        *,
        control: str | None = None,
        since: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        alpha: float = 0.05,
        power: float = 0.8,
        task: Task | None = None,
        revisions: Sequence[int] = (),
    ) -> ABReport:
        """Compare the endpoint's variants (``shipyard ab report``); the window is
        ``since`` (``"1h"``, ``"7d"``) back from now, or ``start``/``end`` (UTC if naive),
        of every revision or only ``revisions``."""
        params: dict[str, Any] = {
            "control": control,
            "since": since,
            "start": None if start is None else start.isoformat(),
            "end": None if end is None else end.isoformat(),
            "alpha": alpha,
            "power": power,
            "task": task,
            "revision": list(revisions) or None,
        }
        found = self._get(
            f"/endpoints/{endpoint}/ab", {k: v for k, v in params.items() if v is not None}
        )
        return ABReport.model_validate(found)

    def add_feedback(
        self,
        data: pd.DataFrame | Iterable[Mapping[str, Any]] | str | Path,
        *,
        id_column: str = "request_id",
        label_column: str = "label",
        row_column: str | None = None,
        source: str | None = None,
    ) -> FeedbackReceipt:
        """Store labels (``shipyard feedback load``) from a CSV or Parquet file, a
        DataFrame (sent as Parquet) or records; the receipt says what was stored,
        matched, replaced and rejected. ``source`` (recorded with each label) defaults to
        the file's name, else ``api``."""
        options = {"id_column": id_column, "label_column": label_column}
        if row_column is not None:
            options["row_column"] = row_column
        if source is not None:
            options["source"] = source
        if isinstance(data, str | Path):
            path = Path(data)
            if not path.is_file():
                raise InvalidInputError(
                    f"{path} is not a file; give the path of a .csv or .parquet file"
                )
            upload: tuple[str, Any] = (path.name, path.read_bytes())
        elif isinstance(data, pd.DataFrame):
            upload = ("feedback.parquet", data.to_parquet())
            options.setdefault("source", "api")  # not the name of this temporary file
        else:
            body = {"records": [dict(r) for r in data], **options}
            return FeedbackReceipt.model_validate(
                self._request("POST", "/feedback", json=body).json()
            )
        response = self._request("POST", "/feedback", data=options, files={"file": upload})
        return FeedbackReceipt.model_validate(response.json())
