"""The calls of :class:`shipyard.Client` on batch schedules (``/api/v1/schedules``).

:class:`BatchSchedules` mirrors :class:`~shipyard.batch.schedules.Schedules` over HTTP and
returns its records; :class:`~shipyard.client.Client` inherits it and supplies
:meth:`~BatchSchedules._request`.
"""

from __future__ import annotations

import abc
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from shipyard.batch.jobs import Job
from shipyard.batch.schedule_spec import Schedule


def _path(name: str, *rest: str) -> str:
    return "/".join([f"/schedules/{quote(name, safe='')}", *rest])


class BatchSchedules(abc.ABC):
    """Batch schedules over ``/api/v1``: the twins of ``shipyard schedules …``."""

    @abc.abstractmethod
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The server's successful response, or raise the error it answered."""

    def create_schedule(
        self,
        name: str,
        model: str,
        *,
        cron: str,
        input: str,
        output: str,
        timezone: str = "UTC",
        paused: bool = False,
        **options: Any,
    ) -> Schedule:
        """A new batch schedule (``shipyard schedules create``): ``model`` scored over
        ``input`` into ``output`` (paths on the server's machine, ``{date}`` and
        ``{time}`` filled in per run) at the times ``cron`` names in ``timezone``;
        ``options`` as :meth:`start_batch_job` takes them (``id_column``, ``chunk_rows``,
        ``rejects``, ``fail_on_reject``, ``log_fraction``, ``format``, ``workers``,
        ``engine``, ``ray_address``)."""
        body = {
            "name": name,
            "model": model,
            "cron": cron,
            "input": input,
            "output": output,
            "timezone": timezone,
            "paused": paused,
            **options,
        }
        return Schedule.model_validate(self._request("POST", "/schedules", json=body).json())

    def list_schedules(self) -> list[Schedule]:
        """Every batch schedule, by name (``shipyard schedules list``)."""
        found = self._request("GET", "/schedules").json()
        return TypeAdapter(list[Schedule]).validate_python(found)

    def get_schedule(self, name: str) -> Schedule:
        """A batch schedule, its next run and its last run (``shipyard schedules show``)."""
        return Schedule.model_validate(self._request("GET", _path(name)).json())

    def update_schedule(self, name: str, **changes: Any) -> Schedule:
        """Change the fields given (``shipyard schedules update``, ``pause``, ``resume``:
        ``paused=True`` or ``False``); ``id_column=None`` or ``rejects=None`` return to
        the default."""
        found = self._request("PATCH", _path(name), json=changes).json()
        return Schedule.model_validate(found)

    def delete_schedule(self, name: str) -> Schedule:
        """Remove the schedule; its runs' jobs and outputs stay (``shipyard schedules delete``)."""
        return Schedule.model_validate(self._request("DELETE", _path(name)).json())

    def run_schedule(self, name: str, *, at: datetime | str | None = None) -> Job:
        """Start a run of the schedule on the server now, or for the scheduled time
        ``at`` (to resume that run); returns its job, ``running`` (``shipyard schedules
        run``)."""
        params = {} if at is None else {"at": at if isinstance(at, str) else at.isoformat()}
        found = self._request("POST", _path(name, "run"), params=params).json()
        return Job.model_validate(found)
