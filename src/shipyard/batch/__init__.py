"""Offline (batch) scoring: files of any size scored in chunks with the same versions and
signature checks as online serving."""

from shipyard.batch.engine import BatchResult, BatchSpec, run_local
from shipyard.batch.jobs import Job, JobCancelled, Jobs, run_job

__all__ = ["BatchResult", "BatchSpec", "Job", "JobCancelled", "Jobs", "run_job", "run_local"]
