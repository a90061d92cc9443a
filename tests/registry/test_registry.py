from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models import classification_data, logistic
from shipyard.errors import (
    AliasNotFoundError,
    ArtifactIntegrityError,
    ConflictError,
    InvalidInputError,
    InvalidNameError,
    InvalidURIError,
    ModelNotFoundError,
    SignatureError,
    VersionNotFoundError,
)
from shipyard.registry import Registry
from shipyard.registry.registration import CARD_FILE, REFERENCE_FILE


def test_register_records_an_immutable_version(registry: Registry) -> None:
    model, frame, target = logistic()
    version = registry.register_model(
        model,
        "credit",
        training_data=frame,
        target=target,
        metrics={"f1": 0.8},
        params={"C": 1.0},
        description="scores credit",
        tags={"team": "risk"},
    )
    assert (version.name, version.version, version.flavor, version.status) == (
        "credit",
        1,
        "sklearn",
        "ready",
    )
    assert version.signature.names == ["age", "income", "score"]
    assert [c.kind for c in version.signature.inputs] == ["int", "float", "float"]
    assert version.signature.output is not None
    assert version.signature.output.kind == "class_labels"
    assert version.signature.output.classes == [0, 1]
    assert version.signature.output.probabilities is True
    assert version.metrics == {"f1": 0.8}
    assert version.params == {"C": 1.0}
    assert version.tags == {"team": "risk"}
    assert version.created_by == "tester"
    assert set(version.artifacts) >= {CARD_FILE, REFERENCE_FILE}
    assert any(name.startswith("model/") for name in version.artifacts)
    lineage = version.lineage
    assert lineage["training_data"]["rows"] == len(frame)
    assert lineage["training_data"]["columns"] == ["age", "income", "score"]
    assert len(lineage["training_data"]["sha256"]) == 64
    assert lineage["environment"]["python"]
    assert "scikit-learn" in lineage["environment"]["packages"]
    assert lineage["created_by"] == "tester"
    assert version.profile is not None and set(version.profile["columns"]) == {
        "age",
        "income",
        "score",
    }
    assert version.target_profile is not None
    assert version.prediction_profile is not None
    # Stored and read back identically.
    assert registry.get_version("credit", 1) == version
    again = registry.register_model(model, "credit", training_data=frame, target=target)
    assert again.version == 2
    assert registry.get_version("credit", 1) == version


def test_params_default_to_the_estimators_own(registry: Registry) -> None:
    model, frame, _ = logistic()
    version = registry.register_model(model, "p", training_data=frame)
    assert "steps" in version.params or "memory" in version.params


def test_reuse_identical_returns_the_existing_version(registry: Registry) -> None:
    model, frame, target = logistic()
    first = registry.register_model(model, "m", training_data=frame, target=target)
    same = registry.register_model(
        model, "m", training_data=frame, target=target, reuse_identical=True
    )
    assert same.version == first.version
    other, _, _ = logistic(seed=1)
    new = registry.register_model(other, "m", training_data=frame, reuse_identical=True)
    assert new.version == 2


def test_code_version_is_the_git_commit_when_available(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, frame, _ = logistic()
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.chdir(outside)
    assert registry.register_model(model, "g", training_data=frame).lineage["code_version"] is None
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=repo, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True)
    monkeypatch.chdir(repo)
    code = registry.register_model(model, "g", training_data=frame).lineage["code_version"]
    assert code == {"commit": head.stdout.strip(), "dirty": False}
    explicit = registry.register_model(model, "g", training_data=frame, code_version="v1.2")
    assert explicit.lineage["code_version"]["commit"] == "v1.2"


