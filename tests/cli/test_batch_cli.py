"""``shipyard batch score`` from the command line: a summary (or JSON), the rejects, and
one-line errors that say what to do."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from batch.scene import classifier, inputs, write
from shipyard.batch import Jobs
from shipyard.config import Settings
from shipyard.registry import Registry


def test_batch_score_from_the_command_line(  # type: ignore[no-untyped-def]
    run, registry: Registry, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", settings.database_url)
    classifier(registry)
    source = write(inputs(25_000), tmp_path / "in.parquet")
    out = tmp_path / "scores"
    done = run(
        "batch", "score", "models:/clf/1", "--input", str(source), "--output", str(out),
        "--id-column", "id", "--job-id", "nightly",
    )  # fmt: skip
    assert done.code == 0, done.err
    assert done.out.startswith("job nightly: 25,000 rows in, 24,997 scored, 3 rejected")
    assert f"rejected rows (1 on f0, 1 on f2, 1 on f4) with their reasons: {out}-rejects" in (
        done.out
    )
    again = run(
        "batch", "score", "models:/clf/1", "--input", str(source), "--output", str(out),
        "--id-column", "id", "--job-id", "nightly", "--json",
    )  # fmt: skip
    result = json.loads(again.out)
    assert (result["chunks"], result["chunks_skipped"], result["rows_out"]) == (3, 3, 24_997)

    as_csv = run(
        "batch", "score", "models:/clf/1", "--input", str(source), "--output",
        str(tmp_path / "csv"), "--format", "csv", "--log-fraction", "0",
    )  # fmt: skip
    assert as_csv.code == 0, as_csv.err
    assert len(list((tmp_path / "csv").glob("part-*.csv"))) == 3
    listed = run("jobs", "list")
    assert "nightly" in listed.out and "succeeded" in listed.out and "24,997" in listed.out
    shown = run("jobs", "show", "nightly")
    assert shown.out.startswith("job nightly succeeded: models:/clf/1")
    assert "rows 25,000 of 25,000 read, 24,997 scored, 3 rejected" in shown.out
    assert json.loads(run("jobs", "show", "nightly", "--json").out)["created_by"]
    for args, hint in [
        (("jobs", "cancel", "nightly"), "only a running job can be cancelled"),
        (("jobs", "show", "nope"), "shipyard jobs list"),
        (("jobs", "list", "--state", "done"), "is not one of: running"),
    ]:
        failed = run(*args)
        assert failed.code == 1 and hint in failed.err, (args, failed.err)

    for args, hint in [
        (("models:/nope/1", "--input", str(source), "--output", str(tmp_path / "a")), "nope"),
        (
            ("models:/clf/1", "--input", str(source), "--output", str(tmp_path / "d"),
             "--log-fraction", "2"),
            "log_fraction must be between 0 and 1",
        ),
        (("models:/clf/1", "--input", "missing.csv", "--output", str(tmp_path / "b")), "a glob"),
        (
            ("models:/clf/1", "--input", str(source), "--output", str(out)),
            "resume it with --job-id nightly",
        ),
        (
            ("models:/clf/1", "--input", str(source), "--output", str(tmp_path / "c"),
             "--fail-on-reject"),
            "--fail-on-reject stops the job",
        ),
    ]:  # fmt: skip
        failed = run("batch", "score", *args)
        assert failed.code == 1, args
        lines = failed.err.strip().splitlines()
        # One error line; a job that started says first which one it was.
        assert hint in lines[-1] and lines[-1].startswith("error: "), failed.err
        assert len(lines) == 1 or (len(lines) == 2 and lines[0].startswith("job ")), failed.err


def test_an_interrupted_or_wholly_rejected_job_says_what_to_do(
    registry: Registry, settings: Settings, tmp_path: Path
) -> None:
    classifier(registry)
    env = os.environ | {"SHIPYARD_DATABASE_URL": settings.database_url}
    source = write(inputs(300_000), tmp_path / "in.parquet", row_group_size=1_000)
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "shipyard", "batch", "score", "models:/clf/1", "--input",
        str(source), "--output", str(out), "--chunk-rows", "1000", "--job-id", "stopped",
        "--workers", "1",
    ]  # fmt: skip
    job = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while len(list(out.glob("part-*.parquet"))) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    job.send_signal(signal.SIGINT)
    _, err = job.communicate(timeout=60)
    text = err.decode()
    assert job.returncode == 130, text
    assert text.startswith("job stopped: scoring ")
    assert "error: job stopped interrupted after" in text and "--job-id stopped" in text
    record = Jobs(registry).get("stopped")
    # The parts on disk are counted (at least the five seen before the signal).
    assert record.state == "cancelled" and record.rows_out >= 4_000, (record, text)

    bad = inputs(50, bad=False)
    bad["f0"] = np.nan
    all_bad = write(bad, tmp_path / "bad.parquet")
    rejected = subprocess.run(
        command[:5] + ["models:/clf/1", "--input", str(all_bad), "--output", str(tmp_path / "b")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rejected.returncode == 1
    assert "error: no row was scored: all 50 broke the signature" in rejected.stderr
