"""``shipyard ab report``: tables and verdicts from a real log and feedback, the same data
as JSON, and one-line errors that say what to do."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from models import Doubler, Tripler
from shipyard.config import Settings
from shipyard.predictions import PredictionLogWriter, Route
from shipyard.registry import Registry


def _endpoint(run, home: Path) -> None:  # type: ignore[no-untyped-def]
    registry = Registry.from_settings(Settings(home=home, reference_sample_rows=0))
    for model in (Doubler(), Tripler()):
        registry.register_model(model, "m", training_data=pd.DataFrame({"x": [1.0]}))
    registry.db.dispose()
    created = run(
        "endpoints", "create", "e", "--split", "models:/m/1=50", "--split", "models:/m/2=50"
    )
    assert created.code == 0, created.err


def _traffic(home: Path, tmp_path: Path) -> Path:
    """200 requests per variant predicted by the real models, and a CSV of labels off by
    1 for ``m-1`` and by 0.1 for ``m-2``."""
    registry = Registry.from_settings(Settings(home=home))
    writer = PredictionLogWriter(Settings(home=home).predictions, flush_interval=60)
    rng = np.random.default_rng(2)
    labels = []
    for version in (1, 2):
        model = registry.load(f"models:/m/{version}")
        frame = pd.DataFrame({"x": rng.uniform(0, 10, 200)})
        predictions = model.predict(frame)
        ids = [f"{version}-{i}" for i in range(200)]
        writer.append_batch(
            model="m",
            version=version,
            request_ids=ids,
            protocols=["v1"] * 200,
            latencies_ms=rng.gamma(4, 2, 200).tolist(),
            rows=[1] * 200,
            inputs=frame,
            predictions=predictions,
            probabilities=None,
            routes=[Route("e", 1, f"m-{version}")] * 200,
        )
        offset = (1.0 if version == 1 else 0.1) * rng.choice([-1, 1], 200)
        labels += list(zip(ids, predictions + offset, strict=True))
    writer.close()
    registry.db.dispose()
    path = tmp_path / "labels.csv"
    pd.DataFrame(labels, columns=["id", "truth"]).to_csv(path, index=False)
    return path


def test_a_report_in_tables_and_as_json(run, shipyard_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _endpoint(run, shipyard_home)
    empty = run("ab", "report", "e")
    assert empty.code == 1 and "send it traffic" in empty.err and "--since" in empty.err
    labels = _traffic(shipyard_home, tmp_path)
    loaded = run("feedback", "load", str(labels), "--id-column", "id", "--label-column", "truth")
    assert loaded.code == 0 and "400 matched" in " ".join(loaded.out.split()), loaded.out
    shown = run("ab", "report", "e", "--since", "1h", "--task", "regression")
    assert shown.code == 0, shown.err
    for text in ["variants (control m-1)", "MAE (Welch's t-test, against m-1)", "latency (ms)"]:
        assert text in shown.out, shown.out
    assert "- MAE: m-2 beats m-1, 0.1 (m-2) vs 1 (m-1)" in shown.out
    data = json.loads(run("ab", "report", "e", "--json", "--task", "regression").out)
    assert data["control"] == "m-1" and data["task"] == "regression"
    mae = next(c for c in data["comparisons"] if c["metric"] == "MAE")
    assert mae["winner"] == "m-2" and mae["n_control"] == 200
    assert [v["requests"] for v in data["variants"]] == [200, 200]


def test_errors_name_the_problem_and_the_fix(run, shipyard_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _endpoint(run, shipyard_home)
    _traffic(shipyard_home, tmp_path)
    for args, message in [
        (["--control", "nope"], "control variant 'nope' has no logged predictions"),
        (["--since", "soon"], "--since 'soon' is not a duration"),
        (["--task", "ranking"], "use classification or regression"),
        (["--alpha", "2"], "alpha and power must be between 0 and 1"),
    ]:
        result = run("ab", "report", "e", *args)
        assert result.code == 1 and message in result.err, (args, result.err)
        assert len(result.err.strip().splitlines()) == 1
    old = run("ab", "report", "e", "--start", "2000-01-01", "--end", "2000-01-02T12:00:00")
    assert old.code == 1 and "no logged predictions from 2000-01-01 00:00:00 until" in old.err
    assert "widen the window" in old.err
    missing = run("ab", "report", "nope")
    assert missing.code == 1 and "no endpoint named 'nope'" in missing.err
