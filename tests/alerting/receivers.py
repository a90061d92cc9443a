"""Real receivers on 127.0.0.1, started by the tests: an HTTP server that records every
POST (and can answer errors first), and an SMTP server (aiosmtpd) that records every
message."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


class HTTPReceiver:
    """POSTs received at ``url``, as (path, JSON body); answers the statuses in
    ``failures`` first, then 200."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        self.failures: list[int] = []
        self.answered: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                size = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(size))
                status = receiver.failures.pop(0) if receiver.failures else 200
                receiver.answered.append(status)
                if status == 200:
                    receiver.received.append((self.path, body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"no")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self, path: str) -> list[Any]:
        return [body for p, body in self.received if p == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class _Collect:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        found = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(found, EmailMessage)
        self.messages.append(found)
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SMTPReceiver:
    """An SMTP server on 127.0.0.1:``port``; ``messages`` holds what arrived."""

    def __init__(self) -> None:
        self.handler = _Collect()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def close(self) -> None:
        self.controller.stop()


def receivers() -> Iterator[tuple[HTTPReceiver, SMTPReceiver]]:
    http, smtp = HTTPReceiver(), SMTPReceiver()
    try:
        yield http, smtp
    finally:
        http.close()
        smtp.close()