def test_aliases_set_move_resolve_and_delete(registry: Registry) -> None:
    model, frame, _ = logistic()
    for _ in range(3):
        registry.register_model(model, "m", training_data=frame)
    created = registry.set_alias("m", "champion", 1)
    assert created.previous_version is None
    moved = registry.set_alias("m", "champion", 2)
    assert moved.previous_version == 1
    registry.set_alias("m", "challenger", 3)
    assert registry.resolve("models:/m@champion").version == 2
    assert registry.resolve("models:/m@challenger").version == 3
    assert registry.resolve("models:/m/1").version == 1
    assert registry.resolve("models:/m/latest").version == 3
    assert registry.get_model("m").aliases == {"challenger": 3, "champion": 2}
    assert registry.get_version("m", 2).aliases == ["champion"]
    deleted = registry.delete_alias("m", "champion")
    assert deleted.version == 2
    with pytest.raises(AliasNotFoundError, match="champion"):
        registry.resolve("models:/m@champion")
    with pytest.raises(AliasNotFoundError):
        registry.delete_alias("m", "champion")


def test_archived_versions_cannot_carry_aliases(registry: Registry) -> None:
    model, frame, _ = logistic()
    registry.register_model(model, "m", training_data=frame)
    registry.register_model(model, "m", training_data=frame)
    registry.set_alias("m", "champion", 1)
    with pytest.raises(ConflictError, match="champion"):
        registry.set_status("m", 1, "archived")
    archived = registry.set_status("m", 2, "archived")
    assert archived.status == "archived"
    with pytest.raises(ConflictError, match="archived"):
        registry.set_alias("m", "challenger", 2)
    assert registry.resolve("models:/m/latest").version == 1
    assert registry.set_status("m", 2, "ready").status == "ready"
    registry.set_alias("m", "challenger", 2)


def test_missing_things_are_reported_by_name(registry: Registry) -> None:
    with pytest.raises(ModelNotFoundError, match="'ghost'"):
        registry.get_model("ghost")
    model, frame, _ = logistic()
    registry.register_model(model, "m", training_data=frame)
    with pytest.raises(VersionNotFoundError, match="no version 7"):
        registry.get_version("m", 7)
    with pytest.raises(VersionNotFoundError):
        registry.set_alias("m", "champion", 7)
    with pytest.raises(ModelNotFoundError):
        registry.resolve("models:/ghost@champion")


@pytest.mark.parametrize(
    "name",
    ["../x", "", "a" * 129, "a b", "x/y", "-lead", "trail-", "a..b", "naïve", "a\x00", "fraud\n"],
)
def test_bad_model_names_are_refused_everywhere(registry: Registry, name: str) -> None:
    model, frame, _ = logistic(rows=50)
    with pytest.raises(InvalidNameError):
        registry.register_model(model, name, training_data=frame)
    with pytest.raises(InvalidNameError):
        registry.create_model(name)
    with pytest.raises((InvalidNameError, InvalidURIError)):
        registry.resolve(f"models:/{name}/1")


@pytest.mark.parametrize(
    "alias", ["", "Champion", "1", "latest", "a b", "../x", "a" * 65, "champion\n", "ünique"]
)
def test_bad_aliases_are_refused(registry: Registry, alias: str) -> None:
    model, frame, _ = logistic(rows=50)
    registry.register_model(model, "m", training_data=frame)
    with pytest.raises(InvalidNameError):
        registry.set_alias("m", alias, 1)


@pytest.mark.parametrize(
    "uri",
    [
        "m@champion",
        "models:/m",
        "models:/m/0",
        "models:/m/x",
        "models:/m/-1",
        "models:/",
        "models:/m/\u00b2",
        "models:/m/\u0663",
        "models:/m/01",
    ],
)
def test_bad_uris_say_which_forms_are_accepted(registry: Registry, uri: str) -> None:
    with pytest.raises(InvalidURIError, match="models:/NAME@ALIAS"):
        registry.resolve(uri)


