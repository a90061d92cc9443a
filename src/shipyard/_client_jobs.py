"""The calls of :class:`shipyard.Client` on batch jobs.

:class:`BatchJobs` is a mixin: :class:`~shipyard.client.Client` inherits it and supplies
:meth:`~BatchJobs._request`.
"""

from __future__ import annotations

import abc
from typing import Any

import httpx
from pydantic import TypeAdapter

from shipyard.batch.jobs import Job


class BatchJobs(abc.ABC):
    """Batch scoring jobs over ``/api/v1/jobs``."""

    @abc.abstractmethod
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """The server's successful response, or raise the error it answered."""

    def start_batch_job(
        self,
        model: str,
        *,
        input: str,
        output: str,
        id_column: str | None = None,
        chunk_rows: int | None = None,
        rejects: str | None = None,
        fail_on_reject: bool = False,
        job_id: str | None = None,
        log_fraction: float = 1.0,
        format: str = "parquet",
        workers: int | None = None,
        engine: str = "local",
        ray_address: str | None = None,
    ) -> Job:
        """Start scoring ``input`` (a path on the server's machine) into ``output`` on
        the server (``shipyard batch score``); returns the job's record, ``running``."""
        body: dict[str, Any] = {
            "model": model,
            "input": input,
            "output": output,
            "id_column": id_column,
            "chunk_rows": chunk_rows,
            "rejects": rejects,
            "fail_on_reject": fail_on_reject,
            "job_id": job_id,
            "log_fraction": log_fraction,
            "format": format,
            "workers": workers,
            "engine": engine,
            "ray_address": ray_address,
        }
        sent = {k: v for k, v in body.items() if v is not None}
        return Job.model_validate(self._request("POST", "/jobs", json=sent).json())

    def list_batch_jobs(self, state: str | None = None, *, limit: int = 100) -> list[Job]:
        """Batch jobs, newest first (``shipyard jobs list``)."""
        params: dict[str, Any] = {"limit": limit} | ({"state": state} if state else {})
        found = self._request("GET", "/jobs", params=params).json()
        return TypeAdapter(list[Job]).validate_python(found)

    def get_batch_job(self, job_id: str) -> Job:
        """A job's record (``shipyard jobs show``)."""
        return Job.model_validate(self._request("GET", f"/jobs/{job_id}").json())

    def cancel_batch_job(self, job_id: str) -> Job:
        """Ask a running job to stop after its current chunk (``shipyard jobs cancel``)."""
        return Job.model_validate(self._request("POST", f"/jobs/{job_id}/cancel").json())
