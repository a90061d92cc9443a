"""Column policies as records, on SQLite and PostgreSQL: set, shown, removed, audited,
and refused when malformed or when this process lacks the key they need."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from shipyard.config import Settings
from shipyard.errors import ConfigurationError, InvalidNameError, NotFoundError
from shipyard.protection import generate_key
from shipyard.protection.policy import PolicyError
from shipyard.protection.service import ColumnPolicies
from shipyard.registry import Registry
from shipyard.store.audit import AuditTrail, acting_as


@pytest.fixture
def keyed(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "column_keys": SecretStr(generate_key()),
            "column_hash_key": SecretStr(generate_key()),
        }
    )


def test_set_show_list_remove_and_the_audit_trail(keyed: Settings) -> None:
    registry = Registry.from_settings(keyed)
    try:
        policies = ColumnPolicies.of(registry)
        with acting_as("ana"):
            first = policies.set("model", "fraud", {"ssn": "encrypt", "email": "hash"})
        assert first.columns == {"ssn": "encrypt", "email": "hash"} and first.updated_by == "ana"
        policies.set("endpoint", "checkout", ["notes=drop", "card=mask"], actor="bo")
        assert policies.get("model", "fraud").columns == first.columns
        assert [(p.target_kind, p.target) for p in policies.list()] == [
            ("endpoint", "checkout"),
            ("model", "fraud"),
        ]
        assert [p.target for p in policies.list("model")] == ["fraud"]
        book = policies.book()
        assert book.effective("fraud", "checkout") == {
            "ssn": "encrypt",
            "email": "hash",
            "notes": "drop",
            "card": "mask",
        }
        left = policies.remove("model", "fraud", ["email"], actor="cy")
        assert left is not None and left.columns == {"ssn": "encrypt"}
        assert policies.remove("model", "fraud") is None
        with pytest.raises(NotFoundError, match="no column policy"):
            policies.get("model", "fraud")

        rows = AuditTrail(registry.db).entries(entity="column_policies")
        seen = [(r["action"], r["actor"], r["key"]) for r in rows]
        assert seen == [
            ("insert", "ana", "target_kind=model,target=fraud"),
            ("insert", "bo", "target_kind=endpoint,target=checkout"),
            ("update", "cy", "target_kind=model,target=fraud"),
            ("delete", "tester", "target_kind=model,target=fraud"),
        ]
        assert rows[2]["before"]["columns"] == {"ssn": "encrypt", "email": "hash"}
        assert rows[2]["after"]["columns"] == {"ssn": "encrypt"}
        assert AuditTrail(registry.db).verify().ok
    finally:
        registry.db.dispose()


def test_bad_policies_are_refused_and_nothing_is_written(settings: Settings) -> None:
    registry = Registry.from_settings(settings)  # no keys at all
    try:
        policies = ColumnPolicies.of(registry)
        with pytest.raises(PolicyError, match="column 'ssn': unknown action 'hide'"):
            policies.set("model", "fraud", {"ssn": "hide"})
        with pytest.raises(ConfigurationError, match="SHIPYARD_COLUMN_KEYS"):
            policies.set("model", "fraud", {"ssn": "encrypt"})
        with pytest.raises(ConfigurationError, match="SHIPYARD_COLUMN_HASH_KEY"):
            policies.set("endpoint", "ep", {"email": "hash"})
        with pytest.raises(InvalidNameError):
            policies.set("model", "../etc", {"ssn": "drop"})
        with pytest.raises(NotFoundError, match="names no column 'x'"):
            policies.set("model", "fraud", {"ssn": "drop"})
            policies.remove("model", "fraud", ["x"])
        assert [p.columns for p in policies.list()] == [{"ssn": "drop"}]
    finally:
        registry.db.dispose()


def test_a_malformed_key_is_refused_when_the_policy_is_set(settings: Settings) -> None:
    broken = settings.model_copy(update={"column_keys": SecretStr("abc")})
    registry = Registry.from_settings(broken)
    try:
        with pytest.raises(ConfigurationError, match="SHIPYARD_COLUMN_KEYS: a key is not 32"):
            ColumnPolicies.of(registry).set("model", "fraud", {"ssn": "mask"})
    finally:
        registry.db.dispose()
