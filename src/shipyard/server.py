"""The app layer: builds the control plane's FastAPI application from settings.

This is the only module that wires the interfaces together: the REST API under
``/api/v1`` (with its OpenAPI schema at ``/api/v1/openapi.json`` and docs at
``/api/v1/docs``) and, in the same process, the data plane: every endpoint at its current
revision (``/v1/endpoints/…``, ``/v2/endpoints/…``), the models ``SHIPYARD_SERVE`` names
at the same paths as ``shipyard serve``, health and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI
from starlette.applications import Starlette

from shipyard.alerting import AlertService
from shipyard.api import router
from shipyard.api.errors import install_error_handlers
from shipyard.auth import Authenticator, bootstrap
from shipyard.batch.schedules import Schedules
from shipyard.config import Settings
from shipyard.endpoints import Endpoints, Rollout, RolloutController
from shipyard.monitoring import MonitorRun, MonitorService
from shipyard.predictions.erasure import Retention
from shipyard.registry import Registry
from shipyard.serving.app import DataPlaneApp, create_app

API_PREFIX = "/api/v1"

log = logging.getLogger("shipyard.rollouts")
monitor_log = logging.getLogger("shipyard.monitors")
retention_log = logging.getLogger("shipyard.retention")


def _log_monitor_runs(runs: list[MonitorRun]) -> None:
    """Log each scheduled monitor run: a warning naming the breaches, if any."""
    for run in runs:
        breaches = [f"{r.metric}{'[' + r.column + ']' if r.column else ''}" for r in run.breaches]
        monitor_log.log(
            logging.WARNING if breaches else logging.INFO,
            f"monitor run {run.status}",
            extra={"monitor": run.monitor, "rows": run.rows, "breaches": breaches},
        )


def _rollout_logger() -> Callable[[list[Rollout]], None]:
    """What logs each step a rollout takes, and how it ends, as the controller moves it."""
    seen: dict[int, tuple[str, int]] = {}

    def report(ticked: list[Rollout]) -> None:
        for rollout in ticked:
            now = (rollout.state, rollout.step)
            if seen.get(rollout.id) == now:
                continue
            seen[rollout.id] = now
            level = logging.WARNING if rollout.state == "rolled_back" else logging.INFO
            log.log(
                level,
                f"rollout {rollout.state}",
                extra={
                    "endpoint": rollout.endpoint,
                    "rollout": rollout.id,
                    "step": f"{rollout.step + 1}/{len(rollout.steps)}",
                    "revision": rollout.revision,
                    "reason": rollout.reason,
                },
            )

    return report


class ServerApp(FastAPI):
    """The embedded server's application: inference requests go straight to the data
    plane's lane (as in ``shipyard serve``), everything else through the routes."""

    lane: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.lane is not None and await self.lane(scope, receive, send):
            return
        await super().__call__(scope, receive, send)


def _expire_forever(retention: Retention, stop: threading.Event, period_s: float) -> None:
    """Remove the prediction log past its retention every ``period_s`` seconds."""
    while not stop.is_set():
        try:
            removed = retention.expire()
            if removed.rows or removed.feedback_rows:
                retention_log.info("retention: %s", removed.to_dict())
        except Exception:
            retention_log.exception("retention: a round failed; trying again in %ss", period_s)
        stop.wait(period_s)


