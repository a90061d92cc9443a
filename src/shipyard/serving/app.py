"""The data plane over HTTP: routes of both protocols onto :class:`DataPlane`.

Built by :func:`create_app`, which ``shipyard serve`` hands to uvicorn as a factory so
that every worker process builds (and loads) its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from shipyard.config import Settings
from shipyard.errors import InvalidInputError, PayloadTooLargeError, ShipyardError
from shipyard.predictions import PredictionLogWriter
from shipyard.registry import Registry
from shipyard.serving import logs
from shipyard.serving.dataplane import DataPlane, parse_fallback, parse_targets

log = logging.getLogger("shipyard.serving")
_JSON = orjson.OPT_SERIALIZE_NUMPY


def _json(data: Any, status: int = 200, rid: str | None = None) -> Response:
    headers = {"x-request-id": rid} if rid else None
    return Response(
        orjson.dumps(data, option=_JSON),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


async def _body(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    too_big = declared is not None and declared.isdigit() and int(declared) > limit
    raw = b"" if too_big else await request.body()
    if too_big or len(raw) > limit:
        raise PayloadTooLargeError(
            f"the body is larger than {limit} bytes; send fewer rows at once"
        )
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"the body is not valid JSON: {exc}") from exc


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting a JSON request body (parsed by hand, for speed)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_V1_BODY = _json_body(
    {
        "type": "object",
        "properties": {
            "instances": {"type": "array", "items": {"type": "object"}},
            "dataframe_split": {
                "type": "object",
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string"}},
                    "data": {"type": "array", "items": {"type": "array"}},
                },
            },
        },
    }
)
_V2_BODY = _json_body(
    {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "inputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "shape", "datatype", "data"],
                    "properties": {
                        "name": {"type": "string"},
                        "shape": {"type": "array", "items": {"type": "integer"}},
                        "datatype": {"type": "string"},
                        "data": {"type": "array"},
                    },
                },
            },
        },
    }
)


def create_app(settings: Settings | None = None, plane: DataPlane | None = None) -> FastAPI:
    """The data-plane application for ``settings.serve`` (or a ready-made ``plane``)."""
    settings = settings or Settings()
    logs.configure(settings.log_level)
    if plane is None:
        if not settings.serve:
            raise InvalidInputError(
                "nothing to serve; run shipyard serve models:/NAME@ALIAS (or set SHIPYARD_SERVE)"
            )
        plane = DataPlane(
            Registry.from_settings(settings),
            parse_targets(settings.serve),
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_wait_ms,
            timeout_s=settings.request_timeout_ms / 1000,
            fallback=parse_fallback(settings.fallback),
            breaker_failures=settings.breaker_failures,
            breaker_reset_s=settings.breaker_reset_s,
            prediction_log=(
                PredictionLogWriter(
                    settings.predictions, flush_interval=settings.prediction_log_flush_s
                )
                if settings.prediction_log
                else None
            ),
        )
    limit = settings.max_request_bytes
    follow_seconds = settings.follow_interval_s
    data_plane = plane

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not data_plane.models:
            data_plane.start()
        if data_plane.prediction_log is not None:
            data_plane.prediction_log.start()
        for served in data_plane.models.values():
            log.info(
                "serving",
                extra={
                    "uri": str(served.uri),
                    "version": served.version,
                    "load_seconds": round(served.load_seconds, 3),
                },
            )
        follower = asyncio.get_running_loop().create_task(data_plane.follow(follow_seconds))
        yield
        follower.cancel()
        await data_plane.stop()
        if data_plane.prediction_log is not None:
            data_plane.prediction_log.close()
        log.info("drained", extra={"started": data_plane.started, "finished": data_plane.finished})

    app = FastAPI(
        title="Shipyard data plane",
        version=data_plane.server_metadata()["version"],
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.plane = data_plane

    @app.exception_handler(ShipyardError)
    async def _shipyard_error(_: Request, exc: ShipyardError) -> Response:
        return _error(exc.status_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception(
            "unexpected error",
            extra={"path": request.url.path, "request_id": request.headers.get("x-request-id")},
        )
        return _error(500, f"internal error ({type(exc).__name__}); see the server log")

    # -- health and metadata ----------------------------------------------------------

    @app.get("/v2")
    async def server_metadata() -> Response:
        return _json(data_plane.server_metadata())

    @app.get("/v2/health/live")
    async def live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready")
    async def ready() -> Response:
        ok = data_plane.ready
        return _json({"ready": ok}, 200 if ok else 503)

    @app.get("/v2/models/{name}")
    async def model_metadata(name: str) -> Response:
        return _json(data_plane.model_metadata(name))

    @app.get("/v2/models/{name}/versions/{version}")
    async def model_version_metadata(name: str, version: str) -> Response:
        return _json(data_plane.model_metadata(name, version))

    @app.get("/v2/models/{name}/ready")
    async def model_ready(name: str) -> Response:
        served = data_plane.model(name)
        return _json({"name": name, "ready": served.ready}, 200 if served.ready else 503)

    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def model_version_ready(name: str, version: str) -> Response:
        served = data_plane.model(name, version)
        return _json({"name": name, "ready": served.ready}, 200 if served.ready else 503)

    # -- inference ----------------------------------------------------------------------

    metrics = data_plane.metrics

    async def answer(
        name: str, protocol: str, request: Request, call: Any, id_field: str
    ) -> Response:
        """Run one inference call, counting it and timing it whatever its outcome."""
        started = time.perf_counter()
        data_plane.started += 1
        rid = request.headers.get("x-request-id")
        version = "unknown"
        status = 500
        try:
            result = await call(await _body(request, limit), rid)
            version, status = str(result.get("version", result.get("model_version"))), 200
            return _json(result, rid=result[id_field])
        except ShipyardError as exc:
            status = exc.status_code
            raise
        finally:
            data_plane.finished += 1
            if name in data_plane.slots:  # unknown names would grow the label set unbounded
                metrics.requests.labels(name, version, protocol, str(status)).inc()
                metrics.latency.labels(name, protocol).observe(time.perf_counter() - started)

    @app.post("/v2/models/{name}/infer", openapi_extra=_V2_BODY)
    async def infer(name: str, request: Request) -> Response:
        async def call(body: Any, rid: str | None) -> dict[str, Any]:
            return await data_plane.infer_v2(name, None, body, rid)

        return await answer(name, "v2", request, call, "id")

    @app.post("/v2/models/{name}/versions/{version}/infer", openapi_extra=_V2_BODY)
    async def infer_version(name: str, version: str, request: Request) -> Response:
        async def call(body: Any, rid: str | None) -> dict[str, Any]:
            return await data_plane.infer_v2(name, version, body, rid)

        return await answer(name, "v2", request, call, "id")

    @app.post("/v1/models/{name}/predict", openapi_extra=_V1_BODY)
    async def predict(name: str, request: Request) -> Response:
        async def call(body: Any, rid: str | None) -> dict[str, Any]:
            return await data_plane.predict_v1(name, body, rid)

        return await answer(name, "v1", request, call, "request_id")

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app