def test_list_and_search_with_filters(registry: Registry) -> None:
    model, frame, _ = logistic()
    registry.create_model(
        "fraud-detector", description="Card fraud", owner="ana", tags={"team": "risk"}
    )
    registry.create_model("churn", description="Who leaves", owner="bo", tags={"team": "growth"})
    registry.register_model(
        model, "fraud-detector", training_data=frame, metrics={"f1": 0.7}, tags={"stage": "dev"}
    )
    registry.register_model(model, "fraud-detector", training_data=frame, metrics={"f1": 0.9})
    registry.register_model(model, "churn", training_data=frame, metrics={"f1": 0.95})
    assert [m.name for m in registry.list_models()] == ["churn", "fraud-detector"]
    assert [m.name for m in registry.list_models(search="FRAUD")] == ["fraud-detector"]
    assert [m.name for m in registry.list_models(search="leaves")] == ["churn"]
    assert [m.name for m in registry.list_models(owner="bo")] == ["churn"]
    assert [m.name for m in registry.list_models(tags={"team": "risk"})] == ["fraud-detector"]
    assert [m.name for m in registry.list_models(limit=1, offset=1)] == ["fraud-detector"]
    good = registry.list_versions(metrics=["f1>=0.9"])
    assert [(v.name, v.version) for v in good] == [("churn", 1), ("fraud-detector", 2)]
    assert [v.version for v in registry.list_versions("fraud-detector")] == [2, 1]
    assert [v.version for v in registry.list_versions(tags={"stage": "dev"})] == [1]
    registry.set_status("fraud-detector", 1, "archived")
    assert [v.version for v in registry.list_versions("fraud-detector", status="ready")] == [2]
    assert registry.list_versions(flavor="xgboost") == []
    with pytest.raises(InvalidInputError, match="NAME OP NUMBER"):
        registry.list_versions(metrics=["f1 is good"])
    with pytest.raises(ConflictError, match="already exists"):
        registry.create_model("churn")


def test_loaded_model_validates_then_predicts_like_the_original(registry: Registry) -> None:
    model, frame, target = logistic()
    registry.register_model(model, "m", training_data=frame, target=target)
    registry.set_alias("m", "champion", 1)
    loaded = registry.load("models:/m@champion")
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame), atol=1e-12)
    rows = frame.head(2).to_dict(orient="records")
    np.testing.assert_array_equal(loaded.predict(rows), model.predict(frame.head(2)))
    bad = frame.head(2).astype({"income": str})
    with pytest.raises(SignatureError, match="income"):
        loaded.predict(bad)


def test_tampered_artifact_is_refused_naming_model_version_and_hash(registry: Registry) -> None:
    model, frame, _ = logistic()
    version = registry.register_model(model, "m", training_data=frame)
    name, entry = next((k, v) for k, v in version.artifacts.items() if k.startswith("model/"))
    blob = registry.artifacts.blob_path(entry["sha256"])
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes() + b"\x00")
    with pytest.raises(ArtifactIntegrityError) as info:
        registry.load("models:/m/1")
    message = str(info.value)
    assert "'m'" in message and "version 1" in message and entry["sha256"] in message
    blob.unlink()
    with pytest.raises(ArtifactIntegrityError, match="missing"):
        registry.load("models:/m/1")


def test_events_record_who_did_what(registry: Registry) -> None:
    model, frame, _ = logistic()
    registry.register_model(model, "m", training_data=frame)
    registry.set_alias("m", "champion", 1, actor="ana")
    registry.delete_alias("m", "champion")
    actions = [(e.action, e.actor, e.target) for e in registry.events()]
    assert actions == [
        ("alias.delete", "tester", "m@champion"),
        ("alias.set", "ana", "m@champion"),
        ("version.create", "tester", "m/1"),
        ("model.create", "tester", "m"),
    ]
    delete = registry.events(target_kind="alias")[0]
    assert delete.before == {"version": 1} and delete.after is None