def create_server_app(
    settings: Settings | None = None,
    *,
    data_plane_app: Starlette | None = None,
    data_plane: bool = True,
    rollouts: bool = True,
    monitors: bool = True,
    alerts: bool = True,
    schedules: bool = True,
) -> FastAPI:
    """The server application for ``settings`` (default: read from ``SHIPYARD_*``).

    With ``data_plane`` (the default), the data plane runs in the same process: every
    endpoint (``SHIPYARD_ENDPOINTS``, default all, including those created later), the
    models ``SHIPYARD_SERVE`` names, and any other model by its ``champion`` alias
    (``SHIPYARD_ON_DEMAND_ALIAS``), loaded on its first request. ``data_plane_app``
    replaces it with another ASGI application answering every path outside ``/api/v1``.
    Its lifespan (model loading, draining) runs inside the control plane's. With
    ``rollouts`` (the default), a rollout controller judges running rollouts every
    ``SHIPYARD_ROLLOUT_PERIOD_S``. With ``monitors`` (the default), due monitors run
    every ``SHIPYARD_MONITOR_PERIOD_S``. With ``alerts`` (the default), alert rules are
    evaluated every ``SHIPYARD_ALERT_PERIOD_S`` and their notifications sent. With
    ``schedules`` (the default), due batch schedules are claimed every
    ``SHIPYARD_SCHEDULE_PERIOD_S`` and their runs scored on threads of the server, at most
    ``SHIPYARD_SCHEDULE_MAX_RUNS`` at once.

    With ``SHIPYARD_AUTH`` (the default), every route but health and readiness needs an API
    token; a store with no users yet gets its first admin, whose token is saved to
    ``$SHIPYARD_HOME/credentials``.
    """
    settings = settings or Settings()
    registry = Registry.from_settings(settings)
    if settings.auth:
        bootstrap(registry.db, settings.home, settings.actor)
    guard = Authenticator.from_settings(registry.db, settings)
    if data_plane_app is None and data_plane:
        alias = "champion" if settings.on_demand_alias is None else settings.on_demand_alias
        data_plane_app = create_app(
            settings.model_copy(
                update={"endpoints": settings.endpoints or "*", "on_demand_alias": alias}
            ),
            auth=guard,
        )
    endpoints = Endpoints(registry.db, registry.artifacts, settings)

    controller = RolloutController(endpoints, settings.predictions) if rollouts else None
    scheduled = (
        MonitorService(registry, settings.predictions, settings.feedback) if monitors else None
    )
    alerting = (
        AlertService(registry, attempts=settings.alert_attempts, backoff_s=settings.alert_backoff_s)
        if alerts
        else None
    )

    batch_schedules = Schedules(registry, max_runs=settings.schedule_max_runs)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        async with contextlib.AsyncExitStack() as stack:
            if data_plane_app is not None:
                await stack.enter_async_context(
                    data_plane_app.router.lifespan_context(data_plane_app)
                )
            judging = None
            if controller is not None:
                judging = threading.Thread(
                    target=controller.run,
                    args=(stop, settings.rollout_period_s, _rollout_logger()),
                    name="rollouts",
                    daemon=True,
                )
                judging.start()
            watching = None
            if scheduled is not None:
                watching = threading.Thread(
                    target=scheduled.run_forever,
                    args=(stop, settings.monitor_period_s, _log_monitor_runs),
                    name="monitors",
                    daemon=True,
                )
                watching.start()
            alerting_thread = None
            if alerting is not None:
                alerting_thread = threading.Thread(
                    target=alerting.run_forever,
                    args=(stop, settings.alert_period_s),
                    name="alerts",
                    daemon=True,
                )
                alerting_thread.start()
            scheduling = None
            if schedules:
                scheduling = threading.Thread(
                    target=batch_schedules.run_forever,
                    args=(stop, settings.schedule_period_s),
                    name="schedules",
                    daemon=True,
                )
                scheduling.start()
            expiring = threading.Thread(
                target=_expire_forever,
                args=(
                    Retention(registry, settings.predictions, settings.feedback),
                    stop,
                    settings.retention_period_s,
                ),
                name="retention",
                daemon=True,
            )
            expiring.start()
            try:
                yield
            finally:
                stop.set()
                for thread in (judging, watching, alerting_thread, scheduling, expiring):
                    if thread is not None:
                        await asyncio.to_thread(thread.join, 30)
        registry.db.dispose()

    from shipyard import __version__

    app = ServerApp(
        title="Shipyard control plane",
        summary="Models, versions, aliases and endpoints of a Shipyard registry.",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.registry = registry
    app.state.auth = guard
    app.state.endpoints = endpoints
    app.state.schedules = batch_schedules
    install_error_handlers(app)
    app.include_router(router, prefix=API_PREFIX)
    if data_plane_app is not None:
        # Routes are matched in order, so /api/v1 stays the control plane's and everything
        # else reaches the data plane; inference skips the routing altogether.
        app.mount("/", data_plane_app, name="data-plane")
        if isinstance(data_plane_app, DataPlaneApp):
            app.lane = data_plane_app.lane
    return app
