"""uvicorn's HTTP/1.1 protocol, with inference requests answered without ASGI.

``shipyard serve`` runs uvicorn with :class:`LaneProtocol`. For a ``POST`` to an
inference route (:func:`shipyard.serving.lane.route`) it gathers the body as uvicorn's
parser delivers it, hands it to the application's :class:`~shipyard.serving.lane.
InferenceLane`, and writes the whole answer (status line, headers, body) in one write,
skipping the per-request ASGI machinery (a scope, a request/response cycle object, an
event, two messages and their header checks). Every other request, anything unusual
(``Expect: 100-continue``, a percent-encoded path, a request pipelined behind an
unfinished one, a root path) and any application without a lane go through uvicorn as
usual. Keep-alive, pipelining, shutdown and the keep-alive timeout stay uvicorn's: the
in-flight exchange offers the attributes its code reads from a request/response cycle.
"""

from __future__ import annotations

import asyncio
import http
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shipyard.errors import ShipyardError, error_headers
from shipyard.serving.lane import InferenceLane, error_body, route

_JSON_HEADERS = b"content-type: application/json\r\ncontent-length: "


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase.encode()
    except ValueError:
        phrase = b""
    return b"HTTP/1.1 %d %s\r\n" % (status, phrase)


_STATUS_LINES = {status.value: _status_line(status.value) for status in http.HTTPStatus}


class _Event:
    """What uvicorn sets on a cycle when the connection is lost: nothing waits on it here."""

    def set(self) -> None:
        return None


class _Exchange:
    """One inference request on a connection, as uvicorn's protocol sees a cycle."""

    __slots__ = (
        "authorization",
        "body",
        "disconnected",
        "error",
        "headers",
        "keep_alive",
        "message_event",
        "model",
        "request_id",
        "response_complete",
        "route",
        "started",
        "version",
    )

    def __init__(
        self, found: tuple[str, str, str | None], request_id: str | None, keep_alive: bool
    ) -> None:
        self.route, self.model, self.version = found
        self.headers: list[tuple[bytes, bytes]] | None = None
        self.authorization: str | None = None
        self.request_id = request_id
        self.keep_alive = keep_alive
        self.body = bytearray()
        self.error: ShipyardError | None = None
        self.disconnected = False
        self.response_complete = False
        self.started = False
        self.message_event = _Event()


def _lane_of(app: Any) -> InferenceLane | None:
    """The inference lane of the served application (under any middleware wrappers)."""
    for _ in range(8):
        lane = getattr(app, "lane", None)
        if isinstance(lane, InferenceLane):
            return lane
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


class LaneProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; inference requests go straight to the lane."""

    _found: tuple[InferenceLane | None] | None = None

    def _lane(self) -> InferenceLane | None:
        """The application's lane, looked up once per connection."""
        if self._found is None:
            self._found = (_lane_of(self.app),)
        return self._found[0]

    def on_headers_complete(self) -> None:
        exchange = self._exchange()
        if exchange is None:
            super().on_headers_complete()
            return
        self.cycle = exchange  # type: ignore[assignment]
        if exchange.error is not None:  # refused on its declared length: answer, then close
            exchange.keep_alive = False
            self._start(exchange)

    def _exchange(self) -> _Exchange | None:
        lane = self._lane()
        if (
            lane is None
            or self.root_path
            or self.expect_100_continue
            or self.limit_concurrency is not None
            or (self.cycle is not None and not self.cycle.response_complete)
            or self.parser.get_method() != b"POST"
            or self.parser.should_upgrade()
        ):
            return None
        path = self.url.split(b"?", 1)[0]
        if b"%" in path:
            return None
        found = route(path.decode("latin-1"))
        if found is None:
            return None
        length = rid = authorization = None
        for key, value in self.headers:
            if key == b"content-length":
                length = value
            elif key == b"x-request-id":
                rid = value.decode("latin-1")
            elif key == b"authorization":
                authorization = value.decode("latin-1")
        keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
        exchange = _Exchange(found, rid, keep_alive)
        exchange.authorization = authorization
        if found[0].endswith("e"):  # an endpoint may assign variants by a header
            exchange.headers = self.headers
        if length is not None and length.isdigit() and int(length) > lane.limit:
            exchange.error = lane.too_large()
        return exchange

    def on_body(self, body: bytes) -> None:
        exchange = self.cycle
        if not isinstance(exchange, _Exchange):
            super().on_body(body)
            return
        if exchange.error is not None:
            return
        lane = self._lane()
        assert lane is not None
        if len(exchange.body) + len(body) > lane.limit:
            exchange.error = lane.too_large()
            exchange.body = bytearray()
            return
        exchange.body += body

    def on_message_complete(self) -> None:
        exchange = self.cycle
        if not isinstance(exchange, _Exchange):
            super().on_message_complete()
            return
        self._start(exchange)

    def _start(self, exchange: _Exchange) -> None:
        if exchange.started:
            return
        exchange.started = True
        lane = self._lane()
        assert lane is not None
        plane = lane.plane
        plane.waiting = (plane.waiting or 0) + 1  # answered at once when it is the only one

        def done(task: asyncio.Task[None]) -> None:
            plane.waiting = (plane.waiting or 1) - 1
            self.tasks.discard(task)

        task = self.loop.create_task(self._answer(exchange))
        task.add_done_callback(done)
        self.tasks.add(task)

    async def _answer(self, exchange: _Exchange) -> None:
        lane = self._lane()
        assert lane is not None
        refused = (
            await lane.admit(exchange.route, exchange.model, exchange.authorization)
            if lane.auth is not None
            else None
        )
        extra: dict[str, str] = {}
        if refused is not None:
            status, payload, rid = refused.status_code, error_body(refused.message), None
            extra = error_headers(refused)
        else:
            raw = exchange.error if exchange.error is not None else exchange.body
            status, payload, rid = await lane.respond(
                exchange.route,
                exchange.model,
                exchange.version,
                raw,
                exchange.request_id,
                exchange.headers,
            )
        if self.flow.write_paused and not exchange.disconnected:
            await self.flow.drain()  # the client reads slowly: wait, as uvicorn's send does
        if exchange.disconnected:
            exchange.response_complete = True
            return
        head = [_STATUS_LINES.get(status) or _status_line(status)]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [_JSON_HEADERS, b"%d\r\n" % len(payload)]
        if rid:
            head += [b"x-request-id: ", rid.encode("latin-1", "replace"), b"\r\n"]
        for header, text in extra.items():
            head += [header.lower().encode(), b": ", text.encode(), b"\r\n"]
        if not exchange.keep_alive:
            head.append(b"connection: close\r\n")
        head += [b"\r\n", payload]
        self.transport.write(b"".join(head))
        exchange.response_complete = True
        if not exchange.keep_alive:
            self.transport.close()
        self.on_response_complete()
