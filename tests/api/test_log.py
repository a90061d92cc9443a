"""Erasure and retention of the prediction log through the server: REST and Client."""

from __future__ import annotations

from api.conftest import Server
from predictions.test_erasure import _log
from shipyard.predictions import read_predictions


def test_erasure_and_retention_over_rest(control_plane: Server) -> None:
    settings = control_plane.settings
    _log(settings.predictions, ["q1", "q2"], ["ana", "bo"], None)
    client = control_plane.client
    removed = client.erase_predictions(["q1"])
    assert removed["rows"] == 1
    assert client.erase_predictions(subject=("customer", "bo"))["rows"] == 1
    assert read_predictions(settings.predictions).empty
    assert client.set_log_retention("*", 90) == {"*": 90}
    assert client.log_retention() == {"*": 90}
    assert client.expire_log()["rows"] == 0
    missing = control_plane.http.put("/log/retention/nope", json={"days": 3})
    assert missing.status_code == 404 and "shipyard endpoints list" in missing.json()["error"]
    bad = control_plane.http.put("/log/retention/*", json={"days": 0})
    assert bad.status_code == 422
    empty = control_plane.http.post("/log/erasures", json={})
    assert empty.status_code == 400 and "name what to erase" in empty.json()["error"]
