"""The command line, run in-process through its real entry point."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import skops.io

from cli.conftest import Result
from models import logistic


@pytest.fixture
def register(run, saved_model):  # type: ignore[no-untyped-def]
    """Register the saved model through the CLI, with extra options."""
    path, data = saved_model

    def invoke(*extra: str, name: str = "m") -> Result:
        return run(  # type: ignore[no-any-return]
            "models",
            "register",
            str(path),
            "--name",
            name,
            "--flavor",
            "sklearn",
            "--training-data",
            str(data),
            "--target-column",
            "label",
            *extra,
        )

    return invoke


@pytest.fixture
def saved_model(tmp_path: Path) -> tuple[Path, Path]:
    model, frame, target = logistic()
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    data = tmp_path / "train.parquet"
    frame.assign(label=target).to_parquet(data)
    return path, data


def test_register_show_alias_card_and_search(
    run, saved_model, register, database_url, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", database_url)
    result = register(
        "--metric",
        "f1=0.8",
        "--tag",
        "team=risk",
        "--description",
        "Scores credit.",
        "--alias",
        "champion",
        name="credit",
    )
    assert result.code == 0, result.err
    assert "registered models:/credit/1" in result.out and "credit@champion" in result.out
    listed = run("models", "list", "--json")
    assert [m["name"] for m in json.loads(listed.out)] == ["credit"]
    shown = json.loads(run("models", "show", "credit", "champion", "--json").out)
    assert shown["version"] == 1 and shown["metrics"] == {"f1": 0.8}
    assert [c["name"] for c in shown["signature"]["inputs"]] == ["age", "income", "score"]
    text = run("models", "show", "credit").out
    assert "champion" in text and "credit" in text
    card = run("models", "card", "credit", "1")
    assert card.code == 0 and card.out.startswith("# credit — version 1")
    assert run("models", "versions", "--metric", "f1>=0.9", "--json").out.strip() == "[]"
    assert len(json.loads(run("models", "versions", "--metric", "f1>0.5", "--json").out)) == 1
    register(name="credit")
    moved = run("alias", "set", "credit", "champion", "2")
    assert moved.code == 0 and "moved from version 1 to 2" in moved.out
    assert run("alias", "delete", "credit", "champion").code == 0
    archived = run("models", "archive", "credit", "1")
    assert archived.code == 0
    ready = json.loads(run("models", "versions", "credit", "--status", "ready", "--json").out)
    assert [v["version"] for v in ready] == [2]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("models", "show", "ghost"), "no model named 'ghost'"),
        (("models", "show", "../x"), "model name '../x' is not allowed"),
        (("alias", "set", "ghost", "champion", "1"), "no model named 'ghost'"),
        (("alias", "set", "m", "Bad Alias", "1"), "alias 'Bad Alias' is not allowed"),
        (
            (
                "models",
                "register",
                "missing.skops",
                "--name",
                "m",
                "--flavor",
                "sklearn",
                "--training-data",
                "train.csv",
            ),
            "does not exist",
        ),
        (("models", "versions", "--metric", "f1 is high"), "NAME OP NUMBER"),
        (("models", "versions", "--status", "gone"), "--status 'gone' is not one of"),
        (
            (
                "models",
                "register",
                "x",
                "--name",
                "m",
                "--flavor",
                "tensorflow",
                "--training-data",
                "x",
            ),
            "unknown flavor",
        ),
        (("models", "versions", "--flavor", "nope"), "--flavor 'nope' is not one of"),
        (("models", "versions", "--metric", "f1=>0.9"), "did you mean >="),
        (("models", "versions", "--metric", "f1>=nan"), "finite number"),
        (("models", "card", "ghost", "latest", "-o", "nodir/card.md"), "no model named"),
    ],
)
def test_errors_are_one_line_with_a_non_zero_exit(run, args, words, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").write_text("x")
    result = run(*args)
    assert result.code != 0
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: ") and words in lines[0]
    assert "Traceback" not in result.err


def test_pickles_need_the_trust_flag(run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import joblib

    model, frame, _ = logistic()
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    refused = run(
        "models",
        "register",
        str(path),
        "--name",
        "m",
        "--flavor",
        "sklearn",
        "--training-data",
        str(data),
    )
    assert refused.code == 1 and "--trust-pickle" in refused.err
    allowed = run(
        "models",
        "register",
        str(path),
        "--name",
        "m",
        "--flavor",
        "sklearn",
        "--training-data",
        str(data),
        "--trust-pickle",
    )
    assert allowed.code == 0, allowed.err
    # Stored as skops, so loading it back needs no trust.
    from shipyard import load_model

    loaded = load_model("models:/m/1")
    assert (loaded.predict(frame) == model.predict(frame)).all()


def test_db_upgrade_and_current(run, database_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", database_url)
    first = run("db", "upgrade")
    assert first.code == 0 and "upgraded from empty to" in first.out
    again = run("db", "upgrade")
    assert again.code == 0 and "up to date" in again.out
    assert "up to date" in run("db", "current").out


def test_bad_setting_is_one_line(run, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHIPYARD_PORT", "not-a-port")
    result = run("models", "list")
    assert result.code == 1
    assert result.err.startswith("error: invalid setting SHIPYARD_PORT")


def test_empty_registry_points_at_the_quickstart(run) -> None:  # type: ignore[no-untyped-def]
    result = run("models", "list")
    assert result.code == 0 and "shipyard quickstart" in result.out


def test_training_data_file_problems(run, saved_model, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, data = saved_model
    bad = run(
        "models",
        "register",
        str(path),
        "--name",
        "m",
        "--flavor",
        "sklearn",
        "--training-data",
        str(data),
        "--target-column",
        "nope",
    )
    assert bad.code == 1 and "'nope' is not a column" in bad.err
    odd = tmp_path / "train.xlsx"
    odd.write_text("x")
    wrong = run(
        "models",
        "register",
        str(path),
        "--name",
        "m",
        "--flavor",
        "sklearn",
        "--training-data",
        str(odd),
    )
    assert wrong.code == 1 and ".csv or .parquet" in wrong.err
    pd.read_parquet(data)  # the fixture file itself is fine


def test_update_changes_description_owner_and_tags(run, register) -> None:  # type: ignore[no-untyped-def]
    register()
    assert run("models", "update", "m").code == 1
    changed = run(
        "models", "update", "m", "--description", "new", "--owner", "ana", "--tag", "team=risk"
    )
    assert changed.code == 0, changed.err
    model = json.loads(run("models", "list", "--json").out)[0]
    assert (model["description"], model["owner"], model["tags"]) == ("new", "ana", {"team": "risk"})


def test_usage_errors_are_one_line_pointing_at_the_help(run) -> None:  # type: ignore[no-untyped-def]
    cases = {
        ("bogus",): "No such command 'bogus'; see: shipyard --help",
        ("models", "list", "--bogus"): "No such option: --bogus",
        ("alias", "set", "m", "champion", "two"): "Invalid value for 'version'",
        ("models", "show"): "Missing argument 'name'; see: shipyard models show --help",
    }
    for args, words in cases.items():
        result = run(*args)
        assert result.code == 2, args
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], lines
        assert "unexpected" not in result.err
    bare = run()
    assert bare.code == 2 and "Commands" in bare.out and bare.err == ""


def test_bad_database_url_and_unwritable_paths_are_one_line(run, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SHIPYARD_DATABASE_URL", "nonsense")
    bad_url = run("models", "list")
    assert bad_url.code == 1 and "SHIPYARD_DATABASE_URL" in bad_url.err
    assert len(bad_url.err.strip().splitlines()) == 1
    monkeypatch.delenv("SHIPYARD_DATABASE_URL")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("SHIPYARD_HOME", str(blocker / "home"))
    unwritable = run("models", "list")
    assert unwritable.code == 1 and "SHIPYARD_HOME" in unwritable.err
    assert len(unwritable.err.strip().splitlines()) == 1


def test_alias_is_checked_before_anything_is_registered(run, register) -> None:  # type: ignore[no-untyped-def]
    refused = register("--alias", "Bad Alias")
    assert refused.code == 1 and "alias 'Bad Alias'" in refused.err
    assert "No models yet" in run("models", "list").out
    assert register("--alias", "champion").code == 0
    shown = json.loads(run("models", "show", "m", "latest", "--json").out)
    assert shown["version"] == 1 and shown["aliases"] == ["champion"]


def test_verify_reports_damaged_files(run, register) -> None:  # type: ignore[no-untyped-def]
    from shipyard import get_registry

    register()
    clean = run("models", "verify")
    assert clean.code == 0 and "0 problem(s)" in clean.out
    version = get_registry().get_version("m", 1)
    blob = get_registry().artifacts.blob_path(version.artifacts["MODEL_CARD.md"]["sha256"])
    blob.chmod(0o644)
    blob.write_text("edited")
    damaged = run("models", "verify", "m")
    assert damaged.code == 1
    assert "1 problem(s)" in damaged.out
    assert damaged.err.startswith("error: ") and "MODEL_CARD.md" in damaged.err


def test_download_writes_verified_files_and_history_lists_changes(  # type: ignore[no-untyped-def]
    run, register, tmp_path
) -> None:
    from shipyard import get_registry

    register("--alias", "champion")
    out = tmp_path / "export"
    result = run("models", "download", "m", "champion", "-o", str(out))
    assert result.code == 0, result.err
    version = get_registry().get_version("m", 1)
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(
        version.artifacts
    )
    for name, entry in version.artifacts.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == entry["sha256"]
    again = run("models", "download", "m", "1", "-o", str(out))
    assert again.code == 1 and "not an empty directory" in again.err
    run("alias", "delete", "m", "champion")
    history = json.loads(run("models", "history", "m", "--json").out)
    assert [(e["action"], e["target"]) for e in history] == [
        ("alias.delete", "m@champion"),
        ("alias.set", "m@champion"),
        ("version.create", "m/1"),
        ("model.create", "m"),
    ]
    assert run("models", "history", "ghost").code == 1


def test_cli_errors_speak_cli(run, register, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    register("--alias", "champion")
    assert "versions count from 1" in run("models", "show", "m", "0").err
    assert "its aliases are: champion" in run("alias", "delete", "m", "nope").err
    run("alias", "delete", "m", "champion")
    run("models", "archive", "m", "1")
    assert "shipyard models restore m" in run("models", "show", "m", "latest").err
    missing = run("models", "register", "x.skops", "--name", "m", "--flavor", "sklearn")
    assert missing.code == 2 and "--training-data" in missing.err
    nothing = run("models", "versions", "--flavor", "xgboost")
    assert "No versions match in sqlite:///" in nothing.out
    monkeypatch.setenv("SHIPYARD_ACTOR", "   ")
    from shipyard.config import Settings

    assert Settings().actor is None


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("m.max_batch_size", "expected NAME.KEY=VALUE"),
        ("max_batch_size=3", "expected NAME.KEY=VALUE"),
        ("m.batch=3", "unknown option 'batch'; use max_batch_size, max_wait_ms"),
        ("other.max_batch_size=3", "model 'other' is not served; served: m"),
        ("m.max_batch_size=zero", "m.max_batch_size=zero: Input should be a valid integer"),
        ("m.max_wait_ms=5000", "m.max_wait_ms=5000: Input should be less than or equal to 1000"),
        ("m.fallback=models:/m/9", "version 9"),
        ("m.fallback=not json", "neither a model URI nor a JSON value"),
    ],
)
def test_serve_checks_model_options_before_starting(run, register, option, message) -> None:  # type: ignore[no-untyped-def]
    assert register().code == 0
    result = run("serve", "models:/m/1", "--model-option", option)
    assert result.code != 0
    assert message in result.err
    assert len(result.err.strip().splitlines()) == 1  # one line, no traceback


def test_model_options_reach_the_workers_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from shipyard.cli.serve import parse_model_options
    from shipyard.config import Settings

    chosen = parse_model_options(
        ["fraud.max_batch_size=16", "fraud.fallback=0", "churn.max_wait_ms=2.5"], ["fraud", "churn"]
    )
    payload = {name: o.model_dump(exclude_none=True) for name, o in chosen.items()}
    monkeypatch.setenv("SHIPYARD_MODEL_OPTIONS", json.dumps(payload))
    settings = Settings()
    assert settings.model_options["fraud"].max_batch_size == 16
    assert settings.model_options["fraud"].fallback == "0"
    assert settings.model_options["churn"].max_wait_ms == 2.5
    assert settings.model_options["churn"].max_batch_size is None
