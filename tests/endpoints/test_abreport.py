"""A/B reports from real prediction logs and feedback: the statistics are scipy's on the
same numbers, a clearly better variant wins, equal ones do not, and an empty log or an
unknown control says what to do."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from models import classification_data, logistic
from shipyard.config import Settings
from shipyard.endpoints import Endpoints
from shipyard.endpoints.abreport import ABReport, ab_report, report_from_log, window
from shipyard.errors import InvalidInputError, NotFoundError
from shipyard.predictions import (
    FeedbackStore,
    PredictionLogWriter,
    Route,
    join_feedback,
    read_feedback,
    read_predictions,
)
from shipyard.registry import Registry


def _answer(
    writer: PredictionLogWriter,
    variant: str,
    ids: list[str],
    predictions: np.ndarray[Any, Any],
    latencies: np.ndarray[Any, Any],
    *,
    version: int = 1,
    rows: list[int] | None = None,
    probabilities: np.ndarray[Any, Any] | None = None,
    shadow: bool = False,
    revision: int = 1,
) -> None:
    """Requests ``ids`` answered by one variant of endpoint ``shop`` in one model call."""
    rows = rows or [1] * len(ids)
    writer.append_batch(
        model="churn",
        version=version,
        request_ids=ids,
        protocols=["v1"] * len(ids),
        latencies_ms=latencies.tolist(),
        rows=rows,
        inputs=pd.DataFrame({"x": np.arange(sum(rows), dtype=float)}),
        predictions=predictions,
        probabilities=probabilities,
        routes=[Route("shop", revision, variant, shadow)] * len(ids),
    )


def _fail(writer: PredictionLogWriter, variant: str, ids: list[str], latency: float) -> None:
    for request_id in ids:
        writer.append(
            model="churn",
            version=1,
            request_id=request_id,
            protocol="v1",
            inputs=pd.DataFrame({"x": [0.0]}),
            predictions=None,
            probabilities=None,
            latency_ms=latency,
            error="the model failed",
            route=Route("shop", 1, variant),
        )


def _z_test(sa: int, na: int, sb: int, nb: int) -> tuple[float, float]:
    pa, pb = sa / na, sb / nb
    pooled = (sa + sb) / (na + nb)
    z = (pb - pa) / math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    return z, float(2 * stats.norm.sf(abs(z)))


def _read(home: Path) -> pd.DataFrame:
    settings = Settings(home=home)
    return join_feedback(
        read_predictions(settings.predictions, endpoint="shop"), read_feedback(settings.feedback)
    )


def test_the_statistics_are_scipys_on_the_same_numbers(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    rng = np.random.default_rng(7)
    writer = PredictionLogWriter(settings.predictions, flush_interval=60)
    a_ids, b_ids = [f"a{i}" for i in range(300)], [f"b{i}" for i in range(250)]
    a_latency, b_latency = rng.gamma(4, 3, 300), rng.gamma(4, 3.4, 250)
    a_rows = [2 if i % 10 == 0 else 1 for i in range(300)]  # a few two-row requests
    _answer(writer, "a", a_ids, rng.integers(0, 2, sum(a_rows)), a_latency, rows=a_rows)
    _answer(writer, "b", b_ids, rng.integers(0, 2, 250), b_latency, version=2)
    _fail(writer, "a", ["a-fail-0", "a-fail-1"], 50.0)
    _fail(writer, "b", [f"b-fail-{i}" for i in range(9)], 60.0)
    _answer(writer, "a", b_ids[:20], np.zeros(20, dtype=int), np.ones(20), shadow=True)
    writer.append(  # a fallback answered for b: counted apart, in no metric
        model="churn",
        version=1,
        request_id="b-fallback",
        protocol="v1",
        inputs=pd.DataFrame({"x": [0.0]}),
        predictions=np.array([1]),
        probabilities=None,
        latency_ms=30_000.0,
        fallback=True,
        route=Route("shop", 1, "b"),
    )
    writer.close()
    truth = {f"a{i}": int(rng.random() < 0.6) for i in range(300)}
    truth |= {f"b{i}": int(rng.random() < 0.7) for i in range(250)}
    FeedbackStore(settings.feedback).add(
        pd.DataFrame({"request_id": list(truth), "label": list(truth.values())})
    )

    report = report_from_log(_read(tmp_path), endpoint="shop", revision=1, policy_variants=["a"])
    a, b = report.variants
    assert (a.name, a.requests, a.rows, a.errors, a.fallbacks) == ("a", 302, 332, 2, 0)
    assert (b.name, b.requests, b.rows, b.errors, b.fallbacks) == ("b", 259, 259, 9, 1)
    assert b.versions == ["churn/1", "churn/2"] and report.shadow_rows == 20
    assert (a.labelled, b.labelled) == (300, 250)  # row 0 of each answered request
    by = {c.metric: c for c in report.comparisons}
    assert list(by) == ["error rate", "latency (ms)", "accuracy", "conversion"]

    lat_a, lat_b = np.append(a_latency, [50.0] * 2), np.append(b_latency, [60.0] * 9)
    welch = stats.ttest_ind(lat_b, lat_a, equal_var=False)
    low, high = welch.confidence_interval(0.95)
    latency = by["latency (ms)"]
    assert latency.test == "Welch's t-test"
    for ours, theirs in [
        (latency.statistic, welch.statistic),
        (latency.p_value, welch.pvalue),
        (latency.ci_low, low),
        (latency.ci_high, high),
        (latency.difference, lat_b.mean() - lat_a.mean()),
    ]:
        assert ours is not None and math.isclose(ours, theirs, abs_tol=1e-9), (ours, theirs)
    assert np.isclose(a.latency_p95_ms or 0, np.percentile(lat_a, 95), atol=1e-9)

    errors = by["error rate"]
    z, p = _z_test(2, 302, 9, 259)
    assert errors.statistic is not None and math.isclose(errors.statistic, z, abs_tol=1e-9)
    assert errors.p_value is not None and math.isclose(errors.p_value, p, abs_tol=1e-9)

    logged = _read(tmp_path)
    labelled = logged[(logged["row"] == 0) & ~logged["shadow"] & logged["error"].isna()]
    labelled = labelled[~labelled["fallback"]]
    hits = labelled["prediction"] == labelled["label"]
    counts = {
        v: (int(hits[labelled["variant"] == v].sum()), 300 if v == "a" else 250) for v in "ab"
    }
    z, p = _z_test(*counts["a"], *counts["b"])
    accuracy = by["accuracy"]
    assert (accuracy.n_control, accuracy.n_challenger) == (300, 250)
    assert accuracy.statistic is not None and math.isclose(accuracy.statistic, z, abs_tol=1e-9)
    assert accuracy.p_value is not None and math.isclose(accuracy.p_value, p, abs_tol=1e-9)
    positives = sum(truth[f"a{i}"] for i in range(300)), sum(truth[f"b{i}"] for i in range(250))
    z, p = _z_test(positives[0], 300, positives[1], 250)
    assert by["conversion"].p_value is not None
    assert math.isclose(by["conversion"].p_value, p, abs_tol=1e-9)
    assert report.task == "classification"


def test_regressors_are_compared_on_mae_with_welchs_test(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    rng = np.random.default_rng(3)
    writer = PredictionLogWriter(settings.predictions, flush_interval=60)
    truth = rng.normal(100, 10, 400)
    a_guess, b_guess = truth[:200] + rng.normal(0, 5, 200), truth[200:] + rng.normal(0, 3, 200)
    ids = [f"r{i}" for i in range(400)]
    _answer(writer, "a", ids[:200], a_guess, rng.gamma(2, 2, 200))
    _answer(writer, "b", ids[200:], b_guess, rng.gamma(2, 2, 200))
    writer.close()
    FeedbackStore(settings.feedback).add(pd.DataFrame({"request_id": ids, "label": truth}))
    report = report_from_log(_read(tmp_path), endpoint="shop", revision=1, policy_variants=["a"])
    assert report.task == "regression"
    err_a, err_b = np.abs(a_guess - truth[:200]), np.abs(b_guess - truth[200:])
    assert math.isclose(report.variants[0].mae or 0, err_a.mean(), abs_tol=1e-9)
    assert math.isclose(report.variants[1].rmse or 0, math.sqrt((err_b**2).mean()), abs_tol=1e-9)
    mae = next(c for c in report.comparisons if c.metric == "MAE")
    welch = stats.ttest_ind(err_b, err_a, equal_var=False)
    assert mae.statistic is not None and math.isclose(mae.statistic, welch.statistic, abs_tol=1e-9)
    assert mae.p_value is not None and math.isclose(mae.p_value, welch.pvalue, abs_tol=1e-9)
    assert mae.winner == "b" and "MAE: b beats a" in mae.verdict


@pytest.fixture
def shop(registry: Registry, settings: Settings) -> Endpoints:
    """Endpoint ``shop``: a split between a majority-class baseline (``a``, version 1) and a
    logistic regression (``b``, version 2), both trained here."""
    from sklearn.dummy import DummyClassifier

    model, frame, target = logistic(rows=600)
    baseline = DummyClassifier(strategy="most_frequent").fit(frame, target)
    registry.register_model(baseline, "churn", training_data=frame, target=target)
    registry.register_model(model, "churn", training_data=frame, target=target)
    endpoints = Endpoints(registry.db, registry.artifacts, settings)
    variants = [
        {"name": "a", "model": "models:/churn/1", "weight": 50},
        {"name": "b", "model": "models:/churn/2", "weight": 50},
    ]
    endpoints.create_endpoint("shop", {"kind": "split", "variants": variants})
    return endpoints


def _serve(settings: Settings, models: dict[str, Any], rows: int, seed: int) -> None:
    """``rows`` one-row requests per variant, predicted by its model; labels loaded as
    feedback."""
    writer = PredictionLogWriter(settings.predictions, flush_interval=60)
    rng = np.random.default_rng(seed)
    labels: dict[str, int] = {}
    for offset, (variant, model) in enumerate(models.items()):
        frame, target = classification_data(rows, seed=seed + offset)
        ids = [f"{variant}-{seed}-{i}" for i in range(rows)]
        _answer(
            writer,
            variant,
            ids,
            model.predict(frame),
            rng.gamma(4, 2, rows),
            version=offset + 1,
            probabilities=model.predict_proba(frame),
        )
        labels |= dict(zip(ids, target.tolist(), strict=True))
    writer.close()
    FeedbackStore.from_settings(settings).add(
        pd.DataFrame({"request_id": list(labels), "label": list(labels.values())})
    )


def test_a_clearly_better_variant_wins(shop: Endpoints, registry: Registry) -> None:
    settings = shop.settings
    baseline = registry.load("models:/churn/1")
    better = registry.load("models:/churn/2")
    _serve(settings, {"a": baseline, "b": better}, rows=400, seed=11)
    report = ab_report(shop, "shop")
    assert isinstance(report, ABReport) and report.control == "a"
    a, b = report.variants
    assert a.accuracy is not None and b.accuracy is not None and b.accuracy > a.accuracy + 0.1
    accuracy = next(c for c in report.comparisons if c.metric == "accuracy")
    assert accuracy.significant and accuracy.winner == "b" and accuracy.p_value is not None
    assert accuracy.p_value < 0.05 and accuracy.ci_low is not None and accuracy.ci_low > 0
    assert accuracy.verdict.startswith("accuracy: b beats a")
    assert accuracy.more_needed is None
    data = report.to_dict()
    assert data["comparisons"][2]["winner"] == "b" and data["variants"][1]["name"] == "b"


def test_equal_variants_have_no_winner_and_say_how_many_more_samples(
    shop: Endpoints, registry: Registry
) -> None:
    model = registry.load("models:/churn/2")
    _serve(shop.settings, {"a": model, "b": model}, rows=150, seed=5)
    report = ab_report(shop, "shop", alpha=0.01)
    accuracy = next(c for c in report.comparisons if c.metric == "accuracy")
    assert not accuracy.significant and accuracy.winner is None
    assert accuracy.needed_per_variant is not None and accuracy.needed_per_variant > 150
    assert accuracy.more_needed == accuracy.needed_per_variant - 150 > 0
    assert f"about {accuracy.more_needed:,} more labelled rows per variant" in accuracy.verdict
    assert all(c.winner is None for c in report.comparisons if c.metric != "latency (ms)")


def test_no_rows_and_unknown_controls_say_what_to_do(shop: Endpoints, registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="no logged predictions; send it traffic.*widen"):
        ab_report(shop, "shop")
    model = registry.load("models:/churn/2")
    _serve(shop.settings, {"a": model, "b": model}, rows=20, seed=1)
    later = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(NotFoundError, match=r"from \d{4}-.* UTC; send it traffic"):
        ab_report(shop, "shop", start=later)
    with pytest.raises(InvalidInputError, match="control variant 'zzz'.*are a, b.*--control"):
        ab_report(shop, "shop", control="zzz")
    flipped = ab_report(shop, "shop", control="b")
    assert flipped.control == "b" and {c.challenger for c in flipped.comparisons} == {"a"}


def test_windows() -> None:
    now = datetime(2026, 1, 2, 12, tzinfo=UTC)
    assert window("90m", None, None, now) == (now - timedelta(minutes=90), None)
    naive = datetime(2026, 1, 1)
    assert window(None, naive, None) == (naive.replace(tzinfo=UTC), None)
    for args, message in [
        (("1 fortnight", None, None), "not a duration"),
        (("1h", naive, None), "either --since or --start"),
        ((None, now, naive), "start must come before its end"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            window(*args)


def test_a_report_can_be_limited_to_some_revisions(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    rng = np.random.default_rng(5)
    writer = PredictionLogWriter(settings.predictions, flush_interval=60)
    for revision, count in ((1, 30), (2, 50)):
        for variant in ("a", "b"):
            ids = [f"{revision}{variant}{i}" for i in range(count)]
            _answer(writer, variant, ids, np.ones(count), rng.gamma(2, 2, count), revision=revision)
    writer.close()
    logged = _read(tmp_path)
    whole = report_from_log(logged, endpoint="shop", revision=2, policy_variants=["a", "b"])
    assert whole.revisions == [1, 2] and [v.requests for v in whole.variants] == [80, 80]
    second = report_from_log(
        logged, endpoint="shop", revision=2, policy_variants=["a", "b"], revisions=[2]
    )
    assert second.revisions == [2] and [v.requests for v in second.variants] == [50, 50]
    with pytest.raises(NotFoundError, match="no logged predictions at revision\\(s\\) 7"):
        report_from_log(logged, endpoint="shop", revision=2, policy_variants=["a"], revisions=[7])
