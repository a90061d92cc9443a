"""Inference over HTTP, straight on ASGI.

The inference routes are the hot path: a general web framework's routing, middleware
and dependency machinery would cost more per request than a compiled model's answer.
:class:`InferenceLane` answers ``POST /v1/models/{name}/predict``,
``POST /v2/models/{name}/infer``, ``POST /v2/models/{name}/versions/{version}/infer`` and,
for endpoints, ``POST /v1/endpoints/{name}/predict`` and ``POST /v2/endpoints/{name}/infer``
with nothing between the server and the data plane; the data-plane application
(:mod:`shipyard.serving.app`) hands it those requests first, and declares the same routes
(for the OpenAPI schema, and for when its router is used without the application), which
answer through the same :meth:`InferenceLane.answer`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from shipyard.auth import Authenticator
from shipyard.errors import InvalidInputError, PayloadTooLargeError, ShipyardError, error_headers
from shipyard.serving.dataplane import DataPlane

log = logging.getLogger("shipyard.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_JSON_TYPE = (b"content-type", b"application/json")


def error_body(message: str) -> bytes:
    """The error body of both protocols: ``{"error": "..."}``."""
    return orjson.dumps({"error": message})


#: What an inference path names: ``(protocol, model or endpoint, version)``; the
#: protocol is ``v1``/``v2`` for a model, ``v1e``/``v2e`` for an endpoint.
Target = tuple[str, str, str | None]


def path_of(scope: Scope) -> str:
    """The request's path below the application's root path."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def route(path: str) -> Target | None:
    """What an inference path names (see :data:`Target`), else ``None``."""
    parts = path.split("/")
    if len(parts) == 5 and parts[0] == "" and parts[3]:
        if parts[2] == "models":
            if parts[1] == "v1" and parts[4] == "predict":
                return "v1", parts[3], None
            if parts[1] == "v2" and parts[4] == "infer":
                return "v2", parts[3], None
        elif parts[2] == "endpoints":
            if parts[1] == "v1" and parts[4] == "predict":
                return "v1e", parts[3], None
            if parts[1] == "v2" and parts[4] == "infer":
                return "v2e", parts[3], None
    if (
        len(parts) == 7
        and parts[:3] == ["", "v2", "models"]
        and parts[3]
        and parts[4] == "versions"
        and parts[5]
        and parts[6] == "infer"
    ):
        return "v2", parts[3], parts[5]
    return None


