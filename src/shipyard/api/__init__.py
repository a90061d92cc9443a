"""The control-plane REST API, ``/api/v1/…``: thin routes over the registry and endpoints.

Each route parses its request, calls one service (:class:`~shipyard.registry.Registry`,
:class:`~shipyard.endpoints.Endpoints`, :class:`~shipyard.endpoints.RolloutController`,
:class:`~shipyard.predictions.FeedbackStore`,
:class:`~shipyard.monitoring.MonitorService`,
:class:`~shipyard.alerting.AlertService`,
:class:`~shipyard.batch.schedules.Schedules`,
:class:`~shipyard.store.audit.AuditTrail`,
:class:`~shipyard.auth.AuthService`) and shapes the reply; no business logic lives here.
:func:`shipyard.server.create_server_app` mounts :data:`router` under ``/api/v1``; every
route first checks its caller (:func:`shipyard.api._deps.caller`).
"""

from fastapi import APIRouter, Depends

from shipyard.api import (
    ab,
    access,
    alerts,
    audit,
    endpoints,
    feedback,
    jobs,
    log,
    models,
    monitors,
    policies,
    privacy,
    registration,
    rollouts,
    schedules,
    system,
)
from shipyard.api._deps import caller

# Every route checks its caller's token against what it needs (shipyard.auth.roles).
router = APIRouter(dependencies=[Depends(caller)])
router.include_router(system.router)
router.include_router(models.router)
router.include_router(registration.router)
router.include_router(endpoints.router)
router.include_router(rollouts.router)
router.include_router(ab.router)
router.include_router(feedback.router)
router.include_router(monitors.router)
router.include_router(alerts.router)
router.include_router(jobs.router)
router.include_router(schedules.router)
router.include_router(audit.router)
router.include_router(log.router)
router.include_router(access.router)
router.include_router(policies.router)
router.include_router(privacy.router)

__all__ = ["router"]
