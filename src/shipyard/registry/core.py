"""What every part of the registry shares: its stores, who is acting, and lookups."""

from __future__ import annotations

from typing import Self

from sqlalchemy import func, select

from shipyard.config import Settings
from shipyard.errors import AliasNotFoundError, VersionNotFoundError
from shipyard.registry import rows
from shipyard.registry.lineage import os_user
from shipyard.registry.types import Model, ModelVersion
from shipyard.registry.uri import ModelURI
from shipyard.store import audit
from shipyard.store.artifacts import ArtifactStore
from shipyard.store.database import Database
from shipyard.store.tables import AliasRow, VersionRow


class RegistryCore:
    """The stores a registry works on, and reads of single records."""

    def __init__(
        self, database: Database, artifacts: ArtifactStore, settings: Settings | None = None
    ) -> None:
        self.db = database
        self.artifacts = artifacts
        self.settings = settings or Settings()
        self.db.act_as(self.settings.actor or os_user())

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Self:
        """A registry on the database and artifact store the settings name."""
        settings = settings or Settings()
        database = Database(settings.database, busy_timeout_ms=settings.db_busy_timeout_ms)
        return cls(database, ArtifactStore(settings.artifacts), settings)

    def _actor(self, actor: str | None) -> str:
        return actor or audit.ACTOR.get() or self.settings.actor or os_user()

    def get_model(self, name: str) -> Model:
        """A model by name; :class:`ModelNotFoundError` if there is none."""
        with self.db.session() as s:
            return rows.to_model(s, rows.model_row(s, name))

    def get_version(self, name: str, version: int) -> ModelVersion:
        """One version by number."""
        with self.db.session() as s:
            return rows.to_version(s, rows.version_row(s, name, version), name)

    def resolve(self, uri: str | ModelURI) -> ModelVersion:
        """The version a ``models:/`` URI names, read in one consistent transaction."""
        parsed = uri if isinstance(uri, ModelURI) else ModelURI.parse(uri)
        with self.db.session() as s:
            model = rows.model_row(s, parsed.name)
            if parsed.alias is not None:
                number = s.scalar(
                    select(AliasRow.version).where(
                        AliasRow.model_id == model.id, AliasRow.alias == parsed.alias
                    )
                )
                if number is None:
                    known = rows.aliases_of(s, model.id)
                    raise AliasNotFoundError(
                        f"model {parsed.name!r} has no alias {parsed.alias!r}; "
                        + (
                            f"its aliases are: {', '.join(sorted(known))}"
                            if known
                            else f"set one with: shipyard alias set {parsed.name} "
                            f"{parsed.alias} VERSION"
                        )
                    )
            elif parsed.latest:
                number = s.scalar(
                    select(func.max(VersionRow.version)).where(
                        VersionRow.model_id == model.id, VersionRow.status == "ready"
                    )
                )
                if number is None:
                    raise VersionNotFoundError(
                        f"model {parsed.name!r} has no ready version; make an archived one "
                        f"ready again with: shipyard models restore {parsed.name} VERSION"
                    )
            else:
                number = parsed.version
            assert number is not None
            return rows.to_version(s, rows.version_row(s, parsed.name, number), parsed.name)
