"""``/api/v1/models`` over a real server: register by upload, browse, alias, card, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from api.conftest import Server
from shipyard.errors import (
    AliasNotFoundError,
    ConflictError,
    InvalidInputError,
    ModelNotFoundError,
    UntrustedArtifactError,
    VersionNotFoundError,
)


def _register(server: Server, saved: tuple[Path, Path], **options: object):  # type: ignore[no-untyped-def]
    path, data = saved
    return server.client.register(
        path, "fraud", flavor="sklearn", training_data=data, target_column="label", **options
    )


def test_register_by_upload_then_list_show_and_search(
    server: Server, saved_model: tuple[Path, Path]
) -> None:
    first = _register(
        server,
        saved_model,
        metrics={"f1": 0.8},
        params={"C": 1},
        tags={"team": "risk"},
        description="Flags card fraud.",
        intended_use="Review queue.",
        aliases=["champion"],
        code_version="abc123",
    )
    assert (first.name, first.version, first.flavor) == ("fraud", 1, "sklearn")
    assert first.metrics == {"f1": 0.8} and first.tags == {"team": "risk"}
    assert first.aliases == ["champion"] and first.created_by == "tester"
    assert first.lineage["extra"]["source_file"] == "model.skops"
    assert [c.name for c in first.signature.inputs] == ["age", "income", "score"]
    assert first.target_profile is not None  # the target column was split off
    assert first.lineage["code_version"]["commit"] == "abc123"
    second = _register(server, saved_model, metrics={"f1": 0.9})
    assert second.version == 2

    models = server.client.list_models()
    assert [(m.name, m.latest_version, m.aliases) for m in models] == [
        ("fraud", 2, {"champion": 1})
    ]
    assert server.client.list_models(search="nothing-like-it") == []
    assert server.client.list_models(tags={"team": "risk"}) == []  # model tags, not version's
    assert server.client.get_model("fraud").description == "Flags card fraud."
    assert [v.version for v in server.client.list_versions("fraud")] == [2, 1]
    assert [v.version for v in server.client.list_versions(metrics=["f1>=0.85"])] == [2]
    assert [v.version for v in server.client.list_versions(tags={"team": "risk"})] == [1]
    assert server.client.get_version("fraud", "champion").version == 1
    assert server.client.get_version("fraud", "latest").version == 2
    assert server.client.get_version("fraud", 2).metrics == {"f1": 0.9}

    raw = server.http.get("/models", params={"search": "FRAUD", "limit": 1})
    assert raw.status_code == 200 and [m["name"] for m in raw.json()] == ["fraud"]


def test_alias_set_move_delete_status_and_history(
    server: Server, saved_model: tuple[Path, Path]
) -> None:
    _register(server, saved_model)
    _register(server, saved_model)
    client = server.client
    assert client.set_alias("fraud", "champion", 1).previous_version is None
    moved = client.set_alias("fraud", "champion", 2)
    assert (moved.previous_version, moved.version) == (1, 2)
    with pytest.raises(ConflictError, match="target of alias"):
        client.set_status("fraud", 2, "archived")
    assert client.delete_alias("fraud", "champion").version == 2
    with pytest.raises(AliasNotFoundError, match="has no alias 'champion'") as missing:
        client.delete_alias("fraud", "champion")
    assert missing.value.status_code == 404
    assert client.set_status("fraud", 2, "archived").status == "archived"
    with pytest.raises(ConflictError, match="restore it with"):
        client.set_alias("fraud", "champion", 2)
    assert client.set_status("fraud", 2, "ready").status == "ready"
    events = client.history("fraud")
    assert [e.action for e in events][:3] == ["version.status", "version.status", "alias.delete"]
    # the actor of a change: X-Shipyard-Actor if given, else the server's default
    reply = server.http.put(
        "/models/fraud/aliases/staging", json={"version": 1}, headers={"X-Shipyard-Actor": "ana"}
    )
    assert reply.status_code == 200 and reply.json()["updated_by"] == "ana (by tester)"
    latest = client.history("fraud", limit=1)[0]
    assert (latest.action, latest.actor, latest.target) == (
        "alias.set",
        "ana (by tester)",
        "fraud@staging",
    )
    assert {e.actor for e in events} == {"tester"}


def test_card_files_update_and_verify(
    server: Server, saved_model: tuple[Path, Path], tmp_path: Path
) -> None:
    _register(server, saved_model, description="Flags card fraud.")
    card = server.client.model_card("fraud", 1)
    assert card.startswith("# fraud — version 1") and "Flags card fraud." in card
    markdown = server.http.get("/models/fraud/versions/latest/card.md")
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.text == card
    as_json = server.http.get("/models/fraud/versions/1/card").json()
    assert (as_json["name"], as_json["version"], as_json["markdown"]) == ("fraud", 1, card)
    files = server.http.get("/models/fraud/versions/1/files").json()
    assert "MODEL_CARD.md" in {f["file"] for f in files}
    written = server.client.download("fraud", 1, tmp_path / "out")
    assert len(written) == len(files)
    for entry in files:
        body = (tmp_path / "out" / entry["file"]).read_bytes()
        assert hashlib.sha256(body).hexdigest() == entry["sha256"]
    missing = server.http.get("/models/fraud/versions/1/files/nope.bin")
    assert missing.status_code == 404 and "has no file 'nope.bin'" in missing.json()["error"]
    changed = server.client.update_model("fraud", owner="risk-team", tags={"tier": "1"})
    assert (changed.owner, changed.tags) == ("risk-team", {"tier": "1"})
    assert server.client.list_models(tags={"tier": "1"})[0].name == "fraud"
    nothing = server.http.patch("/models/fraud", json={})
    assert nothing.status_code == 400 and "nothing to change" in nothing.json()["error"]
    report = server.client.verify("fraud")
    assert (report.versions, report.problems) == (1, [])
    assert server.client.verify().files == report.files


def test_a_pyfunc_directory_is_uploaded_as_a_zip(server: Server, tmp_path: Path) -> None:
    import pandas as pd

    directory = tmp_path / "doubler"
    directory.mkdir()
    (directory / "weights.txt").write_text("2")
    version = server.client.register(
        directory,
        "doubler",
        flavor="pyfunc",
        python_class="models:Doubler",
        training_data=pd.DataFrame({"x": [1.0, 2.0]}),
    )
    assert (version.flavor, version.lineage["extra"]["source_file"]) == ("pyfunc", "doubler")


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda c: c.get_model("ghost"), ModelNotFoundError, "no model named 'ghost'"),
        (lambda c: c.get_version("fraud", 9), VersionNotFoundError, "has no version 9"),
        (lambda c: c.get_version("fraud", 0), InvalidInputError, "versions count from 1"),
        (lambda c: c.get_version("fraud", "nope"), AliasNotFoundError, "has no alias .nope."),
        (lambda c: c.set_alias("fraud", "Bad Alias", 1), InvalidInputError, "alias"),
        (lambda c: c.set_alias("ghost", "champion", 1), ModelNotFoundError, "ghost"),
        (lambda c: c.list_versions(status="gone"), InvalidInputError, "query.status"),  # type: ignore[arg-type]
        (lambda c: c.list_versions(flavor="cobol"), InvalidInputError, "flavor 'cobol'"),
        (lambda c: c.list_versions(metrics=["f1>>1"]), InvalidInputError, "metric filter"),
        (lambda c: c.list_models(tags={"": "x"}), InvalidInputError, "KEY=VALUE"),
        (lambda c: c.list_models(limit=0), InvalidInputError, "query.limit"),
        (lambda c: c.history("ghost"), ModelNotFoundError, "ghost"),
    ],
)
def test_bad_requests_name_the_problem(  # type: ignore[no-untyped-def]
    server: Server, saved_model: tuple[Path, Path], call, error, words
) -> None:
    _register(server, saved_model)
    with pytest.raises(error, match=words) as raised:
        call(server.client)
    assert 400 <= raised.value.status_code < 500


def test_bad_uploads_are_4xx_naming_the_field(
    server: Server, saved_model: tuple[Path, Path], tmp_path: Path
) -> None:
    path, data = saved_model
    model = ("model.skops", path.read_bytes())
    train = ("train.parquet", data.read_bytes())

    def post(files: dict[str, object], **form: object) -> tuple[int, str]:
        reply = server.http.post(
            "/models/fraud/versions", data={"flavor": "sklearn", **form}, files=files
        )
        return reply.status_code, reply.json()["error"]

    status, message = post({"file": model})
    assert status == 422 and message.startswith("body.training_data: Field required")
    status, message = post({"training_data": train})
    assert status == 422 and message.startswith("body.file: Field required")
    reply = server.http.post(
        "/models/fraud/versions", files={"file": model, "training_data": train}
    )
    assert reply.status_code == 422 and reply.json()["error"].startswith("body.flavor")
    status, message = post({"file": model, "training_data": train}, flavor="cobol")
    assert status == 400 and "unknown flavor 'cobol'" in message
    status, message = post({"file": model, "training_data": ("t.txt", b"a,b\n")})
    assert status == 400 and "training_data t.txt: upload a .csv or .parquet" in message
    status, message = post({"file": model, "training_data": ("t.parquet", b"not parquet")})
    assert status == 400 and "training_data t.parquet could not be read as Parquet" in message
    status, message = post({"file": ("model.skops", b"garbage"), "training_data": train})
    assert status == 400 and "file model.skops could not be registered" in message
    status, message = post({"file": model, "training_data": train}, target_column="nope")
    assert status == 400 and "target_column 'nope' is not a column" in message
    status, message = post({"file": model, "training_data": train}, metric="f1=high")
    assert status == 400 and "metric f1='high'" in message
    status, message = post({"file": model, "training_data": train}, alias="Not An Alias")
    assert status == 400 and "alias" in message
    with pytest.raises(UntrustedArtifactError, match="SHIPYARD_TRUST_PICKLE=1"):
        _register(server, saved_model, trust_pickle=True)
    assert server.client.list_models() == []  # nothing of the above registered anything


def test_nul_characters_are_refused_before_the_store_sees_them(
    server: Server, saved_model: tuple[Path, Path]
) -> None:
    path, data = saved_model
    files = {
        "file": ("m.skops", path.read_bytes()),
        "training_data": ("t.parquet", data.read_bytes()),
    }
    form = {"flavor": "sklearn", "target_column": "label", "tag": "team=r\x00isk"}
    reply = server.http.post("/models/fraud/versions", data=form, files=files)
    assert reply.status_code == 400 and "tag holds a NUL character" in reply.json()["error"]
    reply = server.http.post("/endpoints", json={"name": "e", "policy": {}, "reason": "\x00"})
    assert reply.status_code == 422 and reply.json()["error"].startswith("body.")
    assert server.client.list_models() == []
