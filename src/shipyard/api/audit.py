"""``/api/v1/audit``: the audit trail, read and verified through the server. The REST
twins of ``shipyard audit list|export|verify``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from shipyard.api._deps import registry
from shipyard.api.errors import responses
from shipyard.registry import Registry
from shipyard.store.audit import AuditTrail

router = APIRouter(prefix="/audit", tags=["audit"], responses=responses(400, 422))


class AuditEntry(BaseModel):
    """One change: who, when, what, the values before and after, and the chain's hashes."""

    id: int
    at: str
    actor: str
    action: str
    """``insert``, ``update`` or ``delete``."""
    entity: str
    """The table changed."""
    key: str
    """Which row: its name, or its key columns."""
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev: str
    hash: str


class AuditVerification(BaseModel):
    """Whether the chain holds, and if not, its first break."""

    rows: int
    head: str
    ok: bool
    problem: str | None


def trail(store: Annotated[Registry, Depends(registry)]) -> AuditTrail:
    return AuditTrail(store.db)


TrailDep = Annotated[AuditTrail, Depends(trail)]


@router.get("", response_model=list[AuditEntry], summary="List changes")
def list_entries(
    audit: TrailDep,
    since: Annotated[datetime | None, Query(description="Only from this time on.")] = None,
    after_id: Annotated[
        int, Query(ge=0, le=2**62, description="Only after this row (paging).")
    ] = 0,
    entity: Annotated[str | None, Query(max_length=64, description="Only this table.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """Changes, oldest first; page with ``after_id`` (the last ``id`` seen)."""
    return audit.entries(since=since, after_id=after_id, entity=entity, limit=limit)


@router.get("/verify", response_model=AuditVerification, summary="Verify the audit trail")
def verify(
    audit: TrailDep,
    head: Annotated[
        str | None,
        Query(pattern=r"^[0-9a-f]{64}$", description="A head hash recorded earlier."),
    ] = None,
) -> dict[str, Any]:
    """Recompute the hash chain: ``ok`` false names the first row edited, added or
    removed."""
    return audit.verify(head=head).to_dict()
