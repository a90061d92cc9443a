"""``/api/v1/jobs`` on a real server: a job started over HTTP is scored on the server
and its record followed to the end; wrong jobs are refused before anything runs."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from api.conftest import Server
from batch.scene import classifier, inputs, write
from shipyard.batch import Job
from shipyard.errors import ConflictError, InvalidInputError, ModelNotFoundError
from shipyard.registry import Registry


def _until_done(server: Server, job_id: str) -> Job:
    deadline = time.monotonic() + 60
    job = server.client.get_batch_job(job_id)
    while job.state in ("running", "cancelling") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = server.client.get_batch_job(job_id)
    return job


def test_a_job_over_rest(control_plane: Server, registry: Registry, tmp_path: Path) -> None:
    _, model = classifier(registry)
    frame = inputs(21_000)
    source = write(frame, tmp_path / "in.parquet")
    client = control_plane.client
    started = client.start_batch_job(
        "models:/clf/1",
        input=str(source),
        output=str(tmp_path / "out"),
        id_column="id",
        job_id="rest-1",
        log_fraction=0,
    )
    assert (started.id, started.state, started.model) == ("rest-1", "running", "models:/clf/1")
    done = _until_done(control_plane, "rest-1")
    assert (done.state, done.rows_out, done.rows_rejected) == ("succeeded", 20_997, 3)
    scored = pd.read_parquet(tmp_path / "out")
    assert scored["id"].tolist()[:3] == ["c0", "c1", "c2"]
    assert scored["prediction"].tolist()[:3] == model.predict(frame.iloc[:3, 1:]).tolist()
    assert [j.id for j in client.list_batch_jobs("succeeded")] == ["rest-1"]
    with pytest.raises(ConflictError, match="only a running job can be cancelled"):
        client.cancel_batch_job("rest-1")

    with pytest.raises(ModelNotFoundError):
        client.start_batch_job("models:/nope/1", input=str(source), output=str(tmp_path / "a"))
    with pytest.raises(InvalidInputError, match="no column\\(s\\) 'f3'"):
        write(frame.drop(columns="f3"), tmp_path / "thin.parquet")
        client.start_batch_job(
            "models:/clf/1", input=str(tmp_path / "thin.parquet"), output=str(tmp_path / "b")
        )
    assert not (tmp_path / "b").exists() and len(client.list_batch_jobs()) == 1
    refused = control_plane.http.post(
        "/jobs", json={"model": "models:/clf/1", "input": "x", "output": "y", "job_id": "a/b"}
    )
    assert refused.status_code == 422
    assert control_plane.http.get("/jobs/nope").status_code == 404
