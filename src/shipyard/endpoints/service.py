"""Endpoints and their revisions in the metadata store.

Every change to an endpoint's traffic policy is a new, immutable revision recording who
made it, when, why, and how it differs from the revision it replaced. ``rollback``
makes an earlier revision current again without rewriting anything. Each change is also
an event in the store's trail. A change is checked whole before anything is written
(every version it names must exist and be ready), so a refused change leaves the
current revision as it was.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.endpoints.policy import TrafficPolicy
from shipyard.errors import ConflictError, EndpointNotFoundError, InvalidInputError
from shipyard.registry import rows
from shipyard.registry.core import RegistryCore
from shipyard.registry.names import validate_model_name
from shipyard.registry.types import Event
from shipyard.registry.uri import ModelURI
from shipyard.store.tables import EndpointRevisionRow, EndpointRow, EventRow, utcnow


class Revision(BaseModel):
    """One immutable state of an endpoint."""

    model_config = ConfigDict(frozen=True)

    endpoint: str
    revision: int
    parent: int | None
    policy: TrafficPolicy
    diff: dict[str, Any]
    """What changed from ``parent``: ``{"path": {"before": …, "after": …}}``."""
    reason: str
    created_by: str
    created_at: datetime


class Endpoint(BaseModel):
    """A named online deployment and the revision serving now."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    current: Revision
    latest_revision: int
    created_by: str
    created_at: datetime
    updated_at: datetime


