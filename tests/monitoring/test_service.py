"""Monitors on real prediction logs of a real scikit-learn model, on SQLite and
PostgreSQL: drift is flagged in a drifted window and not in an undrifted one, quality
counts and operations numbers equal the ones computed by hand, performance follows the
feedback labels, results come back as a time series, and the scheduler runs only what
is due."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)

from models import classification_data
from monitored import Scene
from shipyard.config import Settings
from shipyard.errors import (
    ConflictError,
    EndpointNotFoundError,
    InvalidInputError,
    ModelNotFoundError,
    MonitorNotFoundError,
)
from shipyard.monitoring import MonitorRun, MonitorService
from shipyard.predictions import FeedbackStore
from shipyard.registry import Registry


@pytest.fixture
def scene(settings: Settings, registry: Registry) -> Scene:
    return Scene(settings, registry)


@pytest.fixture
def monitors(settings: Settings, registry: Registry) -> Iterator[MonitorService]:
    yield MonitorService(registry, settings.predictions, settings.feedback)


def _soon() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=1)


def _one(run: MonitorRun, metric: str, column: str | None = None) -> tuple[float | None, str]:
    found = [r for r in run.results if r.metric == metric and r.column == column]
    assert len(found) == 1, (metric, column, [(r.metric, r.column) for r in run.results])
    return found[0].value, found[0].status


def test_drift_is_flagged_in_the_drifted_window_only(
    scene: Scene, monitors: MonitorService
) -> None:
    scene.answer("calm", scene.inputs(400, 5))
    # A shadow's copies on the calm endpoint are far off: they must not count.
    scene.answer("calm", scene.inputs(400, 6, shifted=True), shadow=True)
    shifted_inputs = scene.inputs(400, 7, shifted=True)
    scene.answer("shifted", shifted_inputs)
    for name in ("calm", "shifted"):
        monitors.create(name, endpoint=name, checks=["data_drift", "prediction_drift"])
    now = _soon()
    calm, shifted = monitors.run("calm", now), monitors.run("shifted", now)

    assert calm.rows == 400 and shifted.rows == 400
    assert calm.reference == {"kind": "training", "version": "models:/churn/1", "rows": 300}
    assert _one(calm, "drifted_share")[1] == "ok"
    assert calm.breaches == []
    share, status = _one(shifted, "drifted_share")
    assert status == "breach" and share is not None and share >= 2 / 3
    assert _one(shifted, "drift", "income")[1] == "breach"
    assert _one(shifted, "drift", "score")[1] == "breach"
    assert _one(shifted, "drift", "age")[1] == "ok"
    # The training reference (all 300 training rows) against the window, as scipy has it.
    training, _ = classification_data(300, 0)
    expected = stats.ks_2samp(training["age"], shifted_inputs["age"])
    (age,) = [r for r in shifted.results if (r.metric, r.column) == ("drift", "age")]
    assert age.value == pytest.approx(expected.pvalue)
    assert age.detail["statistic"] == pytest.approx(expected.statistic)
    assert (age.threshold, age.detail["test"]) == (0.05, "ks")
    # Lower scores and higher incomes move the predicted classes.
    assert _one(shifted, "prediction_drift", "prediction")[1] == "breach"
    assert _one(calm, "prediction_drift", "prediction")[1] == "ok"


def test_previous_window_by_rows(scene: Scene, monitors: MonitorService) -> None:
    scene.answer("calm", scene.inputs(300, 1))
    scene.answer("calm", scene.inputs(300, 2, shifted=True))
    monitors.create("steps", endpoint="calm", checks=["data_drift"], rows=300, reference="previous")
    run = monitors.run("steps", _soon())
    assert run.rows == 300 and run.reference["rows"] == 300
    assert _one(run, "drifted_share")[1] == "breach"
    # The same 600 rows split by time: everything is in the previous hour.
    monitors.create(
        "hourly", endpoint="calm", checks=["data_drift"], window="1h", reference="previous"
    )
    later = monitors.run("hourly", _soon() + timedelta(hours=1))
    assert later.rows == 0 and later.reference["rows"] == 600
    assert [r.status for r in later.results] == ["no_data"]


def test_operations_equal_the_numbers_computed_by_hand(
    scene: Scene, monitors: MonitorService
) -> None:
    latencies = np.random.default_rng(3).gamma(2.0, 10.0, 200)
    scene.answer("calm", scene.inputs(200, 1), latencies)
    failed = [scene.fail("calm", 300.0) for _ in range(6)] + [
        scene.fail("calm", 250.0, fallback=True) for _ in range(4)
    ]
    scene.answer("calm", scene.inputs(50, 2, shifted=True), np.full(50, 1.0), shadow=True)
    monitors.create("ops", endpoint="calm", checks=["operations"])
    run = monitors.run("ops", _soon())

    every = np.concatenate([latencies, [300.0] * 6, [250.0] * 4])
    assert len(failed) == 10
    assert _one(run, "request_count") == (210.0, "ok")
    assert _one(run, "error_rate") == (pytest.approx(10 / 210), "ok")
    assert _one(run, "fallback_rate") == (pytest.approx(4 / 210), "ok")
    assert _one(run, "p50_latency_ms")[0] == pytest.approx(np.percentile(every, 50))
    assert _one(run, "p99_latency_ms")[0] == pytest.approx(np.percentile(every, 99))

    monitors.update("ops", thresholds={"error_rate": 0.01, "p99_latency_ms": 100})
    again = monitors.run("ops", _soon())
    assert _one(again, "error_rate")[1] == "breach"
    assert _one(again, "p99_latency_ms")[1] == "breach"
    assert _one(again, "p50_latency_ms")[1] == "ok"


def test_quality_counts(scene: Scene, monitors: MonitorService) -> None:
    frame = scene.inputs(100, 4)
    frame.loc[:9, "income"] = np.nan  # 10 missing
    frame.loc[10:16, "age"] = 150  # 7 above the training range (18..89)
    scene.answer("calm", frame)
    monitors.create("quality", endpoint="calm", checks=["data_quality"])
    run = monitors.run("quality", _soon())
    rate, status = _one(run, "missing_rate", "income")
    assert (rate, status) == (0.10, "breach")
    assert _one(run, "missing_rate", "age") == (0.0, "ok")
    assert _one(run, "out_of_range_rate", "age") == (0.07, "breach")
    detail = next(
        r.detail for r in run.results if r.metric == "out_of_range_rate" and r.column == "age"
    )
    assert detail["above_max"] == 7 and detail["below_min"] == 0
    assert _one(run, "out_of_range_rate", "score") == (0.0, "ok")
    assert _one(run, "missing_columns") == (0.0, "ok")


def test_performance_from_feedback_labels(
    settings: Settings, scene: Scene, monitors: MonitorService
) -> None:
    frame = scene.inputs(200, 8)
    ids = scene.answer("calm", frame)
    monitors.create("perf", endpoint="calm", checks=["performance"])
    unlabelled = monitors.run("perf", _soon())
    assert [(r.metric, r.status) for r in unlabelled.results] == [("labelled_rows", "no_data")]
    assert "shipyard feedback load" in unlabelled.results[0].detail["reason"]

    truth = ((frame["score"] + frame["age"] / 100) > 0.9).astype(int).to_numpy().copy()
    truth[:20] = 1 - truth[:20]
    store = FeedbackStore(settings.feedback, predictions=settings.predictions)
    store.add(
        [{"request_id": i, "label": int(y)} for i, y in zip(ids[:150], truth[:150], strict=True)]
    )
    run = monitors.run("perf", _soon())
    predicted = scene.model.predict(frame)[:150]
    assert _one(run, "labelled_rows") == (150.0, "ok")
    probabilities = scene.model.predict_proba(frame)[:150, 1]
    y = truth[:150]
    expected = {
        "accuracy": accuracy_score(y, predicted),
        "precision": precision_score(y, predicted),
        "recall": recall_score(y, predicted),
        "f1": f1_score(y, predicted),
        "precision_macro": precision_score(y, predicted, average="macro"),
        "recall_macro": recall_score(y, predicted, average="macro"),
        "f1_macro": f1_score(y, predicted, average="macro"),
        "roc_auc": roc_auc_score(y, probabilities),
        "log_loss": log_loss(y, scene.model.predict_proba(frame)[:150]),
    }
    overall = {r.metric: r.value for r in run.results if r.column is None}
    assert set(overall) == {"labelled_rows", *expected}
    for metric, value in expected.items():
        assert overall[metric] == pytest.approx(value, abs=1e-9), metric
    matrix = _detail(run, "accuracy")["confusion_matrix"]
    assert matrix == {"labels": [0, 1], "counts": confusion_matrix(y, predicted).tolist()}

    monitors.update("perf", thresholds={"accuracy": 0.99, "roc_auc": 0.999})
    breached = monitors.run("perf", _soon())
    assert _one(breached, "accuracy")[1] == "breach" and _one(breached, "roc_auc")[1] == "breach"


def _detail(run: MonitorRun, metric: str, column: str | None = None) -> dict[str, object]:
    return next(r.detail for r in run.results if r.metric == metric and r.column == column)


def test_performance_per_segment_and_labels_of_another_type(
    settings: Settings, scene: Scene, monitors: MonitorService
) -> None:
    frame = scene.inputs(300, 9)
    ids = scene.answer("calm", frame)
    truth = ((frame["score"] + frame["age"] / 100) > 0.9).astype(int).to_numpy().copy()
    truth[::7] = 1 - truth[::7]
    store = FeedbackStore(settings.feedback, predictions=settings.predictions)
    labels: list[object] = [int(t) for t in truth]
    labels[:4] = ["yes", "no", "yes", "maybe"]  # another type: left out, counted, said
    store.add([{"request_id": i, "label": v} for i, v in zip(ids, labels, strict=True)])
    monitors.create(
        "segments",
        endpoint="calm",
        checks=["performance"],
        performance={"segment_by": "age", "bins": [18, 40, 65, 90]},
    )
    run = monitors.run("segments", _soon())
    count = _detail(run, "labelled_rows")
    assert _one(run, "labelled_rows") == (296.0, "ok")
    assert count["unusable_labels"] == 4 and "'maybe'" in count["examples"]  # type: ignore[operator]
    assert "shipyard feedback load" in str(count["reason"])
    predicted = scene.model.predict(frame)
    age = frame["age"].to_numpy()
    for low, high, name in ((18, 40, "[18, 40)"), (40, 65, "[40, 65)"), (65, 90, "[65, 90]")):
        rows = np.arange(len(frame)) >= 4
        rows &= (age >= low) & ((age < high) if high < 90 else (age <= high))
        value, _ = _one(run, "f1", f"age={name}")
        assert value == pytest.approx(f1_score(truth[rows], predicted[rows]), abs=1e-9)
        assert _detail(run, "f1", f"age={name}")["rows"] == int(rows.sum())

    with pytest.raises(InvalidInputError, match="bins"):
        monitors.update("segments", performance={"bins": [3, 1]})
    with pytest.raises(InvalidInputError, match="segment_by 'nope' is not an input column.*age"):
        monitors.update("segments", performance={"segment_by": "nope", "bins": None})
    with pytest.raises(InvalidInputError, match="segment_by 'nope'"):
        monitors.create("other", model="churn", performance={"segment_by": "nope"})


def test_results_are_a_time_series(
    settings: Settings, scene: Scene, monitors: MonitorService
) -> None:
    scene.answer("calm", scene.inputs(100, 1))
    monitors.create("series", endpoint="calm", checks=["operations"], window="2h")
    first = _soon()
    runs = [monitors.run("series", first + timedelta(minutes=m)) for m in (0, 15, 30)]
    reopened = MonitorService(
        Registry.from_settings(settings), settings.predictions, settings.feedback
    )
    series = reopened.results("series", metric="request_count")
    assert [r.at for r in series] == [run.at for run in runs]
    assert [r.run_id for r in series] == [run.run_id for run in runs]
    assert [r.value for r in series] == [100.0, 100.0, 100.0]
    assert series[0].window_end - series[0].window_start == timedelta(hours=2)  # type: ignore[operator]
    later = reopened.results("series", since=first + timedelta(minutes=10))
    assert {r.run_id for r in later} == {runs[1].run_id, runs[2].run_id}
    assert len(reopened.results("series")) == 3 * 5
    assert series[0].to_dict()["status"] == "ok"
    assert monitors.get("series").last_run_at == runs[-1].at
    reopened.registry.db.dispose()


def test_run_due_runs_only_due_monitors(scene: Scene, monitors: MonitorService) -> None:
    scene.answer("calm", scene.inputs(50, 1))
    start = _soon()
    monitors.create("often", endpoint="calm", checks=["operations"], every="15m")
    monitors.create("rarely", model="churn", checks=["operations"], every="1h")
    monitors.create("off", endpoint="calm", checks=["operations"], enabled=False)
    assert [m.name for m in monitors.due(start)] == ["often", "rarely"]
    assert sorted(r.monitor for r in monitors.run_due(start)) == ["often", "rarely"]
    assert monitors.run_due(start + timedelta(minutes=5)) == []
    assert [r.monitor for r in monitors.run_due(start + timedelta(minutes=16))] == ["often"]
    assert monitors.results("off") == []
    by_model = monitors.results("rarely", metric="request_count")
    assert [r.value for r in by_model] == [50.0]


def test_an_empty_window_gives_no_data(scene: Scene, monitors: MonitorService) -> None:
    monitors.create("quiet", endpoint="shifted")
    run = monitors.run("quiet", _soon())
    assert run.rows == 0 and run.results
    assert {r.status for r in run.results} == {"no_data"}
    assert {r.check for r in run.results} == {
        "data_drift",
        "prediction_drift",
        "target_drift",
        "data_quality",
        "performance",
        "concept_drift",
        "operations",
    }
    assert run.status == "no_data"


def test_bad_input_names_the_field(scene: Scene, monitors: MonitorService) -> None:
    with pytest.raises(EndpointNotFoundError, match="shipyard endpoints list"):
        monitors.create("m", endpoint="nowhere")
    with pytest.raises(ModelNotFoundError):
        monitors.create("m", model="nothing")
    with pytest.raises(InvalidInputError, match="window 'soon'"):
        monitors.create("m", endpoint="calm", window="soon")
    with pytest.raises(InvalidInputError, match="every 'often'"):
        monitors.create("m", endpoint="calm", every="often")
    with pytest.raises(InvalidInputError, match="checks: unknown check.*'latency'"):
        monitors.create("m", endpoint="calm", checks=["latency"])
    with pytest.raises(InvalidInputError, match="thresholds: unknown key 'speed'"):
        monitors.create("m", endpoint="calm", thresholds={"speed": 1})
    with pytest.raises(InvalidInputError, match="rows must be a positive"):
        monitors.create("m", endpoint="calm", rows=0)
    with pytest.raises(InvalidInputError, match="reference 'yesterday'"):
        monitors.create("m", endpoint="calm", reference="yesterday")
    with pytest.raises(InvalidInputError, match="target"):
        monitors.create("m")
    with pytest.raises(MonitorNotFoundError, match="shipyard monitor list"):
        monitors.run("m")
    assert monitors.list() == []
    monitors.create("m", endpoint="calm")
    with pytest.raises(ConflictError, match="monitor 'm' exists"):
        monitors.create("m", model="churn")


def test_changes_are_events(scene: Scene, monitors: MonitorService) -> None:
    created = monitors.create(
        "m", endpoint="calm", reference="2026-11-01T00:00Z..2026-11-02T00:00Z", every="5m"
    )
    assert created.reference == {
        "kind": "fixed",
        "start": "2026-11-01T00:00:00+00:00",
        "end": "2026-11-02T00:00:00+00:00",
    }
    changed = monitors.update("m", every="1h", thresholds={"drift_share": 0.3})
    assert changed.schedule_s == 3600 and changed.threshold("drift_share") == 0.3
    monitors.run("m", _soon())
    monitors.delete("m")
    with pytest.raises(MonitorNotFoundError):
        monitors.get("m")
    events = scene.registry.events(target_kind="monitor", target="m")
    assert [e.action for e in events] == ["monitor.delete", "monitor.update", "monitor.create"]


def test_a_failing_check_is_stored_as_an_error_and_the_others_run(
    scene: Scene, monitors: MonitorService
) -> None:
    scene.answer("calm", scene.inputs(100, 1))
    # The drift options name a column the endpoint's inputs lack: the check fails at run time.
    monitors.create(
        "broken",
        endpoint="calm",
        checks=["data_drift", "operations"],
        drift={"tests": {"height": "psi"}},
    )
    run = monitors.run("broken", _soon())
    (failed,) = [r for r in run.results if r.check == "data_drift"]
    assert (failed.metric, failed.status) == ("error", "error")
    assert "'height'" in failed.detail["error"]
    assert _one(run, "request_count") == (100.0, "ok")
    assert run.status == "error"
    assert [r.status for r in monitors.results("broken", metric="error")] == ["error"]
    with pytest.raises(InvalidInputError, match="thresholds: error_rate must be a number"):
        monitors.update("broken", thresholds={"error_rate": "low"})
    with pytest.raises(InvalidInputError, match="drift_share is a share of columns"):
        monitors.update("broken", thresholds={"drift_share": 2})
    with pytest.raises(InvalidInputError, match="drift options: unknown key"):
        monitors.update("broken", drift={"speed": 1})
    for drift, says in (
        ({"mode": "strict"}, "mode must be 'fixed' or 'calibrated'"),
        ({"alpha": "x"}, "alpha must be a number"),
        ({"thresholds": {"age": "high"}}, "thresholds: 'age' must be a number"),
        ({"tests": {"age": "nope"}}, "unknown drift test 'nope'"),
        ({"permutations": -3}, "permutations must be at least 1"),
    ):
        with pytest.raises(InvalidInputError, match=says):
            monitors.create("bad", endpoint="calm", drift=drift)
        with pytest.raises(InvalidInputError, match=says):
            monitors.update("broken", drift=drift)
    assert "bad" not in [m.name for m in monitors.list()]
    assert monitors.update("broken", drift={"tests": None}).options["drift"] == {}


def test_a_fixed_reference_range(scene: Scene, monitors: MonitorService) -> None:
    before = datetime.now(UTC)
    scene.answer("calm", scene.inputs(300, 1))
    between = datetime.now(UTC)
    scene.answer("calm", scene.inputs(300, 2))
    second = datetime.now(UTC)
    scene.answer("calm", scene.inputs(300, 3, shifted=True))
    span = f"{before.isoformat()}..{between.isoformat()}"
    monitors.create("fixed", endpoint="calm", checks=["data_drift"], rows=300, reference=span)
    drifted = monitors.run("fixed", _soon())
    assert drifted.reference["rows"] == 300 and drifted.reference["kind"] == "fixed"
    assert _one(drifted, "drifted_share")[1] == "breach"
    monitors.update("fixed", window="3h")
    assert monitors.get("fixed").window == {"kind": "time", "seconds": 10800.0}
    assert monitors.run("fixed", _soon()).rows == 900
    # Run as of just after the second load: its 300 rows against the first, alike.
    monitors.update("fixed", rows=300, reference="previous")
    alike = monitors.run("fixed", second)
    assert (alike.rows, alike.reference["rows"]) == (300, 300)
    assert _one(alike, "drifted_share")[1] == "ok"


def test_target_drift_compares_feedback_labels_with_the_training_target(
    settings: Settings, scene: Scene, monitors: MonitorService
) -> None:
    frame = scene.inputs(400, 9)
    ids = scene.answer("calm", frame)
    monitors.create("labels", endpoint="calm", checks=["target_drift"])
    waiting = monitors.run("labels", _soon())
    assert [(r.metric, r.status) for r in waiting.results] == [("target_drift", "no_data")]
    assert "shipyard feedback" in waiting.results[0].detail["reason"]
    store = FeedbackStore(settings.feedback)
    truth = ((frame["score"] + frame["age"] / 100) > 0.9).astype(int).to_numpy()
    store.add([{"request_id": i, "label": int(y)} for i, y in zip(ids, truth, strict=True)])
    same = monitors.run("labels", _soon())
    assert _one(same, "target_drift", "label")[1] == "ok"
    # A label sent as text reads as its number; one that is no number is left out.
    store.add([{"request_id": ids[0], "label": str(truth[0])}])
    store.add([{"request_id": ids[1], "label": "abc"}])
    mixed = monitors.run("labels", _soon())
    assert _one(mixed, "target_drift", "label")[1] == "ok"
    noted = _detail(mixed, "target_drift", "label")
    assert noted["unusable_labels"] == 1 and noted["examples"] == ["'abc'"]
    store.add([{"request_id": i, "label": 1} for i in ids])  # the newest labels win
    moved = monitors.run("labels", _soon())
    value, status = _one(moved, "target_drift", "label")
    assert status == "breach" and value is not None and value < 0.05  # a p-value here


def test_concept_drift_shows_in_performance_and_the_detector_not_in_data_drift(
    settings: Settings, scene: Scene, monitors: MonitorService
) -> None:
    frame = scene.inputs(2000, 10)
    ids = scene.answer("calm", frame)
    predicted = scene.model.predict(frame)
    store = FeedbackStore(settings.feedback, predictions=settings.predictions)
    # The world as the model learned it: labels agree with its predictions on most rows.
    agree = predicted.copy()
    agree[::20] = 1 - agree[::20]
    store.add(
        [{"request_id": i, "label": int(y)} for i, y in zip(ids[:1000], agree[:1000], strict=True)]
    )
    monitors.create(
        "concept", endpoint="calm", checks=["data_drift", "performance", "concept_drift"]
    )
    before = monitors.run("concept", _soon())
    assert _one(before, "concept_drift") == (0.0, "ok")
    assert _detail(before, "concept_drift")["read"] == 1000
    assert _one(before, "drifted_share")[1] == "ok"

    # The relationship flips with the inputs unchanged: labels now disagree.
    store.add(
        [
            {"request_id": i, "label": int(1 - y)}
            for i, y in zip(ids[1000:], predicted[1000:], strict=True)
        ]
    )
    after = monitors.run("concept", _soon())
    found, status = _one(after, "concept_drift")
    assert status == "breach" and found is not None and found >= 1
    first = _detail(after, "concept_drift")["detections"][0]  # type: ignore[index]
    assert 1000 <= first["position"] < 1100  # within 100 labels of the change
    assert _one(after, "drifted_share")[1] == "ok"  # the inputs did not move
    assert _one(after, "accuracy")[0] < _one(before, "accuracy")[0] - 0.3  # type: ignore[operator]

    # Labels are read once: with none new, the detector has nothing to say.
    quiet = monitors.run("concept", _soon())
    assert _one(quiet, "concept_drift")[1] == "no_data"
    assert "no labels arrived since the last run (2000 read so far)" in str(
        _detail(quiet, "concept_drift")["reason"]
    )
    state = monitors.get("concept").state
    assert state is not None and state["concept"]["read"] == 2000
    # Another detector starts afresh, reading the window's labels again.
    monitors.update("concept", concept={"detector": "ddm"})
    again = monitors.run("concept", _soon())
    assert _detail(again, "concept_drift")["read"] == 2000
    assert _detail(again, "concept_drift")["detector"] == "ddm"
    with pytest.raises(InvalidInputError, match="concept detector 'nope' is not known"):
        monitors.update("concept", concept={"detector": "nope"})
