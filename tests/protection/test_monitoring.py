"""Monitors of a model under a column policy: data quality leaves the protected columns
out, drift compares hashed values with the hashed reference."""

from __future__ import annotations

import pandas as pd
from pydantic import SecretStr

from models import Amounts
from protection.test_no_plaintext import _rows
from shipyard.config import Settings
from shipyard.monitoring import MonitorService
from shipyard.predictions import PredictionLogWriter
from shipyard.protection import generate_key
from shipyard.protection.service import ColumnPolicies
from shipyard.registry import Registry


def test_monitors_see_protected_columns_as_the_log_holds_them(settings: Settings) -> None:
    settings = settings.model_copy(
        update={
            "column_keys": SecretStr(generate_key()),
            "column_hash_key": SecretStr(generate_key()),
        }
    )
    registry = Registry.from_settings(settings)
    try:
        policies = ColumnPolicies.of(registry)
        policies.set("model", "m", {"ssn": "encrypt", "email": "hash", "notes": "drop"})
        training = _rows("t", 60)
        training["email"] = [f"user{i % 3}@x.io" for i in range(60)]  # a few, repeated
        registry.register_model(Amounts(), "m", training_data=training)
        live = training.sample(frac=1.0, random_state=1).reset_index(drop=True)
        writer = PredictionLogWriter(settings.predictions, policies=policies.live())
        writer.append(
            model="m",
            version=1,
            request_id="r1",
            protocol="v1",
            inputs=live,
            predictions=(live["amount"] * 2).to_numpy(),
            probabilities=None,
            latency_ms=1.0,
        )
        writer.close()
        monitors = MonitorService(registry, settings.predictions, settings.feedback)
        monitors.create("watch", model="m", checks=["data_quality", "data_drift"], rows=100)
        run = monitors.run("watch")
        by = {(r.check, r.metric, r.column): r for r in run.results}
        assert by[("data_quality", "missing_columns", None)].status == "ok"
        quality = {c for (check, _, c) in by if check == "data_quality"}
        assert quality.isdisjoint({"ssn", "notes", "email"})
        drifted = {c for (check, _, c) in by if check == "data_drift" and c is not None}
        assert "email" in drifted and "ssn" not in drifted and "notes" not in drifted
        assert by[("data_drift", "drift", "email")].status == "ok"  # same hashes, same shares
        assert isinstance(run.rows, int) and run.rows == len(pd.DataFrame(live))
    finally:
        registry.db.dispose()
