"""``shipyard serve``: run the data plane for registered models."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from pydantic import ValidationError

from shipyard.cli._common import console, registry
from shipyard.cli.server import check_exposure, tls
from shipyard.config import ModelServing, Settings
from shipyard.errors import InvalidInputError
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
    model_options: list[str] | None = None,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    allow_unauthenticated: bool = False,
) -> None:
    """Serve models over HTTP: Open Inference Protocol V2 and plain JSON."""
    import uvicorn

    from shipyard.serving.protocol import LaneProtocol

    settings = Settings()
    secure = tls(settings, ssl_certfile, ssl_keyfile)
    check_exposure(host or settings.host, settings, allow_unauthenticated)
    if settings.auth:
        from shipyard.auth import bootstrap

        made = bootstrap(registry().db, settings.home, settings.actor)
        if made is not None:
            console.print(f"saved an admin token to {made}; send it as Authorization: Bearer")
    parts = [part.strip() for part in target.split(",") if part.strip()]
    names = [part for part in parts if not part.startswith("models:/")]
    models = ",".join(part for part in parts if part.startswith("models:/"))
    uris = parse_targets(models) if models or not names else []
    for uri in uris:  # fail fast, in one line, before any worker starts
        version = registry().resolve(uri)
        console.print(f"serving {uri} (version {version.version}, {version.flavor})")
    if names:
        from shipyard.cli.endpoints import service

        endpoints = service()
        for name in dict.fromkeys(names):
            current = endpoints.get_endpoint(name).current
            models_text = ", ".join(v.model for v in current.policy.variants)
            console.print(
                f"serving endpoint {name} at revision {current.revision} "
                f"({current.policy.kind}: {models_text})"
            )
        os.environ["SHIPYARD_ENDPOINTS"] = ",".join(dict.fromkeys(names))
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
    if model_options:
        chosen = parse_model_options(model_options, [uri.name for uri in uris])
        for options in chosen.values():
            if options.fallback is not None:
                parsed = parse_fallback(options.fallback)
                if isinstance(parsed, ModelURI):
                    registry().resolve(parsed)
        os.environ["SHIPYARD_MODEL_OPTIONS"] = json.dumps(
            {name: options.model_dump(exclude_none=True) for name, options in chosen.items()}
        )
    bind_host = host or settings.host
    bind_port = settings.port if port is None else port
    scheme = "https" if secure else "http"
    console.print(f"listening on {scheme}://{bind_host}:{bind_port} with {workers} worker(s)")
    shared = None
    if workers > 1 and settings.metrics_dir is None:  # workers share /metrics through files
        shared = tempfile.mkdtemp(prefix="shipyard-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
    try:
        uvicorn.run(
            "shipyard.serving.app:create_app",
            factory=True,
            host=bind_host,
            port=bind_port,
            workers=workers,
            loop="uvloop",
            http=LaneProtocol,
            access_log=False,
            proxy_headers=False,  # the data plane reads no client address: skip the rewrite
            log_level="warning",
            timeout_graceful_shutdown=30,
            **secure,  # type: ignore[arg-type]
        )
    finally:
        if shared is not None:
            shutil.rmtree(shared, ignore_errors=True)


def parse_model_options(items: list[str], served: list[str]) -> dict[str, ModelServing]:
    """``["fraud.max_batch_size=16", ...]`` -> options by model, each checked."""
    keys = ", ".join(ModelServing.model_fields)
    raw: dict[str, dict[str, str]] = {}
    for item in items:
        assignment, equals, value = item.partition("=")
        name, dot, key = assignment.rpartition(".")
        if not equals or not dot or not name or not key:
            raise InvalidInputError(
                f"--model-option {item!r}: expected NAME.KEY=VALUE, e.g. fraud.max_batch_size=16"
            )
        if key not in ModelServing.model_fields:
            raise InvalidInputError(f"--model-option {item!r}: unknown option {key!r}; use {keys}")
        if name not in served:
            raise InvalidInputError(
                f"--model-option {item!r}: model {name!r} is not served; served: "
                f"{', '.join(served)}"
            )
        raw.setdefault(name, {})[key] = value
    chosen = {}
    for name, values in raw.items():
        try:
            chosen[name] = ModelServing.model_validate(values)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            raise InvalidInputError(
                f"--model-option {name}.{field}={values.get(field, '')}: {error['msg']}"
            ) from None
    return chosen