def diff(before: Any, after: Any, path: str = "") -> dict[str, Any]:
    """Leaf-by-leaf differences between two JSON values, by dotted path (list items by
    index, variants by name)."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: dict[str, Any] = {}
        for key in sorted(set(before) | set(after)):
            where = f"{path}.{key}" if path else str(key)
            changes |= diff(before.get(key), after.get(key), where)
        return changes
    if isinstance(before, list) and isinstance(after, list):
        named = all(isinstance(v, dict) and "name" in v for v in before + after)
        if named:
            return diff({v["name"]: v for v in before}, {v["name"]: v for v in after}, path)
        changes = {}
        for index in range(max(len(before), len(after))):
            old = before[index] if index < len(before) else None
            new = after[index] if index < len(after) else None
            changes |= diff(old, new, f"{path}.{index}")
        return changes
    return {} if before == after else {path: {"before": before, "after": after}}


def _revision(name: str, row: EndpointRevisionRow) -> Revision:
    return Revision(
        endpoint=name,
        revision=row.revision,
        parent=row.parent,
        policy=TrafficPolicy.model_validate(row.policy),
        diff=row.diff,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
    )


class Endpoints(RegistryCore):
    """Create, change, inspect and roll back endpoints (``Endpoints.from_settings()``)."""

    def create_endpoint(
        self,
        name: str,
        policy: TrafficPolicy | dict[str, Any],
        *,
        description: str = "",
        reason: str = "",
        actor: str | None = None,
    ) -> Endpoint:
        """A new endpoint whose revision 1 serves ``policy``."""
        _validate_name(name)
        chosen = _policy(policy)
        who = self._actor(actor)
        with self.db.session(write=True) as s:
            if s.scalars(select(EndpointRow.id).where(EndpointRow.name == name)).first():
                raise ConflictError(
                    f"endpoint {name!r} exists; change it with: shipyard endpoints update {name}"
                )
            _check_versions(s, chosen)
            now = utcnow()
            row = EndpointRow(
                name=name,
                description=description,
                current_revision=1,
                latest_revision=1,
                created_by=who,
                created_at=now,
                updated_at=now,
            )
            s.add(row)
            s.flush()
            data = chosen.model_dump(mode="json")
            s.add(
                EndpointRevisionRow(
                    endpoint_id=row.id,
                    revision=1,
                    parent=None,
                    policy=data,
                    diff=diff({}, data),
                    reason=reason,
                    created_by=who,
                    created_at=now,
                )
            )
            rows.add_event(s, who, "endpoint.create", "endpoint", name, None, {"revision": 1})
        return self.get_endpoint(name)

    def update_endpoint(
        self,
        name: str,
        policy: TrafficPolicy | dict[str, Any],
        *,
        reason: str = "",
        actor: str | None = None,
    ) -> Endpoint:
        """Serve ``policy`` from a new revision; an identical policy changes nothing."""
        chosen = _policy(policy)
        who = self._actor(actor)
        with self.db.session(write=True) as s:
            row = endpoint_row(s, name, lock=True)
            self.revise(s, row, chosen, reason=reason, actor=who)
            return self._endpoint(s, row)

    def rollback_endpoint(
        self,
        name: str,
        to: int | None = None,
        *,
        reason: str = "",
        actor: str | None = None,
    ) -> Endpoint:
        """Make an earlier revision current: ``to``, or the one the current revision
        replaced. Its versions must still be ready."""
        who = self._actor(actor)
        with self.db.session(write=True) as s:
            row = endpoint_row(s, name, lock=True)
            self.restore(s, row, to, reason=reason, actor=who)
            return self._endpoint(s, row)

    # -- within a caller's transaction (rollouts change an endpoint and their own state
    # -- in one transaction) ------------------------------------------------------------

    def revise(
        self, s: Session, row: EndpointRow, policy: TrafficPolicy, *, reason: str, actor: str
    ) -> bool:
        """Make ``policy`` current as a new revision, in the write transaction ``s`` that
        locked ``row`` (:func:`endpoint_row` with ``lock=True``). ``False``, and nothing
        written, when it equals the current revision's policy."""
        current = revision_row(s, row, row.current_revision)
        data = policy.model_dump(mode="json")
        changes = diff(current.policy, data)
        if not changes:
            return False
        _check_versions(s, policy)
        now = utcnow()
        number = row.latest_revision + 1
        s.add(
            EndpointRevisionRow(
                endpoint_id=row.id,
                revision=number,
                parent=row.current_revision,
                policy=data,
                diff=changes,
                reason=reason,
                created_by=actor,
                created_at=now,
            )
        )
        before = {"revision": row.current_revision}
        row.current_revision = row.latest_revision = number
        row.updated_at = now
        rows.add_event(
            s, actor, "endpoint.update", "endpoint", row.name, before, {"revision": number}
        )
        s.flush()
        return True

    def restore(
        self, s: Session, row: EndpointRow, to: int | None, *, reason: str, actor: str
    ) -> None:
        """Make revision ``to`` (default: the one the current revision replaced) current,
        in the write transaction ``s`` that locked ``row``."""
        current = revision_row(s, row, row.current_revision)
        target = current.parent if to is None else to
        if target is None:
            raise ConflictError(
                f"endpoint {row.name!r} is at revision {row.current_revision}, which replaced "
                "none; give the revision to return to with --to"
            )
        if target == row.current_revision:
            raise ConflictError(f"endpoint {row.name!r} is already at revision {target}")
        chosen = revision_row(s, row, target)
        _check_versions(s, TrafficPolicy.model_validate(chosen.policy))
        before = {"revision": row.current_revision}
        row.current_revision = target
        row.updated_at = utcnow()
        after = {"revision": target, "reason": reason}
        rows.add_event(s, actor, "endpoint.rollback", "endpoint", row.name, before, after)
        s.flush()

    def get_endpoint(self, name: str) -> Endpoint:
        """The endpoint and its current revision."""
        with self.db.session() as s:
            return self._endpoint(s, endpoint_row(s, name))

    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint, by name."""
        with self.db.session() as s:
            found = s.scalars(select(EndpointRow).order_by(EndpointRow.name)).all()
            return [self._endpoint(s, row) for row in found]

    def current_revisions(self, names: list[str] | None = None) -> dict[str, Revision]:
        """The current revision of each endpoint (all, or those named that exist), by
        name: one query, as the data plane asks every few seconds."""
        with self.db.session() as s:
            query = select(EndpointRow.name, EndpointRevisionRow).join(
                EndpointRevisionRow,
                (EndpointRevisionRow.endpoint_id == EndpointRow.id)
                & (EndpointRevisionRow.revision == EndpointRow.current_revision),
            )
            if names is not None:
                query = query.where(EndpointRow.name.in_(names))
            return {name: _revision(name, row) for name, row in s.execute(query).all()}

    def history(self, name: str, *, limit: int = 50) -> list[Event]:
        """Who changed what on an endpoint, newest first: revisions made, rollbacks (with
        their reasons) and its rollouts' starts, steps and ends."""
        with self.db.session() as s:
            endpoint_row(s, name)  # an unknown endpoint is an error, not an empty history
            query = (
                select(EventRow)
                .where(EventRow.target == name, EventRow.target_kind.in_(("endpoint", "rollout")))
                .order_by(EventRow.id.desc())
                .limit(limit)
            )
            return [Event.model_validate(r, from_attributes=True) for r in s.scalars(query)]

    def list_revisions(self, name: str) -> list[Revision]:
        """Every revision of an endpoint, oldest first."""
        with self.db.session() as s:
            row = endpoint_row(s, name)
            found = s.scalars(
                select(EndpointRevisionRow)
                .where(EndpointRevisionRow.endpoint_id == row.id)
                .order_by(EndpointRevisionRow.revision)
            ).all()
            return [_revision(name, r) for r in found]

    def _endpoint(self, s: Session, row: EndpointRow) -> Endpoint:
        return Endpoint(
            name=row.name,
            description=row.description,
            current=_revision(row.name, revision_row(s, row, row.current_revision)),
            latest_revision=row.latest_revision,
            created_by=row.created_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _validate_name(name: str) -> None:
    try:
        validate_model_name(name)
    except InvalidInputError as exc:
        raise type(exc)(exc.message.replace("model name", "endpoint name")) from None


def _policy(policy: TrafficPolicy | dict[str, Any]) -> TrafficPolicy:
    return policy if isinstance(policy, TrafficPolicy) else TrafficPolicy.parse(policy)


def _check_versions(s: Session, policy: TrafficPolicy) -> None:
    """Every version the policy names exists and is ready (else a 404 or 409)."""
    fallback = [policy.fallback_model] if policy.fallback_model else []
    for uri in [*policy.models, *fallback]:
        parsed = ModelURI.parse(uri)
        assert parsed.version is not None
        version = rows.version_row(s, parsed.name, parsed.version)
        if version.status != "ready":
            raise ConflictError(
                f"{uri} is {version.status}; an endpoint serves only ready versions "
                f"(restore it with: shipyard models restore {parsed.name} {parsed.version})"
            )


def endpoint_row(s: Session, name: str, *, lock: bool = False) -> EndpointRow:
    """The endpoint's row (locked for update with ``lock``), or a 404 naming it."""
    _validate_name(name)
    query = select(EndpointRow).where(EndpointRow.name == name)
    if lock:
        query = query.with_for_update()
    row = s.scalars(query).first()
    if row is None:
        raise EndpointNotFoundError(
            f"no endpoint named {name!r}; list them with: shipyard endpoints list"
        )
    return row


def revision_row(s: Session, row: EndpointRow, revision: int) -> EndpointRevisionRow:
    """One revision's row of the endpoint ``row``, or a 404 naming the ones it has."""
    found = s.scalars(
        select(EndpointRevisionRow).where(
            EndpointRevisionRow.endpoint_id == row.id, EndpointRevisionRow.revision == revision
        )
    ).first()
    if found is None:
        raise EndpointNotFoundError(
            f"endpoint {row.name!r} has no revision {revision}; it has 1 to "
            f"{row.latest_revision} (see: shipyard endpoints revisions {row.name})"
        )
    return found
