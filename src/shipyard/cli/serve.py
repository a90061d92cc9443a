"""``shipyard serve``: run the data plane for registered models."""

from __future__ import annotations

import os

from shipyard.cli._common import console, registry
from shipyard.config import Settings
from shipyard.registry.uri import ModelURI
from shipyard.serving.dataplane import parse_fallback, parse_targets


def serve(
    target: str,
    *,
    host: str | None,
    port: int | None,
    workers: int,
    max_batch_size: int | None = None,
    max_wait_ms: float | None = None,
    timeout_ms: float | None = None,
    fallback: str | None = None,
) -> None:
    """Serve models over HTTP: Open Inference Protocol V2 and plain JSON."""
    import uvicorn

    settings = Settings()
    uris = parse_targets(target)
    for uri in uris:  # fail fast, in one line, before any worker starts
        version = registry().resolve(uri)
        console.print(f"serving {uri} (version {version.version}, {version.flavor})")
    # Each worker process builds its app from Settings: hand the choices over through them.
    os.environ["SHIPYARD_SERVE"] = ",".join(str(uri) for uri in uris)
    if max_batch_size is not None:
        os.environ["SHIPYARD_MAX_BATCH_SIZE"] = str(max_batch_size)
    if max_wait_ms is not None:
        os.environ["SHIPYARD_MAX_WAIT_MS"] = str(max_wait_ms)
    if timeout_ms is not None:
        os.environ["SHIPYARD_REQUEST_TIMEOUT_MS"] = str(timeout_ms)
    if fallback is not None:
        parsed = parse_fallback(fallback)  # a bad value fails here, in one line
        if isinstance(parsed, ModelURI):
            registry().resolve(parsed)
        os.environ["SHIPYARD_FALLBACK"] = fallback
    bind_host = host or settings.host
    bind_port = settings.port if port is None else port
    console.print(f"listening on http://{bind_host}:{bind_port} with {workers} worker(s)")
    uvicorn.run(
        "shipyard.serving.app:create_app",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=30,
    )
