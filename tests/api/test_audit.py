"""The audit trail through the server: a request's changes recorded as its actor's,
listed, paged and verified over REST and the Client."""

from __future__ import annotations

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sqlalchemy import text

from api.conftest import Server
from shipyard.client import Client
from shipyard.registry import Registry


def test_a_requests_changes_are_its_actors_and_verified(control_plane: Server) -> None:
    registry = Registry.from_settings(control_plane.settings)
    frame = pd.DataFrame({"a": [0.0, 1, 2, 3]})
    registry.register_model(LogisticRegression().fit(frame, [0, 1, 0, 1]), "m", training_data=frame)
    with Client(control_plane.url, actor="ana") as ana:
        ana.set_alias("m", "champion", 1)
    answer = control_plane.http.delete(
        "/models/m/aliases/champion", headers={"X-Shipyard-Actor": "bo"}
    )
    assert answer.status_code in (200, 204), answer.text
    client = control_plane.client
    entries = client.audit_entries()
    # The new store's first admin and their token; then the changes, each by whoever the
    # request's token belongs to (an admin naming someone else is recorded as acting for them).
    assert [(e["actor"], e["action"], e["entity"]) for e in entries] == [
        ("tester", "insert", "users"),
        ("tester", "insert", "api_tokens"),
        ("tester", "insert", "models"),
        ("tester", "insert", "model_versions"),
        ("ana (by tester)", "insert", "model_aliases"),
        ("bo (by tester)", "delete", "model_aliases"),
    ]
    assert client.audit_entries(after_id=4, limit=1)[0]["actor"] == "ana (by tester)"
    assert client.audit_entries(entity="models")[0]["after"]["name"] == "m"
    check = client.verify_audit()
    assert check["ok"] and check["rows"] == 6 and check["head"] == entries[-1]["hash"]
    assert client.verify_audit(head=entries[3]["hash"])["ok"]
    with registry.db.engine.begin() as connection:
        connection.execute(text("UPDATE audit_log SET actor = 'eve' WHERE id = 6"))
    broken = client.verify_audit()
    assert not broken["ok"] and "row 6 was changed" in broken["problem"]
    bad = control_plane.http.get("/audit/verify", params={"head": "nothex"})
    assert bad.status_code == 422 and "head" in bad.text
    registry.db.dispose()
