"""The model registry: models, immutable versions, aliases, and the record of changes."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select, update

from shipyard.errors import (
    ArtifactIntegrityError,
    ConflictError,
    InvalidInputError,
)
from shipyard.protection.keys import Keyring
from shipyard.protection.policy import Protector
from shipyard.protection.store import read_book
from shipyard.registry import rows
from shipyard.registry.aliases import AliasOperations
from shipyard.registry.card import render_card
from shipyard.registry.convert import clean_metrics
from shipyard.registry.files import FileOperations
from shipyard.registry.filters import COMPARISONS, parse_metric_filter
from shipyard.registry.loaded import LoadedModel
from shipyard.registry.names import validate_model_name, validate_tags
from shipyard.registry.registration import CARD_FILE, prepare
from shipyard.registry.types import (
    STATUSES,
    Event,
    Model,
    ModelVersion,
    VerifyReport,
    VersionStatus,
)
from shipyard.runtimes import get_runtime, runtime_for
from shipyard.schema import Signature
from shipyard.store.tables import EventRow, ModelRow, VersionRow, utcnow


class Registry(AliasOperations, FileOperations):
    """Models, versions and aliases in a metadata store, their files in an artifact store.

    Every change records who made it (``actor``, default :attr:`Settings.actor` or the
    operating-system user) as an event, the hook the audit trail hangs on.
    """

    # -- models ------------------------------------------------------------------------

    def create_model(
        self,
        name: str,
        *,
        description: str = "",
        owner: str | None = None,
        tags: Mapping[str, str] | None = None,
        actor: str | None = None,
    ) -> Model:
        """Create an empty model; :class:`ConflictError` if the name is taken."""
        validate_model_name(name)
        clean_tags = validate_tags(dict(tags or {}))
        who = self._actor(actor)
        with self.db.session(write=True) as s:
            created = rows.insert_model(
                s, self.db.dialect, name, description, owner or who, clean_tags, who
            )
            if created is None:
                raise ConflictError(
                    f"model {name!r} already exists; choose another name or update it"
                )
            return rows.to_model(s, created)

    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        owner: str | None = None,
        tags: Mapping[str, str] | None = None,
        actor: str | None = None,
    ) -> Model:
        """Change a model's description, owner or tags (versions never change)."""
        clean_tags = None if tags is None else validate_tags(dict(tags))
        with self.db.session(write=True) as s:
            row = rows.model_row(s, name, lock=True)
            before = {"description": row.description, "owner": row.owner, "tags": row.tags}
            if description is not None:
                row.description = description
            if owner is not None:
                row.owner = owner
            if clean_tags is not None:
                row.tags = clean_tags
            after = {"description": row.description, "owner": row.owner, "tags": row.tags}
            if after != before:
                row.updated_at = utcnow()
                rows.add_event(s, self._actor(actor), "model.update", "model", name, before, after)
            return rows.to_model(s, row)

    def list_models(
        self,
        *,
        search: str | None = None,
        owner: str | None = None,
        tags: Mapping[str, str] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Model]:
        """Models sorted by name; ``search`` matches name or description (case-insensitive),
        ``tags`` must all match."""
        if limit < 1 or offset < 0:
            raise InvalidInputError("limit must be at least 1 and offset at least 0")
        query = select(ModelRow).order_by(ModelRow.name)
        if search:
            pattern = f"%{search.lower()}%"
            query = query.where(
                or_(
                    func.lower(ModelRow.name).like(pattern),
                    func.lower(ModelRow.description).like(pattern),
                )
            )
        if owner:
            query = query.where(ModelRow.owner == owner)
        wanted = validate_tags(dict(tags or {}))
        with self.db.session() as s:
            found = [
                r for r in s.scalars(query) if all(r.tags.get(k) == v for k, v in wanted.items())
            ]
            return [rows.to_model(s, r) for r in found[offset : offset + limit]]

    # -- versions ----------------------------------------------------------------------

    def register_model(
        self,
        model: Any,
        name: str,
        *,
        training_data: Any = None,
        target: Any = None,
        flavor: str | None = None,
        signature: Signature | None = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str = "",
        intended_use: str = "",
        code_version: str | None = None,
        lineage: Mapping[str, Any] | None = None,
        reuse_identical: bool = False,
        actor: str | None = None,
    ) -> ModelVersion:
        """Register a trained model object as the next version of ``name``.

        The flavor is detected from the object; the signature and reference profile are
        inferred from ``training_data``. With ``reuse_identical=True`` a ready version with
        byte-identical files is returned instead of creating a new one.
        """
        validate_model_name(name)
        if isinstance(model, LoadedModel):  # e.g. an online model that has learned since
            runtime = model.runtime
            if flavor is not None and flavor != runtime.flavor:
                raise InvalidInputError(
                    f"this loaded model is a {runtime.flavor} model, not {flavor}; leave flavor out"
                )
        else:
            runtime = runtime_for(model, flavor)
        return self._register(
            runtime,
            name,
            training_data=training_data,
            target=target,
            signature=signature,
            metrics=metrics,
            params=params,
            tags=tags,
            description=description,
            intended_use=intended_use,
            code_version=code_version,
            lineage=lineage,
            reuse_identical=reuse_identical,
            actor=actor,
        )

    def register_file(
        self,
        path: Path,
        name: str,
        *,
        flavor: str,
        trust_pickle: bool | None = None,
        python_class: str | None = None,
        **options: Any,
    ) -> ModelVersion:
        """Register a model saved with its framework's own tools (a file or directory)."""
        validate_model_name(name)
        path = Path(path)
        if not path.exists():
            raise InvalidInputError(f"{path} does not exist; give the path of a saved model")
        trust = self.settings.trust_pickle if trust_pickle is None else trust_pickle
        if python_class and flavor != "pyfunc":
            raise InvalidInputError(
                f"python_class (--python-class) applies to the pyfunc flavor only, not {flavor}"
            )
        extra = {"python_class": python_class} if python_class else {}
        runtime = get_runtime(flavor).from_file(path, trust_pickle=trust, **extra)
        lineage = dict(options.pop("lineage", None) or {})
        lineage["source_file"] = path.name
        return self._register(runtime, name, lineage=lineage, **options)

    def _register(self, runtime: Any, name: str, **kw: Any) -> ModelVersion:
        metrics = clean_metrics(kw.get("metrics"))
        tags = validate_tags(dict(kw.get("tags") or {}))
        prepared = prepare(
            runtime,
            self.artifacts,
            training_data=kw.get("training_data"),
            target=kw.get("target"),
            signature=kw.get("signature"),
            params=None if kw.get("params") is None else dict(kw["params"]),
            code_version=kw.get("code_version"),
            lineage=None if kw.get("lineage") is None else dict(kw["lineage"]),
            sample_rows=self.settings.reference_sample_rows,
            bins=self.settings.profile_bins,
            max_categories=self.settings.profile_max_categories,
            policy=self._column_policy(name),
        )
        who = self._actor(kw.get("actor"))
        description = kw.get("description") or ""
        with self.db.session(write=True) as s:
            row = rows.insert_model(s, self.db.dialect, name, description, who, {}, who)
            if row is None:  # lock it, so the reuse check and the numbering below are atomic
                row = rows.model_row(s, name, lock=True)
            if kw.get("reuse_identical"):
                same = s.scalars(
                    select(VersionRow)
                    .where(
                        VersionRow.model_id == row.id,
                        VersionRow.artifact_digest == prepared.artifact_digest,
                        VersionRow.status == "ready",
                    )
                    .order_by(VersionRow.version)
                ).first()
                if same is not None:
                    differs = [
                        field
                        for field, old, new in (
                            ("metrics", same.metrics, metrics),
                            ("tags", same.tags, tags),
                            ("description", same.description, description),
                            ("intended_use", same.intended_use, kw.get("intended_use") or ""),
                            ("params", same.params, prepared.params),
                        )
                        if old != new
                    ]
                    if differs:
                        raise ConflictError(
                            f"version {same.version} of {name!r} has the same files but other "
                            f"{', '.join(differs)}; pass the same metadata to reuse it, or "
                            "register without reuse_identical to create a new version"
                        )
                    return rows.to_version(s, same, name)
            s.execute(
                update(ModelRow)
                .where(ModelRow.id == row.id)
                .values(latest_version=ModelRow.latest_version + 1, updated_at=utcnow())
            )
            number = s.scalar(select(ModelRow.latest_version).where(ModelRow.id == row.id))
            assert number is not None
            now = utcnow()
            version = VersionRow(
                model_id=row.id,
                version=number,
                flavor=prepared.flavor,
                status="ready",
                description=description,
                intended_use=kw.get("intended_use") or "",
                signature=prepared.signature.model_dump(mode="json"),
                profile=prepared.profile,
                target_profile=prepared.target_profile,
                prediction_profile=prepared.prediction_profile,
                params=prepared.params,
                metrics=metrics,
                tags=tags,
                lineage={**prepared.lineage, "created_by": who, "created_at": now.isoformat()},
                flavor_metadata=prepared.flavor_metadata,
                artifacts=dict(prepared.artifacts),
                artifact_digest=prepared.artifact_digest,
                created_by=who,
                created_at=now,
                status_changed_at=now,
            )
            card = render_card(rows.to_version(s, version, name, aliases=[]))
            version.artifacts = {**prepared.artifacts, CARD_FILE: self._put_text(card)}
            s.add(version)
            s.flush()
            rows.add_event(
                s,
                who,
                "version.create",
                "version",
                f"{name}/{number}",
                None,
                {"flavor": prepared.flavor, "artifact_digest": prepared.artifact_digest},
            )
            return rows.to_version(s, version, name, aliases=[])

    def _column_policy(self, name: str) -> Protector | None:
        """The column policy of model ``name``, checked against this process's keys."""
        columns = read_book(self.db, Keyring()).effective(name)
        if not columns:
            return None
        policy = Protector(columns, Keyring.from_settings(self.settings))
        return policy.check(f"the column policy of model {name!r}")

    def _put_text(self, text: str) -> dict[str, Any]:
        with tempfile.TemporaryDirectory(prefix="shipyard-card-") as tmp:
            path = Path(tmp) / CARD_FILE
            path.write_text(text, encoding="utf-8")
            digest, size = self.artifacts.put_file(path)
        return {"sha256": digest, "size": size}

    def list_versions(
        self,
        name: str | None = None,
        *,
        status: VersionStatus | None = None,
        flavor: str | None = None,
        tags: Mapping[str, str] | None = None,
        metrics: Iterable[str] = (),
        limit: int = 100,
        offset: int = 0,
    ) -> list[ModelVersion]:
        """Versions of one model (or all models), newest first, filtered.

        ``metrics`` holds filters such as ``"accuracy>=0.9"``; all must hold.
        """
        if status is not None and status not in STATUSES:
            raise InvalidInputError(f"status {status!r} is not one of: {', '.join(STATUSES)}")
        if limit < 1 or offset < 0:
            raise InvalidInputError("limit must be at least 1 and offset at least 0")
        filters = [parse_metric_filter(m) for m in metrics]
        wanted = validate_tags(dict(tags or {}))
        query = (
            select(VersionRow, ModelRow.name)
            .join(ModelRow, VersionRow.model_id == ModelRow.id)
            .order_by(ModelRow.name, VersionRow.version.desc())
        )
        with self.db.session() as s:
            if name is not None:
                query = query.where(VersionRow.model_id == rows.model_row(s, name).id)
            if status is not None:
                query = query.where(VersionRow.status == status)
            if flavor is not None:
                query = query.where(VersionRow.flavor == flavor)
            if not wanted and not filters:  # nothing to filter in Python: page in SQL
                query = query.limit(limit).offset(offset)
                return [rows.to_version(s, r, n) for r, n in s.execute(query)]
            found = [
                (row, model_name)
                for row, model_name in s.execute(query)
                if all(row.tags.get(k) == v for k, v in wanted.items())
                and all(
                    m in row.metrics and COMPARISONS[op](row.metrics[m], value)
                    for m, op, value in filters
                )
            ]
            return [rows.to_version(s, r, n) for r, n in found[offset : offset + limit]]

    def set_status(
        self, name: str, version: int, status: VersionStatus, *, actor: str | None = None
    ) -> ModelVersion:
        """Archive a version (or make it ready again). An aliased version cannot be archived."""
        if status not in STATUSES:
            raise InvalidInputError(f"status {status!r} is not one of: {', '.join(STATUSES)}")
        with self.db.session(write=True) as s:
            model = rows.model_row(s, name, lock=True)
            row = rows.version_row(s, name, version)
            if status == "archived":
                pointing = sorted(
                    a for a, v in rows.aliases_of(s, model.id).items() if v == version
                )
                if pointing:
                    raise ConflictError(
                        f"version {version} of {name!r} is the target of alias(es) "
                        f"{', '.join(pointing)}; move or delete them before archiving it"
                    )
            before = row.status
            if before != status:
                row.status = status
                row.status_changed_at = utcnow()
                rows.add_event(
                    s,
                    self._actor(actor),
                    "version.status",
                    "version",
                    f"{name}/{version}",
                    {"status": before},
                    {"status": status},
                )
            return rows.to_version(s, row, name)

    # -- aliases -----------------------------------------------------------------------

    # -- artifacts -----------------------------------------------------------------------

    def verify(self, name: str | None = None) -> VerifyReport:
        """Check every file of every version (of one model, or all) against its sha256."""
        versions = files = 0
        problems: list[str] = []
        names = [name] if name is not None else [m.name for m in self.list_models(limit=10**9)]
        for model in names:
            for record in self.list_versions(model, limit=10**9):
                versions += 1
                for file, entry in sorted(record.artifacts.items()):
                    files += 1
                    what = f"model {model!r} version {record.version}, file {file}"
                    try:
                        self.artifacts.read_verified(str(entry["sha256"]), what=what)
                    except ArtifactIntegrityError as exc:
                        problems.append(str(exc))
        return VerifyReport(versions=versions, files=files, problems=problems)

    # -- events ------------------------------------------------------------------------

    def events(
        self,
        *,
        model: str | None = None,
        target_kind: str | None = None,
        target: str | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Recorded changes, newest first: all of them, those of one model (itself, its
        versions and its aliases), or those of one target."""
        query = select(EventRow).order_by(EventRow.id.desc()).limit(limit)
        if model:
            validate_model_name(model)  # also keeps LIKE wildcards out of the pattern
            query = query.where(
                or_(
                    EventRow.target == model,
                    EventRow.target.like(f"{model}/%"),
                    EventRow.target.like(f"{model}@%"),
                )
            )
        if target_kind:
            query = query.where(EventRow.target_kind == target_kind)
        if target:
            query = query.where(EventRow.target == target)
        with self.db.session() as s:
            return [Event.model_validate(r, from_attributes=True) for r in s.scalars(query)]
