"""The checks of a monitor, on frames already read: each returns the numbers it measured
with their thresholds and statuses (no I/O here).

- ``concept_drift``: the errors of the rows whose labels arrived since the last run, in
  the order they arrived, fed to an online detector (:mod:`shipyard.stats.streaming`,
  ADWIN unless the ``concept`` options name another) whose state carries over from run to
  run; ``concept_drift`` counts the changes it detected (breached above 0), each with its
  request id and time in ``detail``.
- ``operations``: ``request_count``, ``error_rate``, ``fallback_rate`` (shares of
  requests) and ``p50_latency_ms`` / ``p99_latency_ms`` (per request) of the window.
- ``data_drift``: one ``drift`` result per input column (the test's p-value or distance,
  whichever its threshold applies to, breached when the column drifts) and
  ``drifted_share`` (breached when at least ``drift_share`` of the tested columns drift), by
  :func:`~shipyard.stats.drift.drift_report`.
- ``prediction_drift``: ``prediction_drift`` of the prediction column, the same way.
- ``data_quality``: per column ``missing_rate`` (breached above the reference's rate plus
  ``missing_rate_increase``), ``violation_rate``, ``out_of_range_rate`` and
  ``unseen_rate`` (shares of the window's rows; counts in ``detail``), and
  ``missing_columns``, by :func:`~shipyard.stats.quality.data_quality`.
- ``performance``: ``labelled_rows`` (with the count of labels left out for not being of
  the predictions' type or among the model's classes) and, for classifiers, ``accuracy``
  (its confusion matrix in ``detail``), ``precision``, ``recall``, ``f1`` (binary),
  ``precision_macro``, ``recall_macro``, ``f1_macro``, and with logged probabilities
  ``roc_auc`` (binary) or ``roc_auc_ovr_macro`` and ``log_loss``; for regressors ``mae``,
  ``rmse``, ``mape`` and ``r2``; by :mod:`shipyard.stats.performance`, on the window's
  rows that have a feedback label. With ``segment_by`` (an input column; numeric ones
  binned by ``bins``: a count of quantile bins or a list of edges) every metric again per
  segment, as column ``COLUMN=SEGMENT``.

A check with nothing to measure (an empty window or reference, no labels) returns
``no_data`` results saying why; it never raises for that.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from shipyard.monitoring.spec import THRESHOLDS, Check, Monitor, Status
from shipyard.schema.signature import Signature
from shipyard.stats._columns import float_values
from shipyard.stats.drift import drift_report
from shipyard.stats.performance import classification_performance, regression_performance
from shipyard.stats.profile import DatasetProfile
from shipyard.stats.quality import data_quality
from shipyard.stats.streaming import DETECTORS, detect, detector_from_state


class Measure(NamedTuple):
    """One measured number of a check, before it is stored."""

    check: Check
    metric: str
    column: str | None
    value: float | None
    threshold: float | None
    status: Status
    detail: dict[str, Any]


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def judge(monitor: Monitor, key: str, value: float | None) -> tuple[float | None, Status]:
    """The threshold ``key`` of ``monitor`` and the status of ``value`` against it."""
    threshold = monitor.threshold(key)
    if value is None:
        return threshold, "no_data"
    if threshold is None:
        return None, "ok"
    direction = THRESHOLDS[key][1]
    breached = value > threshold if direction == "max" else value < threshold
    return threshold, "breach" if breached else "ok"


def no_data(check: Check, why: str, metric: str = "rows") -> list[Measure]:
    return [Measure(check, metric, None, None, None, "no_data", {"reason": why})]


def _measure(
    monitor: Monitor,
    check: Check,
    key: str,
    value: float | None,
    *,
    column: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Measure:
    threshold, status = judge(monitor, key, value)
    return Measure(check, key, column, value, threshold, status, detail or {})


# -- operations --------------------------------------------------------------------------


def requests_of(window: pd.DataFrame) -> pd.DataFrame:
    """One row per request (its first row): ``error``, ``fallback``, ``latency_ms``."""
    firsts: pd.DataFrame = window.drop_duplicates("request_id", keep="first")
    return firsts


def operations(monitor: Monitor, window: pd.DataFrame) -> list[Measure]:
    if window.empty:
        return no_data("operations", "no predictions in the window", "request_count")
    requests = requests_of(window)
    count = len(requests)
    errors = requests["error"].notna() if "error" in requests else pd.Series(False)
    fallbacks = requests["fallback"].fillna(False).astype(bool) if "fallback" in requests else None
    fallback_count = 0 if fallbacks is None else int(fallbacks.sum())
    latency = pd.to_numeric(requests["latency_ms"], errors="coerce").dropna().to_numpy()
    p50 = float(np.percentile(latency, 50)) if latency.size else None
    p99 = float(np.percentile(latency, 99)) if latency.size else None
    counts = {"requests": count, "rows": len(window)}
    return [
        _measure(monitor, "operations", "request_count", float(count), detail=counts),
        _measure(
            monitor,
            "operations",
            "error_rate",
            float(errors.sum()) / count,
            detail={"errors": int(errors.sum()), "requests": count},
        ),
        _measure(
            monitor,
            "operations",
            "fallback_rate",
            fallback_count / count,
            detail={"fallbacks": fallback_count, "requests": count},
        ),
        _measure(monitor, "operations", "p50_latency_ms", p50, detail={"requests": latency.size}),
        _measure(monitor, "operations", "p99_latency_ms", p99, detail={"requests": latency.size}),
    ]


# -- drift -------------------------------------------------------------------------------


def data_drift(
    monitor: Monitor,
    current: pd.DataFrame,
    reference: pd.DataFrame | None,
    why_no_reference: str = "the reference has no rows",
) -> list[Measure]:
    check: Check = "data_drift"
    if current.empty or current.shape[1] == 0:
        return no_data(check, "no inputs in the window", "drifted_share")
    if reference is None or reference.empty:
        return no_data(check, why_no_reference, "drifted_share")
    shared = [c for c in current.columns if c in set(reference.columns)]
    if not shared:
        return no_data(check, "the window and the reference share no input column")
    share = monitor.threshold("drift_share") or THRESHOLDS["drift_share"][0] or 0.5
    options = dict(monitor.options.get("drift", {}))
    report = drift_report(
        reference[shared], current[shared], drift_share=share, workers=1, **options
    )
    out = [_column_drift(check, "drift", c) for c in report.columns]
    out.append(
        Measure(
            check,
            "drifted_share",
            None,
            report.drifted_share if report.tested_columns else None,
            share,
            ("breach" if report.dataset_drift else "ok") if report.tested_columns else "no_data",
            {
                "drifted_columns": report.drifted_columns,
                "tested_columns": report.tested_columns,
                "mode": report.mode,
            },
        )
    )
    return out


def _column_drift(check: Check, metric: str, column: Any) -> Measure:
    detail = {
        "test": column.test,
        "p_value": _number(column.p_value),
        "threshold_kind": column.threshold_kind,
        "reference_count": column.reference_count,
        "current_count": column.current_count,
        "current_missing": column.current_missing,
    }
    if column.test is None:
        detail["reason"] = column.note or "not tested"
        return Measure(check, metric, column.column, None, None, "no_data", detail)
    status: Status = "breach" if column.drift_detected else "ok"
    # The value is what the threshold applies to: the p-value (drift below it) or the
    # distance (drift at or above it); the test's statistic is in the detail either way.
    detail["statistic"] = _number(column.statistic)
    by_p = column.threshold_kind == "p_value"
    value = _number(column.p_value if by_p else column.statistic)
    return Measure(check, metric, column.column, value, _number(column.threshold), status, detail)


def prediction_drift(
    monitor: Monitor,
    current: pd.Series[Any] | None,
    reference: pd.Series[Any] | None,
    why_no_reference: str = "the reference has no predictions",
) -> list[Measure]:
    return _series_drift(
        monitor,
        "prediction_drift",
        "prediction",
        current,
        reference,
        "no predictions in the window",
        why_no_reference,
    )


def target_drift(
    monitor: Monitor,
    current: pd.Series[Any] | None,
    reference: pd.Series[Any] | None,
    why_no_reference: str = "the reference has no labels",
) -> list[Measure]:
    """Drift of the labels feedback gave the window's rows against the reference's
    (the training target, or the labels of the reference window). Labels are read in the
    reference's type (text ``"1"`` as the number 1); those that are not of it are left
    out and counted, as the performance check does."""
    odd: dict[str, Any] = {}
    if current is not None and reference is not None:
        reference = reference.dropna().infer_objects()
        given = current.dropna().infer_objects()
        labels, usable = _like(given, reference, None)
        if not usable.all():
            examples = sorted({repr(v) for v in given[~usable]})[:5]
            odd = {
                "unusable_labels": int((~usable).sum()),
                "examples": examples,
                "reason": f"{int((~usable).sum())} label(s) are not of the reference's type "
                f"(e.g. {', '.join(examples)}); they are left out",
            }
        current = labels[usable]
    measures = _series_drift(
        monitor,
        "target_drift",
        "label",
        current,
        reference,
        "no feedback labels for the window's rows yet; load them with: shipyard feedback "
        "load FILE, or POST /v1/endpoints/NAME/feedback",
        why_no_reference,
    )
    return [m._replace(detail={**m.detail, **odd}) for m in measures] if odd else measures


def _series_drift(
    monitor: Monitor,
    check: Check,
    column: str,
    current: pd.Series[Any] | None,
    reference: pd.Series[Any] | None,
    why_no_current: str,
    why_no_reference: str,
) -> list[Measure]:
    if current is None or current.dropna().empty:
        return no_data(check, why_no_current, check)
    if reference is None or reference.dropna().empty:
        return no_data(check, why_no_reference, check)
    options = dict(monitor.options.get("drift", {}))
    options.pop("tests", None), options.pop("thresholds", None)  # those name input columns
    report = drift_report(
        pd.DataFrame({column: reference.dropna().to_numpy()}),
        pd.DataFrame({column: current.dropna().to_numpy()}),
        workers=1,
        **options,
    )
    return [_column_drift(check, check, report.columns[0])]


# -- data quality ------------------------------------------------------------------------


def quality(
    monitor: Monitor,
    current: pd.DataFrame,
    profile: DatasetProfile | None,
    signature: Signature | None,
    why_no_reference: str = "the reference has no rows",
) -> list[Measure]:
    check: Check = "data_quality"
    if current.empty:
        return no_data(check, "no inputs in the window", "missing_rate")
    if profile is None:
        return no_data(check, why_no_reference, "missing_rate")
    report = data_quality(current, profile, signature=signature)
    rows = report.rows
    out: list[Measure] = []
    increase = monitor.threshold("missing_rate_increase")
    for name, column in report.columns.items():
        base = column.reference_missing_rate or 0.0
        rate = column.missing_rate
        threshold = None if increase is None else base + increase
        status: Status = "no_data" if rate is None else "ok"
        if rate is not None and threshold is not None and rate > threshold:
            status = "breach"
        counted = {"missing": column.missing, "rows": rows, "reference_missing_rate": base}
        out.append(Measure(check, "missing_rate", name, rate, threshold, status, counted))
        counts: dict[str, tuple[int | None, dict[str, Any]]] = {
            "violation_rate": (column.violations, {"examples": column.violation_examples}),
            "out_of_range_rate": (
                None if column.below_min is None else column.below_min + (column.above_max or 0),
                {"below_min": column.below_min, "above_max": column.above_max},
            ),
            "unseen_rate": (column.unseen, {"examples": column.unseen_examples}),
        }
        for key, (count, extra) in counts.items():
            if count is None:
                continue
            detail: dict[str, Any] = {"count": count, "rows": rows, **extra}
            out.append(_measure(monitor, check, key, count / rows, column=name, detail=detail))
    missing = len(report.missing_columns)
    out.append(
        Measure(
            check,
            "missing_columns",
            None,
            float(missing),
            0.0,
            "breach" if missing else "ok",
            {"columns": report.missing_columns, "unexpected": report.unexpected_columns},
        )
    )
    return out


# -- performance -------------------------------------------------------------------------

_CLASSIFICATION = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "roc_auc",
    "roc_auc_ovr_macro",
    "log_loss",
)
_REGRESSION = ("mae", "rmse", "mape", "r2")
#: Reasons a metric does not apply to the model at all (not to this window): not stored.
_NOT_APPLICABLE = ("no probabilities given", "labels: see", "give positive", "1-D probabilities")


def _like(
    labels: pd.Series[Any], predictions: pd.Series[Any], classes: list[Any] | None
) -> tuple[pd.Series[Any], pd.Series[Any]]:
    """Labels in the predictions' type (feedback often arrives as text), and which of them
    are usable: of that type and, when the model's classes are known, one of them."""
    usable = pd.Series(True, index=labels.index)
    if pd.api.types.is_numeric_dtype(predictions) and not pd.api.types.is_numeric_dtype(labels):
        converted = pd.to_numeric(labels, errors="coerce")
        usable = converted.notna()
        labels = converted
        if pd.api.types.is_integer_dtype(predictions) and (labels[usable] % 1 == 0).all():
            labels = labels.where(usable, 0).astype(predictions.dtype)
    elif not pd.api.types.is_numeric_dtype(predictions):
        if pd.api.types.is_numeric_dtype(labels) or labels.map(type).nunique() > 1:
            labels = labels.map(lambda v: v if isinstance(v, str) else str(_whole(v)))
    if classes is not None:
        usable &= labels.isin(classes)
    return labels, usable


