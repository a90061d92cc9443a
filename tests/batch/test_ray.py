"""The Ray engine on a local Ray: the local engine's output, part for part and row for
row; a job stopped on one engine finished on the other; a Ray job recorded and its
predictions logged; the command starting (and stopping) a Ray of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import ray

from batch.scene import BAD_ROWS, classifier, inputs, write
from shipyard.batch import BatchSpec, run_job, run_local
from shipyard.batch.ray_engine import run_ray
from shipyard.config import Settings
from shipyard.errors import InvalidInputError
from shipyard.predictions import read_predictions
from shipyard.registry import Registry


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """A local Ray of two CPUs for the module's jobs to join."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        object_store_memory=256 * 1024**2,
    )
    yield
    ray.shutdown()


@pytest.fixture
def own_registry(tmp_path: Path) -> Iterator[Registry]:
    registry = Registry.from_settings(Settings(home=tmp_path / "own"))
    yield registry
    registry.db.dispose()


def _parts(path: Path) -> tuple[list[str], pd.DataFrame]:
    names = sorted(p.name for p in path.glob("part-*"))
    return names, pd.read_parquet(path).drop(columns="job_id").reset_index(drop=True)


def _input(tmp_path: Path) -> Path:
    frame = inputs(40_000)
    source = tmp_path / "in"
    for i, start in enumerate(range(0, 40_000, 15_000)):
        write(frame.iloc[start : start + 15_000], source / f"{i}.parquet", row_group_size=4_000)
    return source


def test_ray_writes_the_local_engines_output(
    local_ray: None, own_registry: Registry, tmp_path: Path
) -> None:
    loaded, model = classifier(own_registry)
    source = _input(tmp_path)
    options = {"input": str(source), "id_column": "id", "chunk_rows": 1_500}
    local = run_local(loaded, BatchSpec(output=tmp_path / "local", **options))
    seen: list[tuple[int, int]] = []
    on_ray = run_ray(
        loaded,
        BatchSpec(output=tmp_path / "ray", engine="ray", **options),
        lambda done, total: seen.append((done, total)),
    )
    assert (on_ray.rows_in, on_ray.rows_out, on_ray.rejected) == (40_000, 39_997, 3)
    assert (on_ray.chunks, on_ray.reasons) == (local.chunks, local.reasons)
    assert seen[-1] == (40_000, 40_000) and len(seen) > 1
    assert _parts(tmp_path / "ray")[0] == _parts(tmp_path / "local")[0]
    pd.testing.assert_frame_equal(_parts(tmp_path / "ray")[1], _parts(tmp_path / "local")[1])
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "ray-rejects"), pd.read_parquet(tmp_path / "local-rejects")
    )
    assert json.loads((tmp_path / "ray" / "_SUCCESS").read_text())["rows_out"] == 39_997
    kept = inputs(40_000).drop(index=list(BAD_ROWS))
    scored = _parts(tmp_path / "ray")[1]
    assert scored["prediction"].tolist() == model.predict(kept.drop(columns="id")).tolist()


def test_a_job_stopped_on_the_local_engine_finishes_on_ray(
    local_ray: None, own_registry: Registry, tmp_path: Path
) -> None:
    loaded, _ = classifier(own_registry)
    source = _input(tmp_path)

    def stop(done: int, total: int) -> None:
        if done >= 10_000:
            raise KeyboardInterrupt

    spec = BatchSpec(input=str(source), output=tmp_path / "out", chunk_rows=2_000, job_id="j")
    with pytest.raises(KeyboardInterrupt):
        run_local(loaded, spec, stop)
    written = len(list((tmp_path / "out").glob("part-*")))
    spec.engine = "ray"
    finished = run_ray(loaded, spec)
    assert finished.chunks_skipped == written > 0
    run_local(loaded, BatchSpec(input=str(source), output=tmp_path / "whole", chunk_rows=2_000))
    pd.testing.assert_frame_equal(_parts(tmp_path / "out")[1], _parts(tmp_path / "whole")[1])


def test_a_bad_row_with_fail_on_reject_stops_a_ray_job_with_its_reason(
    local_ray: None, own_registry: Registry, tmp_path: Path
) -> None:
    loaded, _ = classifier(own_registry)
    spec = BatchSpec(
        input=str(_input(tmp_path)), output=tmp_path / "out", engine="ray", fail_on_reject=True
    )
    with pytest.raises(InvalidInputError, match="row 3 breaks the signature"):
        run_ray(loaded, spec)
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_a_ray_job_is_recorded_and_logs_its_sample(
    local_ray: None, registry: Registry, tmp_path: Path
) -> None:
    classifier(registry)
    source = write(inputs(30_000, bad=False), tmp_path / "in.parquet", row_group_size=3_000)
    for engine in ("local", "ray"):
        spec = BatchSpec(
            input=str(source), output=tmp_path / engine, engine=engine, job_id=f"on-{engine}"
        )
        job, _ = run_job(registry, spec, "models:/clf/1", actor="ana", log_fraction=0.3)
        assert (job.state, job.rows_out, job.options["engine"]) == ("succeeded", 30_000, engine)
    logged = read_predictions(registry.settings.predictions, model="clf")
    by_job = {
        engine: sorted(logged[logged["request_id"].str.startswith(f"on-{engine}:")]["request_id"])
        for engine in ("local", "ray")
    }
    assert 8_000 < len(by_job["ray"]) < 10_000  # about 30% of the rows, flushed by every actor
    assert [r.split(":")[1] for r in by_job["ray"]] == [r.split(":")[1] for r in by_job["local"]]


def test_the_command_starts_and_stops_a_ray_of_its_own(
    own_registry: Registry, tmp_path: Path
) -> None:
    classifier(own_registry)
    source = write(inputs(12_000), tmp_path / "in.parquet", row_group_size=2_000)
    env = os.environ | {"SHIPYARD_HOME": str(own_registry.settings.home)}
    command = [
        sys.executable, "-m", "shipyard", "batch", "score", "models:/clf/1", "--input",
        str(source), "--output", str(tmp_path / "out"), "--engine", "ray", "--workers", "2",
        "--chunk-rows", "1000", "--json",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["rows_out"], result["rejected"], result["chunks"]) == (11_998, 2, 12)
    assert len(list((tmp_path / "out").glob("part-*.parquet"))) == 12
    nowhere = subprocess.run(
        command[:-1] + ["--output", str(tmp_path / "other"), "--ray-address", "127.0.0.1:1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert nowhere.returncode == 1, nowhere.stderr
    assert "could not join the Ray cluster at '127.0.0.1:1': nothing answers" in nowhere.stderr
    assert not (tmp_path / "other").exists()  # nothing claimed: the same command runs later
