"""One place that turns every error into ``{"error": "…"}`` with the right status.

:class:`~shipyard.errors.ShipyardError` carries its status; its class name also goes out
in the ``X-Shipyard-Error`` header, so :class:`shipyard.Client` can raise the same class.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from shipyard.errors import ShipyardError, error_headers

log = logging.getLogger("shipyard.api")

ERROR_HEADER = "X-Shipyard-Error"
DOCS = "/api/v1/docs"


class ErrorBody(BaseModel):
    """What every failed request answers."""

    error: str
    """What went wrong, naming the field, and what to do about it."""


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the error body for each status."""
    described = {
        400: "Malformed request",
        401: "No API token, or one unknown, expired or revoked",
        403: "The token's role or scopes do not allow this",
        404: "No such model, version, alias or endpoint",
        409: "The change contradicts the current state",
        422: "A field failed validation",
        429: "The token sent more requests than its rate limit (see Retry-After)",
        503: "The metadata store cannot be reached",
    }
    return {s: {"model": ErrorBody, "description": described.get(s, "Error")} for s in statuses}


def _error(
    status: int, message: str, kind: str | None = None, extra: dict[str, str] | None = None
) -> Response:
    headers = ({ERROR_HEADER: kind} if kind else {}) | (extra or {})
    return Response(
        orjson.dumps({"error": message}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def describe_validation(errors: list[Any]) -> tuple[int, str]:
    """Status and message for pydantic/FastAPI request errors: the first one, by location."""
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()))
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        return 400, (
            f"the request body is not valid JSON ({detail} at position {where.split('.')[-1]}); "
            f"send a JSON object as described at {DOCS}"
        )
    message = str(first.get("msg", "invalid request")).removeprefix("Value error, ")
    return 422, f"{where}: {message}; see the request schema at {DOCS}"


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception a route can raise to an :class:`ErrorBody` reply."""

    @app.exception_handler(ShipyardError)
    async def _shipyard_error(_: Request, exc: ShipyardError) -> Response:
        return _error(exc.status_code, exc.message, type(exc).__name__, error_headers(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        status, message = describe_validation(list(exc.errors()))
        return _error(status, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail)
        if exc.status_code == 404:
            message = f"no route {request.url.path}; the routes are listed at {DOCS}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see {DOCS}"
        return _error(exc.status_code, message)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error", extra={"path": request.url.path})
        return _error(500, f"internal error ({type(exc).__name__}); see the server log")
