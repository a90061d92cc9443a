"""The acceptance test of column policies: a model served on a loopback port, a batch
job, a registration, all with distinctive personal values in protected columns; then
every byte under ``$SHIPYARD_HOME`` (the SQLite database and its WAL included) and every
row of the metadata store is searched for them, and none is found. Hashed values still
join, encrypted ones decrypt with the key."""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from api.conftest import serve
from models import Amounts
from shipyard.batch import BatchSpec, run_job
from shipyard.config import Settings
from shipyard.errors import ConfigurationError, InvalidInputError
from shipyard.predictions import PredictionLogWriter, read_predictions
from shipyard.protection import Keyring, Protector, generate_key, reveal
from shipyard.protection.service import ColumnPolicies
from shipyard.registry import Registry
from shipyard.registry.registration import REFERENCE_FILE
from shipyard.serving.dataplane import DataPlane
from shipyard.store.tables import Base, BatchJobRow

PROTECTED = {"ssn": "encrypt", "email": "hash", "card": "mask", "notes": "drop"}


def _rows(kind: str, n: int, start: int = 0) -> pd.DataFrame:
    """Rows whose protected values all carry the marker ``zqx``."""
    numbers = range(start, start + n)
    return pd.DataFrame(
        {
            "ssn": [f"zqx-{kind}-ssn-{i:04d}" for i in numbers],
            "email": [f"zqx-{kind}-{i}@example.org" for i in numbers],
            "card": [f"zqx{kind}card{i:04d}4242" for i in numbers],
            "notes": [f"zqx {kind} note {i}" for i in numbers],
            "amount": [float(i) for i in numbers],
        }
    )


def _everything_stored(settings: Settings, registry: Registry) -> list[tuple[str, bytes]]:
    """Every file under the home (WAL included), and every row of every table."""
    found = [
        (str(path), path.read_bytes()) for path in Path(settings.home).rglob("*") if path.is_file()
    ]
    with registry.db.session() as s:
        for table in Base.metadata.sorted_tables:
            rows = s.execute(select(table)).all()
            found.append((f"table {table.name}", repr(rows).encode()))
    return found


def test_no_plaintext_of_a_protected_column_is_stored(settings: Settings, tmp_path: Path) -> None:
    encryption, hashing = generate_key(), generate_key()
    settings = settings.model_copy(
        update={
            "column_keys": SecretStr(encryption),
            "column_hash_key": SecretStr(hashing),
            "prediction_log_flush_s": 0.1,
        }
    )
    keyring = Keyring.from_settings(settings)
    registry = Registry.from_settings(settings)
    training = _rows("train", 40)
    live = pd.concat([_rows("live", 3), _rows("live", 1)], ignore_index=True)  # a repeat
    batch = _rows("batch", 50)
    batch.loc[7, "amount"] = None  # rejected: the training data had no missing amounts
    secrets = [v for frame in (training, live, batch) for c in PROTECTED for v in frame[c].dropna()]
    source = tmp_path / "input.parquet"  # outside the home: the user's own file
    batch.to_parquet(source)
    output = Path(settings.home) / "scores"

    try:
        for server in serve(settings):
            client = server.client
            # The policies first, through the API: the first version is protected too.
            client.set_column_policy("m", PROTECTED)
            client.set_column_policy("ep", {"notes": "hash"}, kind="endpoint")
            version = registry.register_model(Amounts(), "m", training_data=training)
            registry.set_alias("m", "champion", version.version)
            client.create_endpoint(
                "ep", {"kind": "single", "variants": [{"name": "a", "model": version.uri}]}
            )
            auth = {"Authorization": server.http.headers["Authorization"]}
            with httpx.Client(base_url=server.url, timeout=30, headers=auth) as http:
                for i, row in enumerate(live.to_dict("records")):
                    path = "/v1/endpoints/ep/predict" if i % 2 else "/v1/models/m/predict"
                    deadline = time.monotonic() + 30
                    while True:  # the endpoint is picked up within a follow interval
                        answer = http.post(path, json={"instances": [row]})
                        if answer.status_code != 404 or time.monotonic() > deadline:
                            break
                        time.sleep(0.2)
                    assert answer.status_code == 200, answer.text
                failing = live.iloc[0].to_dict() | {"amount": -1.0, "ssn": "zqx-live-ssn-fails"}
                secrets.append(failing["ssn"])
                refused = http.post("/v1/models/m/predict", json={"instances": [failing]})
                assert refused.status_code == 500
            job = client.start_batch_job(
                version.uri, input=str(source), output=str(output), id_column="ssn"
            )
            while (job := client.get_batch_job(job.id)).state == "running":
                time.sleep(0.1)
            assert (job.state, job.rows_out, job.rows_rejected) == ("succeeded", 49, 1)

        # Nothing in the clear, anywhere.
        stored = _everything_stored(settings, registry)
        assert len(stored) > 10
        for where, content in stored:
            for value in secrets:
                assert value.encode() not in content, f"{value!r} is in {where}"
            for key in (encryption, hashing):
                assert key.encode() not in content, f"a key is in {where}"

        # The log: hashes join, ciphertexts decrypt, masks keep the tail, drops are gone.
        log = read_predictions(settings.predictions)
        online = log[log["protocol"] != "batch"].reset_index(drop=True)
        assert len(online) == 5
        hashed = Protector({"email": "hash"}, keyring)
        emails = online["inputs.email"].tolist()
        assert emails[0] == emails[3] == hashed.hash_value(live.loc[0, "email"])
        clear = reveal(online, keyring)
        assert set(clear["inputs.ssn"]) == set(live["ssn"]) | {"zqx-live-ssn-fails"}
        assert clear["inputs.card"].str.endswith("4242").all()
        assert clear["inputs.card"].str.startswith("*").all()
        through = online["endpoint"] == "ep"
        assert online.loc[through, "inputs.notes"].str.fullmatch("[0-9a-f]{64}").all()
        assert online.loc[~through, "inputs.notes"].isna().all()  # dropped in those files
        failed = online[online["error"].notna()]
        assert failed["error"].str.contains("[protected]", regex=False).all()

        # The batch output and rejects: the id column encrypted; the log's ids are JOB:ROW.
        scored = reveal(pd.read_parquet(output), keyring, columns=["ssn"])
        assert sorted(scored["ssn"]) == sorted(batch["ssn"].drop(index=7))
        rejects = pq.read_table(str(output) + "-rejects").to_pandas()
        assert keyring.decrypt_text(rejects.loc[0, "ssn"], "ssn") == batch.loc[7, "ssn"]
        logged = log[log["protocol"] == "batch"]
        assert len(logged) == 49 and logged["request_id"].str.startswith(job.id).all()

        # The version: no listed values, the profile and sample protected.
        stored_version = registry.get_version("m", version.version)
        specs = {s.name: s for s in stored_version.signature.inputs}
        assert specs["ssn"].categories is None and specs["amount"].categories is None
        assert specs["ssn"].kind == "string"  # requests are still checked by kind
        assert stored_version.profile is not None
        assert set(stored_version.profile["columns"]) == {"email", "card", "amount"}
        raw = registry.read_artifact("m", version.version, REFERENCE_FILE)
        sample = pd.read_parquet(io.BytesIO(raw))
        assert "ssn" not in sample and "notes" not in sample
        assert set(sample["email"]) == {hashed.hash_value(e) for e in training["email"]}
    finally:
        registry.db.dispose()


