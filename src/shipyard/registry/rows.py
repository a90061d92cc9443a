"""Database rows to registry records, and the small queries every operation shares."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shipyard.errors import InvalidInputError, ModelNotFoundError, VersionNotFoundError
from shipyard.registry.convert import jsonable
from shipyard.registry.names import validate_model_name
from shipyard.registry.types import Model, ModelVersion
from shipyard.schema import Signature
from shipyard.store import audit
from shipyard.store.tables import AliasRow, EventRow, ModelRow, VersionRow, utcnow


def add_event(
    s: Session,
    actor: str,
    action: str,
    kind: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    s.add(
        EventRow(
            at=utcnow(),
            actor=actor,
            action=action,
            target_kind=kind,
            target=target,
            before=jsonable(before),
            after=jsonable(after),
        )
    )


def insert_model(
    s: Session,
    dialect: str,
    name: str,
    description: str,
    owner: str,
    tags: dict[str, str],
    who: str,
) -> ModelRow | None:
    """Insert a model unless the name exists (race-free on both backends); returns the new
    row, or ``None`` when it already existed."""
    now = utcnow()
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {
        "name": name,
        "description": description,
        "owner": owner,
        "tags": tags,
        "latest_version": 0,
        "created_by": who,
        "created_at": now,
        "updated_at": now,
    }
    result = s.execute(
        dialect_insert(ModelRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(ModelRow.id)
    )
    if result.scalar() is None:
        return None
    row = model_row(s, name)
    audit.append(s, [audit.change("insert", "models", name, None, values)])
    add_event(
        s,
        who,
        "model.create",
        "model",
        name,
        None,
        {"description": description, "owner": owner, "tags": tags},
    )
    return row


def model_row(s: Session, name: str, *, lock: bool = False) -> ModelRow:
    validate_model_name(name)
    query = select(ModelRow).where(ModelRow.name == name)
    if lock:  # a row lock on PostgreSQL; SQLite writers already hold the database lock
        query = query.with_for_update()
    row = s.scalars(query).first()
    if row is None:
        raise ModelNotFoundError(f"no model named {name!r}; list models with: shipyard models list")
    return row


def version_row(s: Session, name: str, version: int) -> VersionRow:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise InvalidInputError(f"version must be a positive integer; got {version!r}")
    row = s.scalars(
        select(VersionRow)
        .join(ModelRow, VersionRow.model_id == ModelRow.id)
        .where(ModelRow.name == name, VersionRow.version == version)
    ).first()
    if row is None:
        model_row(s, name)  # a missing model is reported as such
        raise VersionNotFoundError(
            f"model {name!r} has no version {version}; list them with: shipyard models show {name}"
        )
    return row


def aliases_of(s: Session, model_id: int) -> dict[str, int]:
    rows = s.execute(select(AliasRow.alias, AliasRow.version).where(AliasRow.model_id == model_id))
    return {alias: version for alias, version in sorted(rows)}


def to_model(s: Session, row: ModelRow) -> Model:
    return Model(
        name=row.name,
        description=row.description,
        owner=row.owner,
        tags=row.tags,
        latest_version=row.latest_version,
        aliases=aliases_of(s, row.id),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def to_version(
    s: Session, row: VersionRow, name: str, *, aliases: list[str] | None = None
) -> ModelVersion:
    if aliases is None:
        aliases = [a for a, v in aliases_of(s, row.model_id).items() if v == row.version]
    return ModelVersion(
        name=name,
        version=row.version,
        flavor=row.flavor,
        status=row.status,  # type: ignore[arg-type]
        description=row.description,
        intended_use=row.intended_use,
        signature=Signature.model_validate(row.signature),
        profile=row.profile,
        target_profile=row.target_profile,
        prediction_profile=row.prediction_profile,
        params=row.params,
        metrics=row.metrics,
        tags=row.tags,
        lineage=row.lineage,
        flavor_metadata=row.flavor_metadata,
        artifacts=row.artifacts,
        artifact_digest=row.artifact_digest,
        aliases=aliases,
        created_by=row.created_by,
        created_at=row.created_at,
        status_changed_at=row.status_changed_at,
    )
