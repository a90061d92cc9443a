"""``/api/v1/health``: is the control plane up, and does its metadata store answer."""

from __future__ import annotations

from fastapi import APIRouter

from shipyard.api._deps import RegistryDep
from shipyard.api.errors import responses
from shipyard.api.schemas import Health

router = APIRouter(tags=["system"])


@router.get(
    "/health",
    response_model=Health,
    summary="Health of the control plane",
    responses=responses(503),
)
def health(registry: RegistryDep) -> Health:
    """Answers 200 when the metadata store can be read, 503 when it cannot."""
    from shipyard import __version__

    registry.list_models(limit=1)  # a DatabaseError (503) if the store is unreachable
    return Health(version=__version__)
