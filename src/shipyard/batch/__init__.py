"""Offline (batch) scoring: files of any size scored in chunks with the same versions and
signature checks as online serving."""

from shipyard.batch.engine import BatchResult, BatchSpec, run_local

__all__ = ["BatchResult", "BatchSpec", "run_local"]
