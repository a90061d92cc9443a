"""Column policies as records in the metadata store: set, shown and removed per model
and per endpoint, every change in the audit trail; and what the writers of the
prediction log, batch jobs and the registry read them through."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from shipyard.config import Settings
from shipyard.errors import DatabaseError, InvalidInputError, NotFoundError
from shipyard.protection.keys import Keyring
from shipyard.protection.policy import Action, PolicyBook, Protector, parse_columns
from shipyard.protection.store import read_book
from shipyard.registry.names import validate_model_name
from shipyard.store import audit
from shipyard.store.audit import acting_as
from shipyard.store.database import Database, os_user
from shipyard.store.tables import ColumnPolicyRow, utcnow

log = logging.getLogger("shipyard.protection")

Kind = Literal["model", "endpoint"]
KINDS: tuple[Kind, ...] = ("model", "endpoint")


class ColumnPolicy(BaseModel):
    """A model's or an endpoint's column policy as stored."""

    model_config = ConfigDict(frozen=True)

    target_kind: Kind
    target: str
    columns: dict[str, Action]
    """Action by column name."""
    updated_by: str
    updated_at: datetime


def _record(row: ColumnPolicyRow) -> ColumnPolicy:
    return ColumnPolicy(
        target_kind=row.target_kind,  # type: ignore[arg-type]
        target=row.target,
        columns=dict(row.columns),  # type: ignore[arg-type]
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


def _target(kind: str, name: str) -> tuple[Kind, str]:
    if kind not in KINDS:
        raise InvalidInputError(f"a column policy belongs to a model or an endpoint; got {kind!r}")
    validate_model_name(name)
    return kind, name


class ColumnPolicies:
    """Column policies in the store ``db``, applied with the keys ``settings`` name."""

    def __init__(self, db: Database, settings: Settings | None = None) -> None:
        self.db = db
        self.settings = settings or Settings()
        self._keyring: Keyring | None = None

    @classmethod
    def of(cls, registry: Any) -> ColumnPolicies:
        """The policies of a :class:`~shipyard.registry.Registry`'s store."""
        return cls(registry.db, registry.settings)

    @property
    def keyring(self) -> Keyring:
        """This process's keys, read once (a malformed key raises
        :class:`~shipyard.errors.ConfigurationError` naming the setting)."""
        if self._keyring is None:
            self._keyring = Keyring.from_settings(self.settings)
        return self._keyring

    def _who(self, actor: str | None) -> str:
        return actor or audit.ACTOR.get() or self.settings.actor or os_user()

    # -- reading ------------------------------------------------------------------------

    def list(self, kind: str | None = None) -> list[ColumnPolicy]:
        """Every policy (of models or endpoints only, given ``kind``), by kind and name."""
        query = select(ColumnPolicyRow).order_by(
            ColumnPolicyRow.target_kind, ColumnPolicyRow.target
        )
        if kind is not None:
            if kind not in KINDS:
                raise InvalidInputError(f"kind {kind!r} is not one of: {', '.join(KINDS)}")
            query = query.where(ColumnPolicyRow.target_kind == kind)
        with self.db.session() as s:
            return [_record(r) for r in s.scalars(query)]

    def get(self, kind: str, name: str) -> ColumnPolicy:
        """One policy; :class:`~shipyard.errors.NotFoundError` when there is none."""
        kind, name = _target(kind, name)
        with self.db.session() as s:
            row = s.get(ColumnPolicyRow, (kind, name))
            if row is None:
                raise NotFoundError(
                    f"{kind} {name!r} has no column policy; set one with: shipyard policy set "
                    f"--{kind} {name} COLUMN=ACTION"
                )
            return _record(row)

    def book(self) -> PolicyBook:
        """Every policy now, with this process's keys."""
        return read_book(self.db, self.keyring)

    def protector(self, model: str, endpoint: str | None = None) -> Protector:
        """The policy rows of ``model`` (through ``endpoint``) get, checked against the
        keys (a missing key raises :class:`~shipyard.errors.ConfigurationError`)."""
        columns = read_book(self.db, Keyring()).effective(model, endpoint)
        if not columns:  # no keys needed: a key setting nothing uses is not read
            return Protector({})
        where = f"the column policy of model {model!r}"
        return Protector(columns, self.keyring).check(where)

    def live(self) -> LivePolicies:
        """What a long-running writer reads the policies through (see
        :class:`LivePolicies`)."""
        return LivePolicies(self)

    # -- changing -----------------------------------------------------------------------

    def set(
        self,
        kind: str,
        name: str,
        columns: Mapping[str, Any] | Iterable[str],
        *,
        actor: str | None = None,
    ) -> ColumnPolicy:
        """Make ``columns`` (column -> action) the whole policy of the model or endpoint
        ``name``. Refused, naming the column or the setting, when an action is unknown or
        needs a key this process does not have."""
        kind, name = _target(kind, name)
        parsed = parse_columns(columns)
        if not parsed:
            raise InvalidInputError(
                "a column policy needs at least one COLUMN=ACTION; remove it with: shipyard "
                f"policy remove --{kind} {name}"
            )
        Protector(parsed, self.keyring).check(f"the column policy of {kind} {name!r}")
        who = self._who(actor)
        with acting_as(actor or audit.ACTOR.get()), self.db.session(write=True) as s:
            row = s.get(ColumnPolicyRow, (kind, name), with_for_update=True)
            if row is None:
                row = ColumnPolicyRow(target_kind=kind, target=name)
                s.add(row)
            row.columns, row.updated_by, row.updated_at = dict(parsed), who, utcnow()
            s.flush()
            return _record(row)

    def remove(
        self,
        kind: str,
        name: str,
        columns: Iterable[str] = (),
        *,
        actor: str | None = None,
    ) -> ColumnPolicy | None:
        """Remove ``columns`` from the policy (every column, the policy itself, when none
        is named); what is left, or ``None``. The columns are written in the clear again
        from then on."""
        kind, name = _target(kind, name)
        wanted = list(columns)
        who = self._who(actor)
        with acting_as(actor or audit.ACTOR.get()), self.db.session(write=True) as s:
            row = s.get(ColumnPolicyRow, (kind, name), with_for_update=True)
            if row is None:
                raise NotFoundError(f"{kind} {name!r} has no column policy to remove")
            unknown = [c for c in wanted if c not in row.columns]
            if unknown:
                raise NotFoundError(
                    f"the column policy of {kind} {name!r} names no column "
                    f"{', '.join(map(repr, unknown))}; it names {', '.join(sorted(row.columns))}"
                )
            left = {c: a for c, a in row.columns.items() if wanted and c not in wanted}
            if not left:
                s.delete(row)
                return None
            row.columns, row.updated_by, row.updated_at = left, who, utcnow()
            s.flush()
            return _record(row)


class LivePolicies:
    """The policies as a writer that runs for long (the data plane's prediction log)
    reads them: anew at each call, so a change applies from the next flush; when the
    store cannot be read, the last policies read (a writer that never read them raises
    and writes nothing)."""

    def __init__(self, policies: ColumnPolicies) -> None:
        self.policies = policies
        self._last: PolicyBook | None = None
        self._lock = threading.Lock()

    def __call__(self) -> PolicyBook:
        try:
            book = self.policies.book()
        except DatabaseError:
            with self._lock:
                if self._last is None:
                    raise
                log.warning("column policies: the store cannot be read; using the last read")
                return self._last
        with self._lock:
            self._last = book
        return book
