"""The data plane over HTTP: routes of both protocols onto :class:`DataPlane`.

Built by :func:`create_app`, which ``shipyard serve`` hands to uvicorn as a factory so
that every worker process builds (and loads) its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from shipyard.auth import Authenticator
from shipyard.auth.roles import data_plane_rule
from shipyard.config import Settings
from shipyard.errors import InvalidInputError, ShipyardError
from shipyard.predictions import FeedbackStore, PredictionLogWriter
from shipyard.registry import Registry
from shipyard.serving import logs
from shipyard.serving.dataplane import DataPlane, parse_fallback, parse_targets
from shipyard.serving.lane import (
    JSON_OPTIONS,
    InferenceLane,
    Receive,
    Scope,
    Send,
    authorization_of,
    path_of,
    refuse,
)
from shipyard.serving.metrics import Metrics

log = logging.getLogger("shipyard.serving")


def _json(data: Any, status: int = 200) -> Response:
    return _raw(orjson.dumps(data, option=JSON_OPTIONS), status)


def _raw(body: bytes, status: int, rid: str | None = None) -> Response:
    headers = {"x-request-id": rid} if rid else None
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


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


_FEEDBACK_BODY = _json_body(
    {
        "type": "object",
        "description": "One label (request_id, label, optional row) or several under feedback.",
        "properties": {
            "request_id": {"type": "string"},
            "label": {},
            "row": {"type": "integer", "minimum": 0},
            "feedback": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["request_id", "label"],
                    "properties": {
                        "request_id": {"type": "string"},
                        "label": {},
                        "row": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
    }
)

#: Most labels one feedback request may carry.
MAX_FEEDBACK = 10_000


def feedback_records(body: Any) -> list[dict[str, Any]]:
    """The labels of a feedback body: ``{"request_id", "label"[, "row"]}`` or
    ``{"feedback": [...]}`` of such objects; anything else is refused, naming the field
    (a listed label missing its id or value is kept, and rejected in the receipt)."""
    if not isinstance(body, dict):
        raise InvalidInputError(
            'the body must be an object: {"request_id": ..., "label": ...} or '
            '{"feedback": [{"request_id": ..., "label": ...}, ...]}'
        )
    if "feedback" in body:
        items = body["feedback"]
        if not isinstance(items, list) or not items:
            raise InvalidInputError("feedback must be a non-empty list of labels")
        if len(items) > MAX_FEEDBACK:
            raise InvalidInputError(
                f"feedback holds {len(items)} labels; send at most {MAX_FEEDBACK} per request "
                "(or load a file with: shipyard feedback load)"
            )
        unknown = sorted(set(body) - {"feedback"})
    else:
        items, unknown = [body], []
    allowed = {"request_id", "label", "row"}
    for at, item in enumerate(items):
        where = f"feedback.{at}" if "feedback" in body else "the body"
        if not isinstance(item, dict):
            raise InvalidInputError(f"{where} must be an object with request_id and label")
        extra = sorted(set(item) - allowed)
        # In a list, a label without its id or value (or with a bad row) is counted as
        # rejected in the receipt, as a file's row is; a lone one is refused.
        missing = [] if "feedback" in body else sorted({"request_id", "label"} - set(item))
        row = item.get("row", 0)
        if "feedback" not in body and (
            isinstance(row, bool) or not isinstance(row, int) or row < 0
        ):
            raise InvalidInputError(
                f"the body: row must be a whole number from 0 (the row of a multi-row "
                f"request); got {row!r}"
            )
        if extra or missing or unknown:
            raise InvalidInputError(
                f"{where}: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {', '.join(missing)}" if missing else "",
                        f"unknown field(s) {', '.join(extra + unknown)}"
                        if extra or unknown
                        else "",
                    )
                    if part
                )
                + "; give request_id (as answered by predict), label and, for a multi-row "
                "request, row"
            )
    return [{"request_id": None, "label": None} | dict(item) for item in items]


class DataPlaneApp(FastAPI):
    """The data plane's FastAPI application, with inference requests answered by an
    :class:`~shipyard.serving.lane.InferenceLane` before any routing or middleware, and
    every other request's caller checked (:func:`~shipyard.auth.roles.data_plane_rule`)
    before routing."""

    lane: InferenceLane | None = None
    auth: Authenticator | None = None
    metrics_public: bool = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lane is not None and await self.lane(scope, receive, send):
            return
        if scope["type"] == "http" and self.auth is not None:
            rule = data_plane_rule(scope["method"], path_of(scope), self.metrics_public)
            if await refuse(self.auth, scope, send, authorization_of(scope), rule):
                return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    plane: DataPlane | None = None,
    *,
    auth: Authenticator | None = None,
) -> DataPlaneApp:
    """The data-plane application for ``settings.serve`` (or a ready-made ``plane``).
    Callers are checked by ``auth`` (default: one on the plane's store, per
    ``SHIPYARD_AUTH``)."""
    settings = settings or Settings()
    logs.configure(settings.log_level)
    if plane is None:
        if not settings.serve and not settings.endpoints and not settings.on_demand_alias:
            raise InvalidInputError(
                "nothing to serve; run shipyard serve ENDPOINT or shipyard serve "
                "models:/NAME@ALIAS (or set SHIPYARD_ENDPOINTS or SHIPYARD_SERVE)"
            )
        plane = DataPlane(
            Registry.from_settings(settings),
            parse_targets(settings.serve) if settings.serve else [],
            endpoints=[e.strip() for e in (settings.endpoints or "").split(",") if e.strip()],
            on_demand_alias=settings.on_demand_alias or None,
            max_batch_size=settings.max_batch_size,
            max_wait_ms=settings.max_wait_ms,
            timeout_s=settings.request_timeout_ms / 1000,
            fallback=parse_fallback(settings.fallback),
            breaker_failures=settings.breaker_failures,
            breaker_reset_s=settings.breaker_reset_s,
            options=settings.model_options,
            metrics=Metrics(settings.metrics_dir),
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
        if not data_plane.models and not data_plane.routes:
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
        for route in data_plane.routes.values():
            log.info(
                "serving endpoint",
                extra={
                    "endpoint": route.name,
                    "revision": route.revision,
                    "kind": route.policy.kind,
                },
            )
        follower = asyncio.get_running_loop().create_task(data_plane.follow(follow_seconds))
        yield
        follower.cancel()
        await data_plane.stop()
        if data_plane.prediction_log is not None:
            data_plane.prediction_log.close()
        data_plane.metrics.close()
        data_plane.registry.db.dispose()  # reconnects if used again; frees the server now
        log.info("drained", extra={"started": data_plane.started, "finished": data_plane.finished})

    app = DataPlaneApp(
        title="Shipyard data plane",
        version=data_plane.server_metadata()["version"],
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.plane = data_plane
    app.auth = auth or Authenticator.from_settings(data_plane.registry.db, settings)
    app.metrics_public = settings.metrics_public

    @app.exception_handler(ShipyardError)
    async def _shipyard_error(_: Request, exc: ShipyardError) -> Response:
        return _error(exc.status_code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            return _error(
                404,
                f"no route {request.url.path}; inference is at /v1/endpoints/NAME/predict, "
                "/v1/models/NAME/predict and /v2/models/NAME/infer (the REST API of "
                "shipyard server at /api/v1)",
            )
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
        await data_plane.ensure(name)
        return _json(data_plane.model_metadata(name))

    @app.get("/v2/models/{name}/versions/{version}")
    async def model_version_metadata(name: str, version: str) -> Response:
        await data_plane.ensure(name)
        return _json(data_plane.model_metadata(name, version))

    @app.get("/v2/models/{name}/ready")
    async def model_ready(name: str) -> Response:
        await data_plane.ensure(name)
        served = data_plane.model(name)
        return _json({"name": name, "ready": served.ready}, 200 if served.ready else 503)

    @app.get("/v2/models/{name}/versions/{version}/ready")
    async def model_version_ready(name: str, version: str) -> Response:
        await data_plane.ensure(name)
        served = data_plane.model(name, version)
        return _json({"name": name, "ready": served.ready}, 200 if served.ready else 503)

    # -- inference ----------------------------------------------------------------------
    # Answered by the lane in front of the app; declared here for the schema, and for a
    # parent application that uses this app's router directly.

    metrics = data_plane.metrics
    lane = app.lane = InferenceLane(data_plane, limit, app.auth)

    async def answer(
        protocol: str, name: str, version: str | None, request: Request, endpoint: bool = False
    ) -> Response:
        status, body, rid = await lane.answer(
            protocol,
            name,
            version,
            request.receive,
            request.headers.get("content-length"),
            request.headers.get("x-request-id"),
            request.headers.raw if endpoint else None,
        )
        return _raw(body, status, rid)

    @app.post("/v2/models/{name}/infer", openapi_extra=_V2_BODY)
    async def infer(name: str, request: Request) -> Response:
        return await answer("v2", name, None, request)

    @app.post("/v2/models/{name}/versions/{version}/infer", openapi_extra=_V2_BODY)
    async def infer_version(name: str, version: str, request: Request) -> Response:
        return await answer("v2", name, version, request)

    @app.post("/v1/models/{name}/predict", openapi_extra=_V1_BODY)
    async def predict(name: str, request: Request) -> Response:
        return await answer("v1", name, None, request)

    @app.post("/v1/endpoints/{name}/predict", openapi_extra=_V1_BODY)
    async def predict_endpoint(name: str, request: Request) -> Response:
        return await answer("v1e", name, None, request, endpoint=True)

    @app.post("/v2/endpoints/{name}/infer", openapi_extra=_V2_BODY)
    async def infer_endpoint(name: str, request: Request) -> Response:
        return await answer("v2e", name, None, request, endpoint=True)

    @app.get("/v1/endpoints/{name}")
    async def endpoint_metadata(name: str) -> Response:
        return _json(data_plane.route(name).metadata())

    @app.get("/v1/endpoints/{name}/ready")
    async def endpoint_ready(name: str) -> Response:
        ok = data_plane.route(name).ready
        return _json({"name": name, "ready": ok}, 200 if ok else 503)

    feedback = FeedbackStore(settings.feedback)

    async def store_feedback(source: str, request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError as exc:
            raise InvalidInputError(f"the body is not valid JSON: {exc}") from None
        records = feedback_records(body)
        row_column = "row" if any("row" in r for r in records) else None
        if row_column:  # a label without a row is for row 0, as when none has one
            records = [{"row": 0} | r for r in records]
        loop = asyncio.get_running_loop()
        receipt = await loop.run_in_executor(
            None, lambda: feedback.add(records, row_column=row_column, source=source)
        )
        return _json(receipt.to_dict())

    @app.post("/v1/endpoints/{name}/feedback", openapi_extra=_FEEDBACK_BODY)
    async def endpoint_feedback(name: str, request: Request) -> Response:
        data_plane.route(name)  # an endpoint not served here is a 404
        return await store_feedback(f"endpoint {name}", request)

    @app.post("/v1/models/{name}/feedback", openapi_extra=_FEEDBACK_BODY)
    async def model_feedback(name: str, request: Request) -> Response:
        await data_plane.ensure(name)
        data_plane.model(name)
        return await store_feedback(f"model {name}", request)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return app