def _labelled(
    rows: pd.DataFrame, task: str | None, classes: list[Any] | None
) -> tuple[pd.Series[Any], pd.Series[Any], pd.Series[Any], str]:
    """The rows' predictions, labels (see :func:`_like`), which labels are usable, and the
    task (``None``: regression when the predictions have fractions, else classification)."""
    predictions = rows["prediction"].infer_objects()
    if task is None:
        floating = pd.api.types.is_float_dtype(predictions)
        task = "regression" if floating and (predictions % 1 != 0).any() else "classification"
    labels, usable = _like(
        rows["label"].infer_objects(), predictions, classes if task != "regression" else None
    )
    return predictions, labels, usable, task


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def performance(
    monitor: Monitor,
    window: pd.DataFrame,
    task: str | None,
    classes: list[Any] | None,
) -> list[Measure]:
    """``window``: the log rows with a ``label`` column (null where no feedback came);
    ``task``: ``classification`` or ``regression`` (``None``: from the predictions);
    ``classes``: the model's class labels, in the order of its probabilities. Per segment
    too when the monitor's ``performance`` options name ``segment_by`` (an input column)
    and optionally ``bins``."""
    check: Check = "performance"
    if window.empty:
        return no_data(check, "no predictions in the window", "labelled_rows")
    answered = window["prediction"].notna()
    if "error" in window:
        answered &= window["error"].isna()
    labelled = window[answered & window["label"].notna()]
    if labelled.empty:
        return no_data(
            check,
            "no feedback labels for the window's predictions yet; send them with: "
            "shipyard feedback load FILE",
            "labelled_rows",
        )
    predictions, labels, usable, task = _labelled(labelled, task, classes)
    detail: dict[str, Any] = {"task": task}
    if not usable.all():
        odd = labelled["label"][~usable]
        detail["unusable_labels"] = int((~usable).sum())
        detail["examples"] = sorted({repr(v) for v in odd})[:5]
        expected = (
            f"one of {classes}"
            if classes is not None and task != "regression"
            else ("a number" if pd.api.types.is_numeric_dtype(predictions) else "a label")
        )
        detail["reason"] = (
            f"{detail['unusable_labels']} label(s) are not {expected} (e.g. "
            f"{', '.join(detail['examples'])}); they are left out. Load corrected labels with "
            "shipyard feedback load FILE (a later label replaces an earlier one)"
        )
    usable_rows = usable.to_numpy()
    labels, predictions = labels[usable], predictions[usable]
    kept = labelled[usable_rows]
    count_status: Status = "ok" if len(kept) else "no_data"
    out = [Measure(check, "labelled_rows", None, float(len(kept)), None, count_status, detail)]
    if kept.empty:
        return out
    options = dict(monitor.options.get("performance", {}))
    segment_by = options.get("segment_by")
    segments = None
    if segment_by is not None:
        name = f"inputs.{segment_by}"
        if name not in kept:
            out += no_data(
                check,
                f"segment column {segment_by!r} is not among the window's inputs; choose "
                "one of the model's input columns",
                "segments",
            )
            segment_by = None
        else:
            segments = kept[name]
    bins = options.get("bins") if segments is not None else None
    if task == "regression":
        report = regression_performance(
            labels, predictions, segments=segments, bins=bins, segment_by=segment_by
        )
        keys: tuple[str, ...] = _REGRESSION
    else:
        probabilities = _probabilities(kept, classes)
        order = classes if classes is not None else None
        report = classification_performance(
            labels,
            predictions,
            probabilities=probabilities,
            classes=order if probabilities is not None or order is not None else None,
            segments=segments,
            bins=bins,
            segment_by=segment_by,
        )
        keys = _CLASSIFICATION
    parts = [(None, report.overall)] + [(s.segment, s) for s in report.segments]
    for segment, part in parts:
        column = None if segment is None else f"{segment_by}={segment}"
        for key in keys:
            reason = part.undefined.get(key)
            if reason and any(r in reason for r in _NOT_APPLICABLE):
                continue
            extra: dict[str, Any] = {"task": task, "rows": part.rows}
            if reason:
                extra["reason"] = reason
            if key == "accuracy" and part.confusion_matrix is not None:
                extra["confusion_matrix"] = part.confusion_matrix.model_dump(mode="json")
            if segment is not None:
                extra["segment"] = {"column": segment_by, "value": segment}
            value = _number(part.metrics.get(key))
            out.append(_measure(monitor, check, key, value, column=column, detail=extra))
    return out


