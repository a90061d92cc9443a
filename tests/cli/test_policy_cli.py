"""``shipyard policy``: set, show, list, remove, keygen, hash and reveal, and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.config import Settings
from shipyard.protection import Keyring, Protector, generate_key


def test_set_show_list_remove(run, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHIPYARD_COLUMN_KEYS", generate_key())
    monkeypatch.setenv("SHIPYARD_COLUMN_HASH_KEY", generate_key())
    done = run("policy", "set", "--model", "fraud", "ssn=encrypt", "email=hash", "--json")
    assert done.code == 0, done.err
    assert json.loads(done.out)["columns"] == {"ssn": "encrypt", "email": "hash"}
    assert run("policy", "set", "--endpoint", "checkout", "notes=drop").code == 0
    shown = run("policy", "show", "--model", "fraud")
    assert "ssn" in shown.out and "encrypt" in shown.out
    listed = json.loads(run("policy", "list", "--json").out)
    assert [(p["target_kind"], p["target"]) for p in listed] == [
        ("endpoint", "checkout"),
        ("model", "fraud"),
    ]
    left = run("policy", "remove", "--model", "fraud", "email", "--json")
    assert json.loads(left.out)["columns"] == {"ssn": "encrypt"}
    gone = run("policy", "remove", "--endpoint", "checkout")
    assert "no column policy any more" in gone.out


def test_errors_are_one_line(run) -> None:  # type: ignore[no-untyped-def]
    bad = run("policy", "set", "--model", "fraud", "ssn=scramble")
    assert bad.code == 1 and bad.err.startswith("error: column 'ssn': unknown action")
    keyless = run("policy", "set", "--model", "fraud", "ssn=encrypt")
    assert keyless.code == 1 and "SHIPYARD_COLUMN_KEYS" in keyless.err
    both = run("policy", "show", "--model", "a", "--endpoint", "b")
    assert both.code == 1 and "--model NAME or --endpoint NAME" in both.err
    missing = run("policy", "show", "--model", "fraud")
    assert missing.code == 1 and "has no column policy" in missing.err
    assert len(bad.err.strip().splitlines()) == 1


def test_keygen_hash_and_reveal(run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = run("policy", "keygen").out.strip()
    hash_key = run("policy", "keygen").out.strip()
    assert key != hash_key and len(key) == 44
    monkeypatch.setenv("SHIPYARD_COLUMN_KEYS", key)
    monkeypatch.setenv("SHIPYARD_COLUMN_HASH_KEY", hash_key)
    ring = Keyring.from_settings(Settings())
    policy = Protector({"ssn": "encrypt", "email": "hash"}, ring)
    assert run("policy", "hash", "a@x.io").out.strip() == policy.hash_value("a@x.io")
    inputs = pa.StructArray.from_arrays([pa.array(["123-45-6789"])], ["ssn"])
    table = pa.table({"request_id": ["r1"], "inputs": policy.struct(inputs)})
    source = tmp_path / "log.parquet"
    pq.write_table(table, source)
    out = tmp_path / "clear.parquet"
    done = run("policy", "reveal", str(source), "-o", str(out))
    assert done.code == 0, done.err
    assert pd.read_parquet(out)["inputs.ssn"].tolist() == ["123-45-6789"]
    again = run("policy", "reveal", str(source), "-o", str(out))
    assert again.code == 1 and "exists" in again.err
