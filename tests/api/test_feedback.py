"""``POST /api/v1/feedback`` over a real server: labels as JSON records, as an uploaded
CSV or Parquet file, and through :class:`shipyard.Client`, stored where the in-process
readers find them; bad input names the column or the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from api.conftest import Server
from shipyard.errors import InvalidInputError
from shipyard.predictions import PredictionLogWriter, Route, read_feedback


@pytest.fixture
def server(control_plane: Server) -> Server:
    """These routes serve no predictions: the control plane alone."""
    return control_plane


def _logged(server: Server, ids: list[str]) -> None:
    """Requests ``ids`` in the server's prediction log, one row each."""
    writer = PredictionLogWriter(server.settings.predictions, flush_interval=60)
    writer.append_batch(
        model="m",
        version=1,
        request_ids=ids,
        protocols=["v1"] * len(ids),
        latencies_ms=[1.0] * len(ids),
        rows=[1] * len(ids),
        inputs=pd.DataFrame({"x": np.arange(len(ids), dtype=float)}),
        predictions=np.zeros(len(ids), dtype=int),
        probabilities=None,
        routes=[Route("e", 1, "main")] * len(ids),
    )
    writer.close()


def _stored(server: Server) -> dict[str, object]:
    found = read_feedback(server.settings.feedback)
    return dict(zip(found["request_id"], found["label"], strict=True))


def test_json_records(server: Server) -> None:
    _logged(server, ["r1", "r2"])
    body = {
        "records": [
            {"id": "r1", "y": 1},
            {"id": "r2", "y": 0},
            {"id": "r3", "y": 1},
            {"id": "r1", "y": 0},  # a later row for r1 wins
            {"id": None, "y": 1},
        ],
        "id_column": "id",
        "label_column": "y",
    }
    reply = server.http.post("/feedback", json=body)
    assert reply.status_code == 200, reply.text
    receipt = reply.json()
    assert (receipt["received"], receipt["stored"], receipt["duplicates"]) == (5, 3, 1)
    assert (receipt["matched"], receipt["unmatched"], receipt["rejected"]) == (2, 1, 1)
    assert receipt["rejected_reasons"] == {"missing request id": 1}
    assert (receipt["source"], receipt["examples"]["unmatched"]) == ("api", ["r3"])
    assert _stored(server) == {"r1": 0, "r2": 0, "r3": 1}


def test_csv_and_parquet_uploads(server: Server, tmp_path: Path) -> None:
    _logged(server, ["007", "8"])
    csv = tmp_path / "labels.csv"
    csv.write_text("ticket,truth,n\n007,yes,0\n8,no,0\n8,no,1\n")
    with csv.open("rb") as file:
        reply = server.http.post(
            "/feedback",
            data={"id_column": "ticket", "label_column": "truth", "row_column": "n"},
            files={"file": (csv.name, file)},
        )
    assert reply.status_code == 200, reply.text
    receipt = reply.json()
    assert (receipt["source"], receipt["stored"], receipt["matched"]) == ("labels.csv", 3, 2)
    assert receipt["examples"]["unmatched"] == ["8"]  # row 1 of request 8 was not logged
    assert _stored(server)["007"] == "yes"  # the id is read as text: its zeros stay

    parquet = tmp_path / "more.parquet"
    pd.DataFrame({"request_id": ["8"], "label": ["maybe"]}).to_parquet(parquet)
    again = server.client.add_feedback(parquet, source="audit")
    assert (again.source, again.stored, again.replaced, again.matched) == ("audit", 1, 1, 1)
    assert _stored(server)["8"] == "maybe"


def test_the_client_sends_frames_records_and_files(server: Server, tmp_path: Path) -> None:
    _logged(server, ["a", "b"])
    frame = server.client.add_feedback(pd.DataFrame({"request_id": ["a"], "label": [1.5]}))
    assert (frame.source, frame.stored, frame.matched) == ("api", 1, 1)
    records = server.client.add_feedback(
        [{"rid": "b", "score": 2.5, "row": 0}],
        id_column="rid",
        label_column="score",
        row_column="row",
    )
    assert (records.stored, records.matched, records.unmatched) == (1, 1, 0)
    path = tmp_path / "late.csv"
    path.write_text("request_id,label\nc,3.5\n")
    from_file = server.client.add_feedback(str(path))
    assert (from_file.source, from_file.unmatched) == ("late.csv", 1)
    assert _stored(server) == {"a": 1.5, "b": 2.5, "c": 3.5}


def test_bad_input_names_the_column_or_the_file(server: Server, tmp_path: Path) -> None:
    missing = server.http.post("/feedback", json={"records": [{"id": "r1", "label": 1}]})
    assert missing.status_code == 400
    assert missing.json()["error"].startswith(
        "feedback has no column 'request_id' (its columns: id, label); name the right ones"
    )
    assert "id_column, label_column and row_column over REST" in missing.json()["error"]
    empty = server.http.post("/feedback", json={"records": []})
    assert empty.status_code == 400 and empty.json()["error"].startswith("no labels given")
    with pytest.raises(InvalidInputError, match="feedback has no column 'y'"):
        server.client.add_feedback([{"request_id": "r1"}], label_column="y")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    reply = server.http.post("/feedback", files={"file": (broken.name, broken.read_bytes())})
    assert reply.status_code == 400
    assert reply.json()["error"].startswith("file broken.parquet could not be read as Parquet")
    refused = [
        ({"files": {"file": ("labels.txt", b"x")}}, 400, "file labels.txt: upload a .csv or"),
        ({"data": {"id_column": "id"}, "files": {"other": ("a.csv", b"x")}}, 400, "file: the "),
        ({"json": {"id_column": "id"}}, 422, "body.records: Field required"),
        ({"json": {"records": [], "id": "x"}}, 422, "body.id: Extra inputs are not permitted"),
        ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
        ({"content": b"x", "headers": {"content-type": "text/plain"}}, 400, "'text/plain' is"),
    ]
    for request, status, message in refused:
        reply = server.http.post("/feedback", **request)  # type: ignore[arg-type]
        assert reply.status_code == status and message in reply.json()["error"], reply.text
    assert not server.settings.feedback.exists() or _stored(server) == {}