async def refuse(
    auth: Authenticator | None,
    scope: Scope,
    send: Send,
    authorization: str | None,
    rule: tuple[str, str | None, str | None],
) -> bool:
    """Answer a request whose caller may not make it (401, 403 or 429) and say so;
    ``False`` lets it through."""
    if auth is None or not auth.enabled or rule[0] == "open":
        return False
    try:
        await auth.check(authorization, *rule)
    except ShipyardError as exc:
        payload = error_body(exc.message)
        headers = [_JSON_TYPE, (b"content-length", str(len(payload)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in error_headers(exc).items()]
        await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        return True
    return False


def authorization_of(scope: Scope) -> str | None:
    """The request's ``Authorization`` header, if any."""
    for key, value in scope["headers"]:
        if key == b"authorization":
            return str(value.decode("latin-1"))
    return None


class InferenceLane:
    """Reads an inference request, checks its caller, runs it on the data plane, and
    writes the answer, counting and timing it whatever its outcome."""

    def __init__(self, plane: DataPlane, limit: int, auth: Authenticator | None = None) -> None:
        self.plane = plane
        self.limit = limit
        self.auth = auth
        self._counters: dict[tuple[str, str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer ``scope`` if it is an inference request; ``False`` leaves it to the app."""
        if scope["type"] != "http" or scope["method"] != "POST":
            return False
        found = route(path_of(scope))
        if found is None:
            return False
        length = rid = authorization = None
        for key, value in scope["headers"]:
            if key == b"content-length":
                length = value.decode("latin-1")
            elif key == b"x-request-id":
                rid = value.decode("latin-1")
            elif key == b"authorization":
                authorization = value.decode("latin-1")
        protocol, name, version = found
        if self.auth is not None and await refuse(
            self.auth, scope, send, authorization, self.rule(protocol, name)
        ):
            return True
        status, payload, rid = await self.answer(
            protocol, name, version, receive, length, rid, scope["headers"]
        )
        headers = [_JSON_TYPE, (b"content-length", str(len(payload)).encode())]
        if rid:
            headers.append((b"x-request-id", rid.encode("latin-1", "replace")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
        return True

    @staticmethod
    def rule(protocol: str, name: str) -> tuple[str, str | None, str | None]:
        """What an inference request needs: ``infer`` on its model or endpoint."""
        return "infer", "endpoint" if protocol.endswith("e") else "model", name

    async def admit(
        self, protocol: str, name: str, authorization: str | None
    ) -> ShipyardError | None:
        """Why the caller may not make this inference request, or ``None`` if they may."""
        auth = self.auth
        if auth is None or not auth.enabled:
            return None
        try:
            await auth.check(authorization, *self.rule(protocol, name))
        except ShipyardError as exc:
            return exc
        return None

    async def answer(
        self,
        protocol: str,
        name: str,
        version: str | None,
        receive: Receive,
        length: str | None,
        rid: str | None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> tuple[int, bytes, str | None]:
        """``(status, JSON body, request id)`` for one inference request read from ASGI."""
        raw: bytes | ShipyardError
        try:
            raw = await self._read(receive, length)
        except ShipyardError as exc:
            raw = exc
        return await self.respond(protocol, name, version, raw, rid, headers)

    async def respond(
        self,
        protocol: str,
        name: str,
        version: str | None,
        raw: bytes | bytearray | ShipyardError,
        rid: str | None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> tuple[int, bytes, str | None]:
        """``(status, JSON body, request id)`` for a request whose body is ``raw`` (or
        could not be read: the error says why); ``headers`` are read for an endpoint whose
        variants are assigned by a header."""
        plane = self.plane
        started = time.perf_counter()
        plane.started += 1
        served_version = "unknown"
        status = 500
        try:
            if isinstance(raw, ShipyardError):
                raise raw
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise InvalidInputError(f"the body is not valid JSON: {exc}") from exc
            if protocol == "v1":
                result = await plane.predict_v1(name, body, rid)
                rid, served_version = result["request_id"], str(result["version"])
            elif protocol == "v1e":
                result = await plane.predict_endpoint(name, "v1", body, rid, headers)
                rid, served_version = result["request_id"], result["variant"]
            elif protocol == "v2e":
                result = await plane.predict_endpoint(name, "v2", body, rid, headers)
                rid, served_version = result["id"], result["parameters"]["variant"]
            else:
                result = await plane.infer_v2(name, version, body, rid)
                rid, served_version = result["id"], result["model_version"]
            payload = orjson.dumps(result, option=JSON_OPTIONS)
            status = 200
            return status, payload, rid
        except ShipyardError as exc:
            status = exc.status_code
            return status, error_body(exc.message), rid
        except Exception as exc:
            log.exception("unexpected error", extra={"model": name, "request_id": rid})
            return (
                500,
                error_body(f"internal error ({type(exc).__name__}); see the server log"),
                rid,
            )
        finally:
            plane.finished += 1
            # Unknown names would grow the label set without bound: count only served ones.
            if name in plane.slots and not protocol.endswith("e"):
                self._count(name, served_version, protocol, status)
                self._time(name, protocol, time.perf_counter() - started)
            elif name in plane.routes and protocol.endswith("e"):
                variant = "" if served_version == "unknown" else served_version
                metrics = plane.metrics
                metrics.endpoint_requests.labels(name, variant, protocol[:2], str(status)).inc()
                metrics.endpoint_latency.labels(name, protocol[:2]).observe(
                    time.perf_counter() - started
                )

    def too_large(self) -> PayloadTooLargeError:
        return PayloadTooLargeError(
            f"the body is larger than {self.limit} bytes; send fewer rows at once"
        )

    async def _read(self, receive: Receive, length: str | None) -> bytes:
        limit = self.limit
        if length is not None and length.isdigit() and int(length) > limit:
            raise self.too_large()
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise InvalidInputError("the client went away before sending the whole body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise self.too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _count(self, name: str, version: str, protocol: str, status: int) -> None:
        key = (name, version, protocol, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self.plane.metrics.requests.labels(name, version, protocol, str(status))
            self._counters[key] = counter
        counter.inc()

    def _time(self, name: str, protocol: str, seconds: float) -> None:
        key = (name, protocol)
        timer = self._timers.get(key)
        if timer is None:
            timer = self._timers[key] = self.plane.metrics.latency.labels(name, protocol)
        timer.observe(seconds)