def _probabilities(window: pd.DataFrame, classes: list[Any] | None) -> Any:
    """The rows' class probabilities as a matrix in ``classes`` order, when every row has
    one per class; else ``None`` (the probability metrics are then left out)."""
    if classes is None or "probabilities" not in window:
        return None
    values = window["probabilities"]
    if values.isna().any():
        return None
    try:
        matrix = np.vstack([np.asarray(v, dtype=np.float64) for v in values])
    except (TypeError, ValueError):
        return None
    if matrix.ndim != 2 or matrix.shape[1] != len(classes):
        return None
    return matrix


# -- concept drift -----------------------------------------------------------------------


def concept_drift(
    monitor: Monitor,
    window: pd.DataFrame,
    task: str | None,
    classes: list[Any] | None,
    saved: Mapping[str, Any] | None,
) -> tuple[list[Measure], dict[str, Any]]:
    """Feed the errors of the window's rows whose labels arrived since the last run (in
    the order they arrived) to the monitor's online detector, carried over from run to
    run in ``saved``; returns the results and the state to carry over.

    ``window``: the log rows with ``label`` and ``received_at`` (null where no feedback
    came). An error is 1/0 for a wrong/right class, or the absolute error of a value."""
    check: Check = "concept_drift"
    options = dict(monitor.options.get("concept") or {"detector": "adwin"})
    fresh = not saved or saved.get("options") != options
    state: dict[str, Any] = (
        {"options": options, "detector": None, "cursor": None, "read": 0, "detections": 0}
        if fresh
        else dict(saved or {})
    )
    params = {k: v for k, v in options.items() if k != "detector"}
    detector = (
        DETECTORS[options["detector"]](**params)
        if state["detector"] is None
        else detector_from_state(state["detector"])
    )
    if window.empty or "label" not in window:
        return no_data(check, "no predictions in the window", check), state
    answered = window["prediction"].notna() & window["label"].notna()
    if "error" in window:
        answered &= window["error"].isna()
    rows = window[answered]
    if state["cursor"] is not None:
        rows = rows[rows["received_at"] > pd.Timestamp(state["cursor"])]
    if rows.empty:
        why = (
            f"no labels arrived since the last run ({state['read']} read so far); load them "
            "with: shipyard feedback load FILE"
        )
        return no_data(check, why, check), state
    rows = rows.sort_values(["received_at", "time", "request_id", "row"], kind="stable")
    predictions, labels, usable, task = _labelled(rows, task, classes)
    if task == "regression":
        errors = np.abs(float_values(predictions) - float_values(labels))
    else:
        errors = (predictions.to_numpy() != labels.to_numpy()).astype(np.float64)
    errors = np.asarray(errors, dtype=np.float64)[usable.to_numpy()]
    fed = rows[usable.to_numpy()]
    found = detect(detector, errors.tolist())
    detections = [
        {
            "request_id": str(fed["request_id"].iloc[i]),
            "time": fed["time"].iloc[i].isoformat(),
            "received_at": fed["received_at"].iloc[i].isoformat(),
            "position": state["read"] + i,
        }
        for i in found
    ]
    state |= {
        "detector": detector.state(),
        "cursor": rows["received_at"].max().isoformat(),
        "read": state["read"] + len(errors),
        "detections": state["detections"] + len(found),
    }
    detail = {
        "detector": options["detector"],
        "task": task,
        "read": len(errors),
        "read_total": state["read"],
        "mean_error": float(errors.mean()) if errors.size else None,
        "detections": detections,
        "unusable_labels": int((~usable).sum()),
    }
    return [_measure(monitor, check, "concept_drift", float(len(found)), detail=detail)], state
