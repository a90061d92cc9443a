"""``shipyard endpoints``: create, update, revisions, show, rollback, and errors in one
line that change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from models import Doubler, Tripler
from shipyard.config import Settings
from shipyard.registry import Registry


def _models(home: Path) -> None:
    registry = Registry.from_settings(Settings(home=home, reference_sample_rows=0))
    for model in (Doubler(), Tripler()):
        registry.register_model(model, "m", training_data=pd.DataFrame({"x": [1.0]}))
    registry.set_alias("m", "champion", 1)
    registry.db.dispose()


def test_an_endpoint_through_its_life(run, shipyard_home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _models(shipyard_home)
    created = run("endpoints", "create", "e", "--model", "models:/m@champion", "--reason", "go")
    assert created.code == 0, created.err
    assert "created at revision 1 (single: m-1 models:/m/1 100%)" in created.out
    canary = run(
        "endpoints", "update", "e", "--split", "models:/m/1=90", "--split", "models:/m/2=10"
    )
    assert canary.code == 0 and "now at revision 2" in canary.out
    assert 'kind: "single" -> "split"' in canary.out
    again = run(
        "endpoints", "update", "e", "--split", "models:/m/1=90", "--split", "models:/m/2=10"
    )
    assert "unchanged, still revision 2" in again.out
    policy = tmp_path / "ab.json"
    policy.write_text(
        json.dumps(
            {
                "kind": "ab",
                "sticky": {"header": "x-customer"},
                "variants": [
                    {"name": "a", "model": "models:/m/1", "weight": 50},
                    {"name": "b", "model": "models:/m/2", "weight": 50},
                ],
            }
        )
    )
    ab = run("endpoints", "update", "e", "--policy", f"@{policy}", "--reason", "test b")
    assert ab.code == 0 and "(sticky by header x-customer)" in ab.out
    listed = run("endpoints", "revisions", "e")
    assert [line.split()[0] for line in listed.out.splitlines()] == ["1", "2", "*"]
    back = run("endpoints", "rollback", "e", "--reason", "b is worse")
    assert back.code == 0 and "back at revision 2" in back.out
    shown = json.loads(run("endpoints", "show", "e", "--json").out)
    assert shown["current"]["revision"] == 2 and shown["latest_revision"] == 3
    assert json.loads(run("endpoints", "list", "--json").out)[0]["name"] == "e"
    history = json.loads(run("endpoints", "history", "e", "--json").out)
    assert [e["action"] for e in history] == [
        "endpoint.rollback",
        "endpoint.update",
        "endpoint.update",
        "endpoint.create",
    ]
    assert history[0]["after"] == {"revision": 2, "reason": "b is worse"}
    assert "endpoint.rollback" in run("endpoints", "history", "e").out
    missing = run("endpoints", "history", "nope")
    assert missing.code == 1 and "no endpoint named 'nope'" in missing.err


def test_bad_changes_fail_in_one_line_and_change_nothing(run, shipyard_home: Path) -> None:  # type: ignore[no-untyped-def]
    _models(shipyard_home)
    assert run("endpoints", "create", "e", "--model", "models:/m/1").code == 0
    for args, message in [
        (["--split", "models:/m/1=90", "--split", "models:/m/2=20"], "sum to 110"),
        (["--model", "models:/m/9"], "has no version 9"),
        (["--split", "models:/m/1"], "expected URI=PERCENT"),
        (["--model", "models:/m/1", "--policy", "{}"], "exactly one of --model"),
        (["--policy", "{not json"], "--policy is not valid JSON"),
        (["--policy", "@/nowhere/policy.json"], "cannot read '/nowhere/policy.json'"),
        (["--policy", '{"kind": "single", "variants": [], "x": 1}'], "traffic policy"),
    ]:
        result = run("endpoints", "update", "e", *args)
        assert result.code != 0 and message in result.err, (args, result.err)
        assert len(result.err.strip().splitlines()) == 1
    assert run("endpoints", "rollback", "e").code != 0  # revision 1 replaced nothing
    missing = run("endpoints", "show", "nope")
    assert missing.code != 0 and "no endpoint named 'nope'" in missing.err
    revisions = run("endpoints", "revisions", "e", "--json")
    assert [r["revision"] for r in json.loads(revisions.out)] == [1]
