"""The local batch engine on real Parquet and CSV files: every valid row scored as the
model scores it, bad rows rejected with their reasons, an interrupted job (an exception,
``kill -9``) resumed to the output an uninterrupted run writes, bad inputs refused before
anything is written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batch.scene import BAD_ROWS, FEATURES, classifier, inputs, write
from shipyard.batch import BatchSpec, run_local
from shipyard.config import Settings
from shipyard.errors import ConflictError, InvalidInputError
from shipyard.registry import Registry


def _output(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).reset_index(drop=True)


def test_every_valid_row_is_scored_and_bad_rows_rejected(
    registry: Registry, tmp_path: Path
) -> None:
    loaded, model = classifier(registry)
    frame = inputs(30_000)
    source = write(frame, tmp_path / "in.parquet")
    result = run_local(
        loaded,
        BatchSpec(input=str(source), output=tmp_path / "out", id_column="id", chunk_rows=7_000),
    )
    assert (result.rows_in, result.rows_out, result.rejected) == (30_000, 29_997, 3)
    assert result.chunks == 6  # 10,000-row groups in chunks of at most 7,000
    assert result.reasons == {"f0": 1, "f2": 1, "f4": 1}
    out = _output(tmp_path / "out")
    good = frame.drop(index=list(BAD_ROWS))
    assert out["row"].tolist() == good.index.tolist()
    assert out["id"].tolist() == good["id"].tolist()
    assert np.array_equal(out["prediction"].to_numpy(), model.predict(good[FEATURES]))
    probabilities = out[["probability_0", "probability_1"]].to_numpy()
    # Equal up to the last bits: BLAS may sum a chunk in another order than the whole.
    np.testing.assert_allclose(probabilities, model.predict_proba(good[FEATURES]), atol=1e-12)
    assert set(out["model"]) == {"clf"} and set(out["version"]) == {1}
    assert set(out["job_id"]) == {result.job_id}

    rejected = _output(tmp_path / "out-rejects")
    assert rejected["row"].tolist() == list(BAD_ROWS)
    assert rejected["id"].tolist() == [f"c{r}" for r in BAD_ROWS]
    assert rejected["column"].tolist() == ["f2", "f4", "f0"]
    assert all("missing value" in reason for reason in rejected["reason"])


def test_csv_a_directory_and_a_glob_give_the_same_output(
    registry: Registry, tmp_path: Path
) -> None:
    loaded, _ = classifier(registry)
    frame = inputs(9_000, bad=False)
    write(frame, tmp_path / "one.parquet")
    for i in range(3):
        part = frame.iloc[i * 3_000 : (i + 1) * 3_000]
        write(part, tmp_path / "parts" / f"{i}.parquet")
        write(part, tmp_path / "csv" / f"{i}.csv")
    runs = {
        "file": str(tmp_path / "one.parquet"),
        "directory": str(tmp_path / "parts"),
        "glob": str(tmp_path / "csv" / "*.csv"),
    }
    outputs = {}
    for name, source in runs.items():
        spec = BatchSpec(input=source, output=tmp_path / f"out-{name}", id_column="id")
        assert run_local(loaded, spec).rows_out == 9_000
        outputs[name] = _output(tmp_path / f"out-{name}").drop(columns="job_id")
    pd.testing.assert_frame_equal(outputs["file"], outputs["directory"])
    # CSV floats are parsed from text: equal to the last bit is not promised there.
    assert outputs["glob"]["id"].tolist() == outputs["file"]["id"].tolist()
    assert (outputs["glob"]["prediction"] == outputs["file"]["prediction"]).mean() > 0.999


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupted_job_resumes_where_it_stopped(
    registry: Registry, tmp_path: Path, workers: int
) -> None:
    loaded, _ = classifier(registry)
    source = write(inputs(24_000), tmp_path / "in.parquet", row_group_size=2_000)
    whole = run_local(
        loaded,
        BatchSpec(input=str(source), output=tmp_path / "whole", chunk_rows=2_000, workers=1),
    )

    def stop_after_four(done: int, total: int) -> None:
        if done >= 8_000:
            raise KeyboardInterrupt

    spec = BatchSpec(
        input=str(source), output=tmp_path / "out", chunk_rows=2_000, job_id="j1", workers=workers
    )
    with pytest.raises(KeyboardInterrupt):
        run_local(loaded, spec, stop_after_four)
    written = len(list((tmp_path / "out").glob("part-*.parquet")))
    # One worker stops at its fourth chunk; each other worker finishes the chunk it holds.
    assert 4 <= written <= 4 + workers - 1
    assert not (tmp_path / "out" / "_SUCCESS").exists()
    again = run_local(
        loaded,
        BatchSpec(
            input=str(source), output=tmp_path / "out", chunk_rows=2_000, job_id="j1", workers=2
        ),
    )
    assert (again.chunks, again.chunks_skipped) == (12, written)
    assert (again.rows_in, again.rows_total) == (24_000, 24_000)
    assert (again.rows_out, again.rejected) == (whole.rows_out, whole.rejected) == (23_997, 3)
    pd.testing.assert_frame_equal(
        _output(tmp_path / "out").drop(columns="job_id"),
        _output(tmp_path / "whole").drop(columns="job_id"),
    )
    pd.testing.assert_frame_equal(
        _output(tmp_path / "out-rejects"), _output(tmp_path / "whole-rejects")
    )


@pytest.mark.parametrize("kind", [".parquet", ".csv"])
def test_any_number_of_workers_writes_the_same_output(
    registry: Registry, tmp_path: Path, kind: str
) -> None:
    """Chunks follow from the input alone: the parts, their rows and the rejects are the
    same whether one worker scores them or three share them."""
    loaded, model = classifier(registry)
    frame = inputs(30_000)
    source = tmp_path / "in"
    for i, start in enumerate(range(0, 30_000, 7_000)):  # files of uneven sizes
        write(frame.iloc[start : start + 7_000], source / f"{i}{kind}", row_group_size=3_000)
    outputs = {}
    for workers in (1, 2, 3):
        out = tmp_path / f"out{workers}"
        spec = BatchSpec(
            input=str(source), output=out, id_column="id", chunk_rows=2_500, workers=workers
        )
        result = run_local(loaded, spec)
        assert (result.rows_in, result.rows_out, result.rejected) == (30_000, 29_997, 3)
        outputs[workers] = (
            sorted(p.name for p in out.glob("part-*")),
            _output(out).drop(columns="job_id"),
            _output(tmp_path / f"out{workers}-rejects"),
        )
    for workers in (2, 3):
        assert outputs[workers][0] == outputs[1][0]
        pd.testing.assert_frame_equal(outputs[workers][1], outputs[1][1])
        pd.testing.assert_frame_equal(outputs[workers][2], outputs[1][2])
    scored = outputs[1][1]
    assert scored["row"].tolist() == [r for r in range(30_000) if r not in BAD_ROWS]
    kept = frame.drop(index=list(BAD_ROWS))
    np.testing.assert_array_equal(scored["prediction"], model.predict(kept[FEATURES]))
    assert scored["id"].tolist() == kept["id"].tolist()


def test_a_failing_worker_stops_the_others(registry: Registry, tmp_path: Path) -> None:
    loaded, _ = classifier(registry)
    source = write(inputs(200_000), tmp_path / "in.parquet", row_group_size=1_000)
    spec = BatchSpec(
        input=str(source), output=tmp_path / "out", chunk_rows=1_000, fail_on_reject=True,
        workers=2,
    )  # fmt: skip
    with pytest.raises(InvalidInputError, match=r"row (3|1234) breaks the signature"):
        run_local(loaded, spec)
    # The bad row is in the first chunk: the other worker stops after its current unit's
    # chunk instead of scoring the whole input.
    assert len(list((tmp_path / "out").glob("part-*.parquet"))) < 100  # of 200
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_a_job_killed_with_sigkill_resumes_to_the_same_output(
    registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    classifier(registry)
    source = write(inputs(200_000), tmp_path / "in.parquet", row_group_size=1_000)
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "shipyard", "batch", "score", "models:/clf/1", "--input",
        str(source), "--output", str(out), "--chunk-rows", "1000", "--job-id", "killed",
    ]  # fmt: skip
    env = os.environ | {"SHIPYARD_DATABASE_URL": settings.database_url}
    job = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list(out.glob("part-*.parquet"))) < 20 and time.monotonic() < deadline:
        if job.poll() is not None:
            break
        time.sleep(0.01)
    job.send_signal(signal.SIGKILL)
    job.wait(timeout=30)
    written = len(list(out.glob("part-*.parquet")))
    assert 20 <= written < 200, "the job should have been killed part way"
    finished = subprocess.run(
        command + ["--json"], env=env, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr
    import json

    result = json.loads(finished.stdout)
    assert result["chunks_skipped"] >= written - 1  # the chunk being written may be redone
    assert (result["rows_out"], result["rejected"]) == (199_997, 3)
    loaded = registry.load("models:/clf/1")
    whole = tmp_path / "whole"
    run_local(loaded, BatchSpec(input=str(source), output=whole, chunk_rows=1_000, job_id="killed"))
    pd.testing.assert_frame_equal(_output(out), _output(whole))


def test_bad_inputs_are_refused_before_anything_is_written(
    registry: Registry, tmp_path: Path
) -> None:
    loaded, _ = classifier(registry)
    frame = inputs(1_000)
    source = write(frame.drop(columns="f3"), tmp_path / "in.parquet")
    out = tmp_path / "out"
    with pytest.raises(InvalidInputError, match="no column\\(s\\) 'f3' that models:/clf/1 takes"):
        run_local(loaded, BatchSpec(input=str(source), output=out))
    assert not out.exists()
    full = write(frame, tmp_path / "full.parquet")
    with pytest.raises(InvalidInputError, match="--id-column 'customer' is not a column"):
        run_local(loaded, BatchSpec(input=str(full), output=out, id_column="customer"))
    with pytest.raises(InvalidInputError, match="is not a file, a directory or a glob"):
        run_local(loaded, BatchSpec(input=str(tmp_path / "none.parquet"), output=out))
    with pytest.raises(InvalidInputError, match="row 3 breaks the signature.*--fail-on-reject"):
        run_local(loaded, BatchSpec(input=str(full), output=out, fail_on_reject=True))
    with pytest.raises(InvalidInputError, match="holds job .* resume it with --job-id"):
        run_local(loaded, BatchSpec(input=str(full), output=out))
    with pytest.raises(InvalidInputError, match="started with another chunk_rows"):
        run_local(
            loaded,
            BatchSpec(input=str(full), output=out, job_id=_job_of(out), chunk_rows=10),
        )
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    (stranger / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="is not empty"):
        run_local(loaded, BatchSpec(input=str(full), output=stranger))


def _job_of(output: Path) -> str:
    return str(json.loads((output / "_job.json").read_text())["job_id"])


def test_csv_output_holds_the_same_results_and_resumes(registry: Registry, tmp_path: Path) -> None:
    loaded, _ = classifier(registry)
    source = write(inputs(21_000), tmp_path / "in.parquet", row_group_size=3_000)
    run_local(loaded, BatchSpec(input=str(source), output=tmp_path / "pq", id_column="id"))

    def stop_after_two(done: int, total: int) -> None:
        if done >= 6_000:
            raise KeyboardInterrupt

    spec = BatchSpec(
        input=str(source), output=tmp_path / "csv", id_column="id", format="csv",
        chunk_rows=3_000, job_id="c", workers=1,
    )  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        run_local(loaded, spec, stop_after_two)
    assert sorted(p.name for p in (tmp_path / "csv").glob("part-*")) == [
        "part-000000.csv",
        "part-000001.csv",
    ]
    done = run_local(loaded, spec)
    assert (done.chunks_skipped, done.rows_out, done.rejected) == (2, 20_997, 3)
    parts = sorted((tmp_path / "csv").glob("part-*.csv"))
    text = pd.concat([pd.read_csv(p, dtype={"id": str}) for p in parts], ignore_index=True)
    parquet = _output(tmp_path / "pq")
    assert text["id"].tolist() == parquet["id"].tolist()
    assert text["row"].tolist() == parquet["row"].tolist()
    assert text["prediction"].tolist() == parquet["prediction"].tolist()
    np.testing.assert_array_equal(text["probability_1"], parquet["probability_1"])
    assert set(text["job_id"]) == {"c"} and set(text["model"]) == {"clf"}
    with pytest.raises(InvalidInputError, match="--format 'xml' is not one of"):
        run_local(loaded, BatchSpec(input=str(source), output=tmp_path / "x", format="xml"))


def test_a_word_among_numbers_in_a_csv_rejects_only_its_row(
    registry: Registry, tmp_path: Path
) -> None:
    loaded, model = classifier(registry)
    frame = inputs(3_000, bad=False)
    frame["id"] = [f"{i:05d}" for i in range(3_000)]  # ids with leading zeros
    frame["f1"] = frame["f1"].astype(object)
    frame.loc[7, "f1"] = "abc"
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    result = run_local(
        loaded, BatchSpec(input=str(source), output=tmp_path / "out", id_column="id")
    )
    assert (result.rows_out, result.rejected, result.reasons) == (2_999, 1, {"f1": 1})
    [reject] = _output(tmp_path / "out-rejects").to_dict("records")
    assert (reject["row"], reject["id"]) == (7, "00007")
    assert reject["reason"] == "column 'f1': expected float, got 'abc'"
    scored = _output(tmp_path / "out")
    assert scored["id"].tolist()[:3] == ["00000", "00001", "00002"]
    kept = frame.drop(index=[7])
    expected = model.predict(kept[FEATURES].astype(float))
    np.testing.assert_array_equal(scored["prediction"], expected)


def test_one_run_of_a_job_at_a_time(registry: Registry, tmp_path: Path) -> None:
    loaded, _ = classifier(registry)
    source = write(inputs(10_000), tmp_path / "in.parquet", row_group_size=1_000)
    spec = BatchSpec(input=str(source), output=tmp_path / "out", chunk_rows=1_000, job_id="one")
    started, go_on = threading.Event(), threading.Event()

    def slow(done: int, total: int) -> None:
        started.set()
        go_on.wait(30)

    first = threading.Thread(target=run_local, args=(loaded, spec, slow))
    first.start()
    try:
        assert started.wait(30)
        with pytest.raises(ConflictError, match="job one is being scored already"):
            run_local(loaded, BatchSpec(**{**spec.__dict__}))
    finally:
        go_on.set()
        first.join(30)
    again = run_local(loaded, BatchSpec(**{**spec.__dict__}))  # the lock went with the run
    assert again.chunks_skipped == 10
