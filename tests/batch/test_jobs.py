"""Batch jobs as records, on SQLite and PostgreSQL: who ran what and how it ended, a
failure and a cancellation recorded, the predictions in the prediction log tagged as
batch (all rows, or the same sampled rows on every run)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batch.scene import BAD_ROWS, classifier, inputs, write
from shipyard.batch import BatchSpec, JobCancelled, Jobs, run_job, run_local
from shipyard.batch.jobs import _sampled
from shipyard.errors import ConflictError, InvalidInputError, JobNotFoundError
from shipyard.predictions import read_predictions
from shipyard.registry import Registry


def test_a_job_is_recorded_and_its_predictions_logged_as_batch(
    registry: Registry, tmp_path: Path
) -> None:
    _, model = classifier(registry)
    frame = inputs(21_000)
    source = write(frame, tmp_path / "in.parquet")
    spec = BatchSpec(input=str(source), output=tmp_path / "out", id_column="id", job_id="daily")
    job, result = run_job(registry, spec, "models:/clf/1", actor="ana")
    assert result is not None and (job.state, job.model, job.created_by) == (
        "succeeded",
        "models:/clf/1",
        "ana",
    )
    assert (job.rows_in, job.rows_out, job.rows_rejected) == (21_000, 20_997, 3)
    assert job.duration_s is not None and job.duration_s >= 0
    assert Jobs(registry).get("daily") == job
    assert [j.id for j in Jobs(registry).list("succeeded")] == ["daily"]

    logged = read_predictions(registry.settings.predictions, model="clf")
    assert len(logged) == 20_997 and set(logged["protocol"]) == {"batch"}
    good = frame.drop(index=list(BAD_ROWS))
    by_id = logged.set_index("request_id")
    assert (
        by_id.loc[good["id"], "prediction"].tolist()
        == model.predict(good.drop(columns="id")).tolist()
    )
    assert by_id["inputs.f0"].loc["c0"] == pytest.approx(frame.loc[0, "f0"])


def test_a_sampled_fraction_logs_the_same_rows_every_run(
    registry: Registry, tmp_path: Path
) -> None:
    classifier(registry)
    source = write(inputs(20_000, bad=False), tmp_path / "in.parquet")
    for name in ("a", "b"):
        spec = BatchSpec(input=str(source), output=tmp_path / name, job_id=name)
        run_job(registry, spec, "models:/clf/1", log_fraction=0.25)
    logged = read_predictions(registry.settings.predictions, model="clf")
    rows = {
        name: sorted(int(r.split(":")[1]) for r in logged["request_id"] if r.startswith(name))
        for name in ("a", "b")
    }
    assert rows["a"] == rows["b"]
    assert 0.22 < len(rows["a"]) / 20_000 < 0.28
    kept = np.flatnonzero(_sampled(np.arange(20_000), 0.25)).tolist()
    assert rows["a"] == kept


def test_failures_and_cancellations_are_recorded_and_a_cancelled_job_resumes(
    registry: Registry, tmp_path: Path
) -> None:
    loaded, _ = classifier(registry)
    source = write(inputs(40_000), tmp_path / "in.parquet", row_group_size=1_000)
    strict = BatchSpec(
        input=str(source), output=tmp_path / "strict", fail_on_reject=True, job_id="strict"
    )
    with pytest.raises(InvalidInputError, match="--fail-on-reject"):
        run_job(registry, strict, "models:/clf/1", log_fraction=0)
    failed = Jobs(registry).get("strict")
    assert failed.state == "failed" and "row 3 breaks the signature" in (failed.error or "")

    spec = BatchSpec(input=str(source), output=tmp_path / "out", chunk_rows=1_000, job_id="big")
    jobs = Jobs(registry)
    seen: list[int] = []

    def slow(done: int, total: int) -> None:
        seen.append(done)
        time.sleep(0.02)

    errors: list[BaseException] = []

    def work() -> None:
        try:
            run_job(registry, spec, "models:/clf/1", log_fraction=0, progress=slow)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    deadline = time.monotonic() + 30
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert jobs.cancel("big").state == "cancelling"
    thread.join(timeout=60)
    assert len(errors) == 1 and isinstance(errors[0], JobCancelled)
    cancelled = jobs.get("big")
    assert cancelled.state == "cancelled" and cancelled.rows_in < 40_000
    with pytest.raises(ConflictError, match="only a running job can be cancelled"):
        jobs.cancel("big")
    with pytest.raises(JobNotFoundError, match="shipyard jobs list"):
        jobs.get("nope")

    job, result = run_job(registry, spec, "models:/clf/1", log_fraction=0)
    assert job.state == "succeeded" and result is not None and result.chunks_skipped > 0
    whole = run_local(
        loaded,
        BatchSpec(input=str(source), output=tmp_path / "whole", chunk_rows=1_000, job_id="big"),
    )
    assert whole.rows_out == result.rows_out
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "out"), pd.read_parquet(tmp_path / "whole")
    )
    with pytest.raises(ConflictError, match="resume it with that model and --output"):
        run_job(
            registry,
            BatchSpec(input=str(source), output=tmp_path / "elsewhere", job_id="big"),
            "models:/clf/1",
        )
    with pytest.raises(InvalidInputError, match="job id 'a b' is not allowed"):
        run_job(
            registry,
            BatchSpec(input=str(source), output=tmp_path / "x", job_id="a b"),
            "models:/clf/1",
        )
