"""The app layer: builds the control plane's FastAPI application from settings.

This is the only module that wires the interfaces together. Today it serves the REST API
under ``/api/v1`` (with its OpenAPI schema at ``/api/v1/openapi.json`` and docs at
``/api/v1/docs``); the data plane joins through :func:`create_server_app`'s
``data_plane_app`` hook.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.applications import Starlette

from shipyard.api import router
from shipyard.api.errors import install_error_handlers
from shipyard.config import Settings
from shipyard.endpoints import Endpoints
from shipyard.registry import Registry

API_PREFIX = "/api/v1"


def create_server_app(
    settings: Settings | None = None, *, data_plane_app: Starlette | None = None
) -> FastAPI:
    """The control-plane application for ``settings`` (default: read from ``SHIPYARD_*``).

    ``data_plane_app`` is the hook for running both planes in one process: an ASGI
    application (e.g. :func:`shipyard.serving.app.create_app`'s) that answers every path
    outside ``/api/v1`` (``/v1/…``, ``/v2/…``, ``/metrics``). Its lifespan (model loading,
    draining) runs inside the control plane's.
    """
    settings = settings or Settings()
    registry = Registry.from_settings(settings)
    endpoints = Endpoints(registry.db, registry.artifacts, settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if data_plane_app is not None:
                await stack.enter_async_context(
                    data_plane_app.router.lifespan_context(data_plane_app)
                )
            yield
        registry.db.dispose()

    from shipyard import __version__

    app = FastAPI(
        title="Shipyard control plane",
        summary="Models, versions, aliases and endpoints of a Shipyard registry.",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.endpoints = endpoints
    install_error_handlers(app)
    app.include_router(router, prefix=API_PREFIX)
    if data_plane_app is not None:
        # Data-plane hook: routes are matched in order, so /api/v1 stays the control
        # plane's and everything else reaches the data plane.
        app.mount("/", data_plane_app, name="data-plane")
    return app
