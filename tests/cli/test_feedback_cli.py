"""``shipyard feedback load``: CSV and Parquet files against a real prediction log."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from shipyard.config import Settings
from shipyard.predictions import PredictionLogWriter, read_feedback


def _log(home: Path) -> None:
    writer = PredictionLogWriter(Settings(home=home).predictions, flush_interval=60)
    for request_id in ("r1", "r2"):
        writer.append(
            model="m",
            version=1,
            request_id=request_id,
            protocol="v1",
            inputs=pd.DataFrame({"x": [1.0, 2.0]}),
            predictions=np.array([0, 1]),
            probabilities=None,
            latency_ms=1.0,
        )
    writer.close()


def test_a_csv_file_is_loaded_and_accounted_for(  # type: ignore[no-untyped-def]
    run, shipyard_home: Path, tmp_path: Path
) -> None:
    _log(shipyard_home)
    path = tmp_path / "labels.csv"
    path.write_text("rid,pos,outcome\n007,1,1\nr1,0,0\nr2,1,\nr9,0,1\nr1,0,1\n")
    loaded = run(
        "feedback", "load", str(path), "--id-column", "rid", "--label-column", "outcome",
        "--row-column", "pos",
    )  # fmt: skip
    assert loaded.code == 0, loaded.err
    assert "labels.csv: 5 rows read, 3 labels stored" in loaded.out
    assert "1  matched to logged predictions" in loaded.out
    assert "2  unmatched (kept; matched once their predictions are logged)  e.g. 007, r9" in (
        loaded.out
    )
    assert "1  duplicates in this file (the last one kept)  e.g. r1" in loaded.out
    assert "1  rejected, not stored (1 missing label)  e.g. r2" in loaded.out
    stored = read_feedback(Settings(home=shipyard_home).feedback)
    assert sorted(stored["request_id"]) == ["007", "r1", "r9"]  # ids stay text: 007 kept


def test_a_parquet_file_as_json_and_errors_that_say_what_to_do(  # type: ignore[no-untyped-def]
    run, shipyard_home: Path, tmp_path: Path
) -> None:
    _log(shipyard_home)
    path = tmp_path / "labels.parquet"
    pd.DataFrame({"request_id": ["r1", "r2"], "label": [1, 0]}).to_parquet(path)
    first = json.loads(run("feedback", "load", str(path), "--json").out)
    assert (first["stored"], first["matched"], first["replaced"]) == (2, 2, 0)
    again = json.loads(run("feedback", "load", str(path), "--json", "--source", "again").out)
    assert (again["replaced"], again["examples"]["replaced"]) == (2, ["r1", "r2"])
    wrong = run("feedback", "load", str(path), "--label-column", "y")
    assert wrong.code == 1 and "no column 'y'" in wrong.err and "--label-column" in wrong.err
    text = tmp_path / "labels.txt"
    text.write_text("x")
    assert "give a .csv or .parquet file" in run("feedback", "load", str(text)).err
    missing = run("feedback", "load", str(tmp_path / "none.csv"))
    assert missing.code == 1 and "is not a file" in missing.err
    hopeless = tmp_path / "hopeless.csv"
    hopeless.write_text("request_id,label\nr1,\n,1\n")
    refused = run("feedback", "load", str(hopeless))
    assert refused.code == 1 and "2  rejected" in refused.out
    assert "nothing stored: every row of" in refused.err
