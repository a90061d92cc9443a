"""Erasure and retention of the prediction log and feedback, on real Parquet files:
the rows of a request or a subject gone from every file (and their feedback), the audit
trail saying that it was done but not which values; days past an endpoint's retention
removed, others kept."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from shipyard.errors import EndpointNotFoundError, InvalidInputError
from shipyard.predictions import FeedbackStore, PredictionLogWriter, read_predictions
from shipyard.predictions.erasure import Retention
from shipyard.predictions.log import Route
from shipyard.registry import Registry
from shipyard.store.audit import AuditTrail

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _log(root: Path, ids: list[str], customers: list[str], endpoint: str | None) -> None:
    writer = PredictionLogWriter(root)
    inputs = pd.DataFrame({"customer": customers, "x": np.arange(len(ids), dtype=float)})
    route = None if endpoint is None else Route(endpoint, 1, "v1", False)
    writer.append_batch(
        model="m",
        version=1,
        request_ids=ids,
        protocols=["json"] * len(ids),
        latencies_ms=[1.0] * len(ids),
        rows=[1] * len(ids),
        inputs=inputs,
        predictions=np.zeros(len(ids)),
        probabilities=None,
        routes=[route] * len(ids),
    )
    writer.close()


def _retention(registry: Registry) -> Retention:
    return Retention(registry, registry.settings.predictions, registry.settings.feedback)


def _every_row(root: Path) -> pd.DataFrame:
    files = sorted(root.rglob("part-*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas() for f in files]) if files else pd.DataFrame()


def test_erasure_removes_a_requests_and_a_subjects_rows_and_their_feedback(
    registry: Registry,
) -> None:
    settings = registry.settings
    _log(settings.predictions, ["r1", "r2", "r3"], ["ana", "bo", "ana"], None)
    _log(settings.predictions, ["r4", "r5"], ["cy", "bo"], "scoring")
    FeedbackStore.from_settings(settings).add(
        pd.DataFrame({"request_id": ["r1", "r2", "r4", "r5"], "label": [1, 0, 1, 1]})
    )
    service = _retention(registry)
    removed = service.erase(request_ids=["r4"], subject=("customer", "bo"), actor="dpo")
    assert (removed.rows, removed.feedback_rows) == (3, 3)  # r2, r4, r5 and their labels
    left = read_predictions(settings.predictions)
    assert sorted(left["request_id"]) == ["r1", "r3"]
    assert set(left["inputs.customer"]) == {"ana"}
    labels = _every_row(settings.feedback)
    assert sorted(labels["request_id"]) == ["r1"]
    for path in [*settings.predictions.rglob("*"), *settings.feedback.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert b"r4" not in data and b"r5" not in data and b"bo" not in data, path

    [entry] = [e for e in AuditTrail(registry.db).entries() if e["action"] == "erase"]
    assert entry["actor"] == "dpo" and entry["after"]["rows"] == 3
    assert entry["after"]["subject_column"] == "customer"
    assert '"bo"' not in json.dumps(entry) and "r4" not in json.dumps(entry)

    again = service.erase(request_ids=["r4"])  # nothing left to remove
    assert (again.rows, again.files_rewritten, again.files_removed) == (0, 0, 0)
    with pytest.raises(InvalidInputError, match="name what to erase"):
        service.erase()


def _age(root: Path, days: int) -> None:
    """Move today's day directories of the log ``days`` back."""
    for directory in sorted(root.glob("model=*/date=*")):
        if directory.name == f"date={datetime.now(UTC).date()}":
            older = (NOW - timedelta(days=days)).date()
            shutil.move(directory, directory.with_name(f"date={older}"))


def test_retention_removes_old_days_and_an_endpoints_older_rows(registry: Registry) -> None:
    settings = registry.settings
    from shipyard.endpoints import Endpoints

    Endpoints(registry.db, registry.artifacts, settings)  # the store has the table
    with registry.db.engine.begin() as connection:
        from shipyard.store.tables import EndpointRow

        connection.execute(
            EndpointRow.__table__.insert().values(  # type: ignore[attr-defined]
                name="scoring", description="", current_revision=1, latest_revision=1,
                created_by="t", created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
    _log(settings.predictions, ["old1", "old2"], ["a", "b"], "scoring")
    _age(settings.predictions, 40)
    _log(settings.predictions, ["mid1"], ["a"], "scoring")
    _log(settings.predictions, ["mid2"], ["b"], None)
    _age(settings.predictions, 10)
    _log(settings.predictions, ["new1"], ["c"], "scoring")
    service = _retention(registry)
    assert service.set("scoring", 7, actor="ops") == {"scoring": 7}
    assert service.set("*", 30) == {"*": 30, "scoring": 7}
    removed = service.expire(now=NOW)
    assert removed.rows == 3 and len(removed.days_removed) == 1
    kept = _every_row(settings.predictions)
    assert sorted(kept["request_id"]) == ["mid2", "new1"]
    assert service.set("scoring", None) == {"*": 30}
    with pytest.raises(EndpointNotFoundError, match="shipyard endpoints list"):
        service.set("nope", 3)
    with pytest.raises(InvalidInputError, match="--days must be 1 or more"):
        service.set("*", 0)
    changes = [e for e in AuditTrail(registry.db).entries() if e["entity"] == "log_retention"]
    assert [(c["action"], c["actor"]) for c in changes[:1]] == [("insert", "ops")]
