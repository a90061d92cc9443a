"""The audit trail on SQLite and PostgreSQL: every change recorded with who, what, when,
before and after; bookkeeping left out; the chain broken by any edit, insertion or
removal made directly in the database; one chain from concurrent writers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import text
from typer.testing import CliRunner

from batch.scene import classifier, inputs, write
from shipyard.batch import BatchSpec, run_job
from shipyard.cli.main import app
from shipyard.endpoints import Endpoints
from shipyard.errors import InvalidInputError
from shipyard.registry import Registry
from shipyard.store.audit import GENESIS, AuditTrail, acting_as


def _register(registry: Registry, name: str = "m") -> None:
    frame = pd.DataFrame({"a": [0.0, 1, 2, 3], "b": [1.0, 0, 1, 0]})
    model = LogisticRegression().fit(frame, [0, 1, 0, 1])
    registry.register_model(model, name, training_data=frame)


def _sql(registry: Registry, statement: str) -> None:
    with registry.db.engine.begin() as connection:
        connection.execute(text(statement))


def test_changes_are_recorded_with_who_and_what(registry: Registry, tmp_path: Path) -> None:
    trail = AuditTrail(registry.db)
    _register(registry)
    with acting_as("ana"):
        registry.set_alias("m", "champion", 1)
        Endpoints(registry.db, registry.artifacts, registry.settings).create_endpoint(
            "scoring", {"kind": "single", "variants": [{"name": "v1", "model": "models:/m/1"}]}
        )
        registry.set_alias("m", "champion", 1)  # no change: nothing recorded
        registry.delete_alias("m", "champion")
    classifier(registry)
    source = write(inputs(30_000, bad=False), tmp_path / "in.parquet", row_group_size=1_000)
    spec = BatchSpec(input=str(source), output=tmp_path / "out", chunk_rows=1_000, job_id="j")
    run_job(registry, spec, "models:/clf/1", log_fraction=0)

    entries = trail.entries()
    seen = [(e["actor"], e["action"], e["entity"]) for e in entries]
    assert seen[:2] == [("tester", "insert", "models"), ("tester", "insert", "model_versions")]
    assert ("ana", "insert", "model_aliases") in seen
    assert ("ana", "insert", "endpoints") in seen
    deleted = [e for e in entries if e["action"] == "delete"]
    assert [(d["actor"], d["entity"], d["key"]) for d in deleted] == [
        ("ana", "model_aliases", "model_id=1,alias=champion")
    ]
    assert deleted[0]["before"]["version"] == 1 and deleted[0]["after"] is None
    assert entries[0]["key"] == "m" and entries[0]["after"]["created_by"] == "tester"
    # A reference profile is kept as its digest, not copied into the trail.
    versions = [e for e in entries if e["entity"] == "model_versions"]
    assert [v["key"] for v in versions] == [
        "id=1,model_id=1,version=1",
        "id=2,model_id=2,version=1",
    ]
    assert set(versions[1]["after"]["profile"]) == {"sha256", "bytes"}  # larger than 4 KB
    assert versions[1]["after"]["flavor"] == "sklearn"
    # The batch job: its start and its end, not each second's row counts.
    job = [e for e in entries if e["entity"] == "batch_jobs"]
    assert [e["action"] for e in job] == ["insert", "update"]
    assert job[1]["before"]["state"] == "running" and job[1]["after"]["state"] == "succeeded"
    assert [e["id"] for e in entries] == list(range(1, len(entries) + 1))
    assert trail.entries(entity="model_aliases", limit=1)[0]["action"] == "insert"

    check = trail.verify()
    assert check.ok and check.rows == len(entries) and check.head == entries[-1]["hash"]
    assert trail.verify(head=entries[2]["hash"]).ok


@pytest.mark.parametrize(
    "tamper, problem",
    [
        ("UPDATE audit_log SET actor = 'eve' WHERE id = 3", "row 3 was changed"),
        (
            "UPDATE audit_log SET after = '{\"version\": 9}' WHERE id = 3",
            "row 3 was changed",
        ),
        ("DELETE FROM audit_log WHERE id = 2", "row 2 is missing"),
    ],
)
def test_editing_or_removing_a_row_breaks_the_chain(
    registry: Registry, tamper: str, problem: str
) -> None:
    _register(registry)
    registry.set_alias("m", "champion", 1)
    registry.set_alias("m", "challenger", 1, actor="cy")  # a service told who, in process
    trail = AuditTrail(registry.db)
    assert trail.entries()[-1]["actor"] == "cy"
    assert trail.verify().ok
    _sql(registry, tamper)
    check = trail.verify()
    assert not check.ok and check.problem is not None and problem in check.problem


def test_rows_cut_from_the_end_are_found(registry: Registry) -> None:
    _register(registry)
    registry.set_alias("m", "champion", 1)
    trail = AuditTrail(registry.db)
    head = trail.verify().head
    registry.set_alias("m", "challenger", 1)
    last = trail.entries()[-1]["id"]
    _sql(registry, f"DELETE FROM audit_log WHERE id = {last}")
    check = trail.verify()
    assert not check.ok and "rows were removed from its end" in (check.problem or "")
    # Rewriting the head too hides the cut from the chain, not from a head kept elsewhere.
    _sql(registry, f"DELETE FROM audit_log WHERE id >= {last - 1}")
    _sql(registry, "UPDATE audit_head SET last_id = 0, last_hash = '" + GENESIS + "'")
    _sql(registry, "DELETE FROM audit_log")
    assert trail.verify().ok
    cut = trail.verify(head=head)
    assert not cut.ok and f"no row has the hash {head}" in (cut.problem or "")
    with pytest.raises(InvalidInputError, match="is not a hash"):
        trail.verify(head="abc")


def test_an_inserted_row_breaks_the_chain(registry: Registry) -> None:
    _register(registry)
    registry.set_alias("m", "champion", 1)
    trail = AuditTrail(registry.db)
    rows = trail.entries()
    # Shift the last row up and put a forged one in its place.
    last = rows[-1]
    _sql(registry, f"UPDATE audit_log SET id = {last['id'] + 1} WHERE id = {last['id']}")
    _sql(
        registry,
        "INSERT INTO audit_log (id, at, actor, action, entity, key, before, after, prev, hash) "
        f"VALUES ({last['id']}, '{last['at']}', 'eve', 'update', 'models', 'm', NULL, NULL, "
        f"'{last['prev']}', '{'f' * 64}')",
    )
    check = trail.verify()
    assert not check.ok and f"row {last['id']} was changed" in (check.problem or "")


def test_concurrent_writers_form_one_chain(registry: Registry) -> None:
    errors: list[BaseException] = []

    def register(name: str) -> None:
        try:
            own = Registry.from_settings(registry.settings)
            for i in range(3):
                _register(own, f"{name}-{i}")
            own.db.dispose()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    trail = AuditTrail(registry.db)
    check = trail.verify()
    assert check.ok, check.problem
    entries = trail.entries()
    assert sum(e["entity"] == "models" for e in entries) == 12
    assert [e["id"] for e in entries] == list(range(1, check.rows + 1))


def test_the_commands_list_export_and_verify(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", registry.settings.database_url)
    _register(registry)
    registry.set_alias("m", "champion", 1)
    runner = CliRunner()
    listed = runner.invoke(app, ["audit", "list"])
    assert listed.exit_code == 0 and "model_aliases" in listed.output
    exported = runner.invoke(app, ["audit", "export", "--output", str(tmp_path / "a.jsonl")])
    assert exported.exit_code == 0, exported.output
    lines = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == [1, 2, 3]
    held = runner.invoke(app, ["audit", "verify", "--json"])
    assert held.exit_code == 0 and json.loads(held.output)["ok"] is True
    _sql(registry, "UPDATE audit_log SET key = 'n' WHERE id = 1")
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1 and "row 1 was changed" in broken.output
    bad = runner.invoke(app, ["audit", "list", "--since", "yesterday"])
    assert isinstance(bad.exception, InvalidInputError)
    assert "--since 'yesterday' is not a time" in str(bad.exception)