def test_writing_without_the_key_a_policy_needs_writes_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    """A data plane without the key refuses to start; a batch job refuses to run;
    a registration is refused: nothing is written in the clear."""
    keyed = settings.model_copy(update={"column_keys": SecretStr(generate_key())})
    registry = Registry.from_settings(keyed)
    try:
        registry.register_model(Amounts(), "m", training_data=_rows("t", 5))
        ColumnPolicies.of(registry).set("model", "m", {"ssn": "encrypt"})
    finally:
        registry.db.dispose()
    bare = Registry.from_settings(settings)
    try:
        with pytest.raises(ConfigurationError, match="SHIPYARD_COLUMN_KEYS"):
            bare.register_model(Amounts(), "m", training_data=_rows("t", 5))
        source = tmp_path / "in.parquet"
        _rows("b", 3).to_parquet(source)
        output = tmp_path / "out"
        with pytest.raises(ConfigurationError, match="model 'm' encrypts 'ssn'"):
            run_job(bare, BatchSpec(str(source), output), "models:/m/1")
        assert not output.exists()
        plane = DataPlane(
            bare, [], endpoints=["*"], prediction_log=PredictionLogWriter(settings.predictions)
        )
        with pytest.raises(ConfigurationError, match="SHIPYARD_COLUMN_KEYS"):
            plane.start()
        assert not Path(settings.predictions).exists() or not any(
            Path(settings.predictions).rglob("*.parquet")
        )
    finally:
        bare.db.dispose()


def test_reject_reasons_and_job_errors_never_quote_a_protected_value(
    settings: Settings, tmp_path: Path
) -> None:
    registry = Registry.from_settings(settings)
    try:
        ColumnPolicies.of(registry).set("model", "m", {"amount": "mask", "notes": "drop"})
        version = registry.register_model(Amounts(), "m", training_data=_rows("t", 5))
        source = tmp_path / "in.csv"
        rows = _rows("b", 3).astype({"amount": object})
        rows.loc[1, "amount"] = "zqx-amount-secret"  # not a number: rejected
        rows.to_csv(source, index=False)
        output = tmp_path / "out"
        _, result = run_job(registry, BatchSpec(str(source), output), version.uri)
        assert result is not None and result.rejected == 1
        reasons = pq.read_table(tmp_path / "out-rejects").column("reason").to_pylist()
        assert "zqx-amount-secret" not in reasons[0] and "[protected]" in reasons[0]
        with pytest.raises(InvalidInputError) as failed:
            run_job(
                registry,
                BatchSpec(str(source), tmp_path / "o2", fail_on_reject=True),
                "models:/m/1",
            )
        assert "zqx-amount-secret" not in str(failed.value)
        with registry.db.session() as s:  # the job's record keeps the same message
            errors = [e for (e,) in s.execute(select(BatchJobRow.error)) if e]
        assert errors and not any("zqx-amount-secret" in e for e in errors)
    finally:
        registry.db.dispose()