def test_model_card_is_generated_from_metadata_and_stored(registry: Registry) -> None:
    model, frame, target = logistic()
    version = registry.register_model(
        model,
        "m",
        training_data=frame,
        target=target,
        metrics={"f1": 0.8125},
        description="Predicts defaults.",
        intended_use="Loan triage only.",
    )
    card = registry.card("m", 1)
    for text in (
        "# m — version 1",
        "Predicts defaults.",
        "Loan triage only.",
        "0.8125",
        "| age | int |",
        "income",
        str(len(frame)),
        version.lineage["training_data"]["sha256"],
        "scikit-learn",
        "## Signature",
    ):
        assert text in card, text
    assert card.encode() == registry.read_artifact("m", 1, CARD_FILE)


def test_training_data_problems_are_clear(registry: Registry) -> None:
    model, frame, target = logistic()
    with pytest.raises(InvalidInputError, match="training_data"):
        registry.register_model(model, "m")
    with pytest.raises(InvalidInputError, match="one target value per row"):
        registry.register_model(model, "m", training_data=frame, target=target[:-1])
    with pytest.raises(InvalidInputError, match="failed to predict"):
        registry.register_model(model, "m", training_data=frame.rename(columns={"age": "x"}))
    with pytest.raises(InvalidInputError, match="finite"):
        registry.register_model(model, "m", training_data=frame, metrics={"f1": float("nan")})


def test_reference_sample_is_bounded_and_kept_as_parquet(registry: Registry) -> None:
    frame, target = classification_data(rows=2_000)
    model, _, _ = logistic()
    registry.register_model(model, "m", training_data=frame, target=target)
    data = registry.read_artifact("m", 1, REFERENCE_FILE)
    path = registry.artifacts.root / "ref.parquet"
    path.write_bytes(data)
    sample = pd.read_parquet(path)
    assert len(sample) == registry.settings.reference_sample_rows
    assert list(sample.columns) == ["age", "income", "score", "__target__", "__prediction__"]
    merged = sample.merge(frame.assign(__target__=target), on=["age", "income", "score"])
    assert (merged["__target___x"] == merged["__target___y"]).all()


def test_tag_keys_are_validated(registry: Registry) -> None:
    for key in ("k\n", "", "a b", "x" * 129):
        with pytest.raises(InvalidNameError):
            registry.create_model("m", tags={key: "v"})


def test_registering_again_repairs_a_damaged_artifact(registry: Registry) -> None:
    model, frame, _ = logistic()
    version = registry.register_model(model, "m", training_data=frame)
    entry = next(v for k, v in version.artifacts.items() if k.startswith("model/"))
    blob = registry.artifacts.blob_path(entry["sha256"])
    blob.chmod(0o644)
    blob.write_bytes(b"garbage")
    with pytest.raises(ArtifactIntegrityError):
        registry.load("models:/m/1")
    registry.register_model(model, "m", training_data=frame)
    assert (registry.load("models:/m/1").predict(frame) == model.predict(frame)).all()


def test_setting_an_alias_to_where_it_is_records_nothing(registry: Registry) -> None:
    model, frame, _ = logistic()
    registry.register_model(model, "m", training_data=frame)
    registry.set_alias("m", "champion", 1)
    again = registry.set_alias("m", "champion", 1)
    assert again.previous_version == 1
    assert [e.action for e in registry.events(target_kind="alias")] == ["alias.set"]


def test_python_class_is_for_pyfunc_only(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="pyfunc flavor only"):
        registry.register_file(tmp_path, "m", flavor="sklearn", python_class="a.b:C")


def test_predicting_no_rows_is_a_clear_error(registry: Registry) -> None:
    model, frame, _ = logistic()
    registry.register_model(model, "m", training_data=frame)
    with pytest.raises(SignatureError, match="no rows"):
        registry.load("models:/m/1").predict(frame.head(0))


def test_registering_with_the_target_still_in_the_data_says_what_to_do(
    registry: Registry,
) -> None:
    model, frame, target = logistic()
    with pytest.raises(InvalidInputError, match="leave the target out"):
        registry.register_model(model, "m", training_data=frame.assign(label=target))
