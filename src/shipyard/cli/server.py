"""``shipyard server``: the control plane (REST API under ``/api/v1``) and the data plane
(every endpoint, and the models ``SHIPYARD_SERVE`` names) in one process."""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl
from pathlib import Path

from shipyard.cli._common import console
from shipyard.config import Settings
from shipyard.errors import ConflictError, InvalidInputError


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or an error saying why not and what to do."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise InvalidInputError(
            f"--host {host!r} is not an address of this machine ({exc.strerror}); "
            "use e.g. 127.0.0.1 or 0.0.0.0"
        ) from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConflictError(
                f"port {port} on {host} is already in use; stop what listens there or choose "
                "another port with --port (or SHIPYARD_PORT)"
            ) from None
        raise InvalidInputError(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another --host or --port "
            "(ports below 1024 need root)"
        ) from None
    return sock


def check_exposure(host: str, settings: Settings, allowed: bool) -> None:
    """With authentication off, refuse to listen beyond this machine unless told to
    (``--allow-unauthenticated``)."""
    if settings.auth or allowed or settings.allow_unauthenticated:
        return
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except socket.gaierror:
        return  # bind() says what is wrong with the name
    if all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        return
    raise InvalidInputError(
        f"--host {host} with SHIPYARD_AUTH=false would let anyone who reaches this machine "
        "read and change everything. Turn authentication back on (unset SHIPYARD_AUTH), "
        "listen on 127.0.0.1, or put a proxy that authenticates in front and pass "
        "--allow-unauthenticated (or SHIPYARD_ALLOW_UNAUTHENTICATED=true)"
    )


def tls(settings: Settings, certfile: Path | None, keyfile: Path | None) -> dict[str, str]:
    """uvicorn's TLS options from ``--ssl-certfile``/``--ssl-keyfile`` (or their
    settings), checked by loading them: ``{}`` for plain HTTP."""
    certfile = certfile or settings.ssl_certfile
    keyfile = keyfile or settings.ssl_keyfile
    if certfile is None and keyfile is None:
        return {}
    if certfile is None or keyfile is None:
        missing = "--ssl-keyfile" if keyfile is None else "--ssl-certfile"
        raise InvalidInputError(
            f"HTTPS needs both --ssl-certfile and --ssl-keyfile; give {missing} too (or "
            f"SHIPYARD_{missing[2:].upper().replace('-', '_')})"
        )
    for option, path in (("--ssl-certfile", certfile), ("--ssl-keyfile", keyfile)):
        if not path.is_file():
            raise InvalidInputError(f"{option} {path} is not a file; give a PEM file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except (ssl.SSLError, ValueError) as exc:
        raise InvalidInputError(
            f"--ssl-certfile {certfile} and --ssl-keyfile {keyfile} are not a PEM certificate "
            f"and its private key ({exc}); give the pair the certificate was made with"
        ) from None
    return {"ssl_certfile": str(certfile), "ssl_keyfile": str(keyfile)}


def server(
    *,
    host: str | None,
    port: int | None,
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
    allow_unauthenticated: bool = False,
) -> None:
    """Run the control plane until interrupted."""
    import uvicorn

    from shipyard.server import API_PREFIX, create_server_app
    from shipyard.serving.protocol import LaneProtocol

    settings = Settings()
    secure = tls(settings, ssl_certfile, ssl_keyfile)
    bind_host = host or settings.host
    check_exposure(bind_host, settings, allow_unauthenticated)
    sock = bind(bind_host, settings.port if port is None else port)
    try:
        made = None
        if settings.auth:
            from shipyard.auth import bootstrap
            from shipyard.sdk import get_registry

            made = bootstrap(get_registry(settings).db, settings.home, settings.actor)
        app = create_server_app(settings)
        bound = sock.getsockname()[1]
        scheme = "https" if secure else "http"
        console.print(
            f"Shipyard on {scheme}://{bind_host}:{bound} (REST API {API_PREFIX}, docs "
            f"{API_PREFIX}/docs; endpoints at /v1/endpoints/NAME/predict)"
        )
        if made is not None:
            console.print(f"Saved an admin token to {made}; the shipyard CLI and SDK send it")
        if not settings.auth:
            console.print("Authentication is off (SHIPYARD_AUTH=false): every caller is admin")
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=30,
            loop="uvloop",
            http=LaneProtocol,
            **secure,  # type: ignore[arg-type]
        )
        try:
            uvicorn.Server(config).run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn has drained and stopped; it re-raises Ctrl-C
            console.print("stopped")
    finally:
        sock.close()
