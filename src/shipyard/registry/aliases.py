"""Aliases: movable names for versions, set and moved atomically."""

from __future__ import annotations

from shipyard.errors import AliasNotFoundError, ConflictError
from shipyard.registry import rows
from shipyard.registry.core import RegistryCore
from shipyard.registry.names import validate_alias
from shipyard.registry.types import Alias
from shipyard.store.tables import AliasRow, utcnow


class AliasOperations(RegistryCore):
    """Set, move and delete aliases; every change is recorded as an event."""

    def set_alias(self, name: str, alias: str, version: int, *, actor: str | None = None) -> Alias:
        """Point ``alias`` at ``version`` (creating or moving it) in one transaction."""
        validate_alias(alias)
        who = self._actor(actor)
        with self.db.session(write=True) as s:
            model = rows.model_row(s, name, lock=True)
            target = rows.version_row(s, name, version)
            if target.status != "ready":
                raise ConflictError(
                    f"version {version} of {name!r} is {target.status}; only a ready version can "
                    f"carry an alias (restore it with: shipyard models restore {name} {version})"
                )
            row = s.get(AliasRow, (model.id, alias))
            previous = None if row is None else row.version
            if previous == version:  # already there: nothing changes, nothing is recorded
                assert row is not None
                return Alias(
                    name=name,
                    alias=alias,
                    version=version,
                    previous_version=previous,
                    updated_by=row.updated_by,
                    updated_at=row.updated_at,
                )
            now = utcnow()
            if row is None:
                s.add(
                    AliasRow(
                        model_id=model.id,
                        alias=alias,
                        version=version,
                        updated_by=who,
                        updated_at=now,
                    )
                )
            else:
                row.version, row.updated_by, row.updated_at = version, who, now
            rows.add_event(
                s,
                who,
                "alias.set",
                "alias",
                f"{name}@{alias}",
                None if previous is None else {"version": previous},
                {"version": version},
            )
            return Alias(
                name=name,
                alias=alias,
                version=version,
                previous_version=previous,
                updated_by=who,
                updated_at=now,
            )

    def delete_alias(self, name: str, alias: str, *, actor: str | None = None) -> Alias:
        """Remove an alias; returns what it pointed at."""
        validate_alias(alias)
        with self.db.session(write=True) as s:
            model = rows.model_row(s, name, lock=True)
            row = s.get(AliasRow, (model.id, alias))
            if row is None:
                known = ", ".join(rows.aliases_of(s, model.id)) or "none"
                raise AliasNotFoundError(
                    f"model {name!r} has no alias {alias!r}; its aliases are: {known}"
                )
            gone = Alias(
                name=name,
                alias=alias,
                version=row.version,
                updated_by=row.updated_by,
                updated_at=row.updated_at,
            )
            s.delete(row)
            rows.add_event(
                s,
                self._actor(actor),
                "alias.delete",
                "alias",
                f"{name}@{alias}",
                {"version": row.version},
                None,
            )
            return gone
