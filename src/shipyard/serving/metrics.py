"""Prometheus metrics of the data plane, kept in a registry of its own per app.

With several worker processes, each worker writes its values to files in a shared
directory (prometheus_client's multiprocess mode) and ``/metrics``, whichever worker
answers it, sums them all.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """Requests, latency, batching and model loading, labelled by model and version."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "shipyard_requests_total",
            "Inference requests by model, version, protocol and HTTP status.",
            ["model", "version", "protocol", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shipyard_request_seconds",
            "Time from a request's body being read to its answer, by model and protocol.",
            ["model", "protocol"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_rows = Histogram(
            "shipyard_batch_rows",
            "Rows per model call after adaptive batching.",
            ["model"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "shipyard_queue_depth",
            "Requests left waiting for the model when it last took a batch, by model.",
            ["model"],
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.load_seconds = Gauge(
            "shipyard_model_load_seconds",
            "Time taken to load and warm the served version.",
            ["model", "version"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        self.fallbacks = Counter(
            "shipyard_fallbacks_total",
            "Requests answered by a fallback instead of the model.",
            ["model"],
            registry=self.registry,
        )

        self.endpoint_requests = Counter(
            "shipyard_endpoint_requests_total",
            "Inference requests through an endpoint by endpoint, variant that answered "
            "(empty when none did), protocol and HTTP status.",
            ["endpoint", "variant", "protocol", "status"],
            registry=self.registry,
        )
        self.endpoint_latency = Histogram(
            "shipyard_endpoint_request_seconds",
            "Time from a request's body being read to its answer, by endpoint and protocol.",
            ["endpoint", "protocol"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.shadows_dropped = Counter(
            "shipyard_shadow_copies_dropped_total",
            "Request copies a shadow missed because it was backed up, by endpoint.",
            ["endpoint"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        """The text exposition format (of every worker, in multiprocess mode)."""
        if self.directory is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(self.directory))  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def close(self) -> None:
        """Withdraw this process's live gauges (multiprocess mode) as it exits."""
        if self.directory is not None:
            multiprocess.mark_process_dead(os.getpid(), path=str(self.directory))  # type: ignore[no-untyped-call]
