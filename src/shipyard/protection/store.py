"""Reading the column policies out of the metadata store (what the registry and the
writers need; :mod:`shipyard.protection.service` changes them)."""

from __future__ import annotations

from sqlalchemy import select

from shipyard.protection.keys import Keyring
from shipyard.protection.policy import Action, PolicyBook
from shipyard.store.database import Database
from shipyard.store.tables import ColumnPolicyRow


def read_book(db: Database, keyring: Keyring) -> PolicyBook:
    """Every policy in ``db`` now, with ``keyring``."""
    models: dict[str, dict[str, Action]] = {}
    endpoints: dict[str, dict[str, Action]] = {}
    with db.session() as s:
        for row in s.scalars(select(ColumnPolicyRow)):
            found = models if row.target_kind == "model" else endpoints
            found[row.target] = dict(row.columns)  # type: ignore[arg-type]
    return PolicyBook(models, endpoints, keyring)
