"""Model performance over a window of labelled predictions, overall and per segment.

The inputs are aligned arrays (or Series, or lists): the labels (the ``label`` column
that :func:`~shipyard.predictions.feedback.join_feedback` adds), the predictions and,
for classifiers, the class probabilities. Rows whose label or prediction is missing are
left out and counted in ``dropped``.

Classification (:func:`classification_performance`)
    ``accuracy``; ``precision``, ``recall`` and ``f1`` of the positive label (two labels
    at most); ``precision_macro``, ``recall_macro``, ``f1_macro`` (unweighted means over
    the labels, a label's 0/0 counting as 0 as scikit-learn's ``zero_division=0``);
    ``roc_auc`` (binary, from the positive label's probability) and
    ``roc_auc_ovr_macro`` (each label against the rest, averaged; needs probabilities
    for every class); ``log_loss`` (probabilities clipped to ``[eps, 1 - eps]``); the
    confusion matrix with its label order.
Regression (:func:`regression_performance`)
    ``mae``, ``rmse``, ``mape`` and ``r2``. MAPE is the mean of ``|ŷ - y| / |y|`` over
    the rows whose label is not zero (a zero label has no relative error); those rows
    are counted in ``zero_labels``, and MAPE is undefined when every label is zero.

A metric that is undefined on a window (one class present for ROC AUC, no row predicted
positive for precision, constant labels for R², no rows at all) is ``None``, with the
reason in ``undefined``; nothing raises or warns.

Segments: pass ``segments`` (one value per row: a column of the prediction log) to get
the metrics per distinct value too, or per numeric bin with ``bins`` — a list of edges
(``[0, 18, 65, 120]``; bins are ``[a, b)``, the last one closed, values outside them
form ``< a`` and ``> b`` segments) or a number of quantile bins. Rows whose segment
value is missing form the segment ``"missing"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from shipyard.errors import InvalidInputError
from shipyard.stats import _metrics
from shipyard.stats._columns import Values, as_series, float_values, label

Task = Literal["classification", "regression"]


class ConfusionMatrix(BaseModel):
    """Counts by true label (rows) and predicted label (columns), both in ``labels`` order."""

    labels: list[Any]
    counts: list[list[int]]


class SegmentPerformance(BaseModel):
    """The metrics of one segment (or of all rows: segment ``"all"``)."""

    segment: str
    rows: int
    """Rows with a label and a prediction."""
    metrics: dict[str, float | None]
    undefined: dict[str, str]
    """Why each ``None`` metric is undefined."""
    confusion_matrix: ConfusionMatrix | None = None
    zero_labels: int | None = None
    """Regression: rows with a zero label, left out of MAPE."""


class PerformanceReport(BaseModel):
    """Performance overall and, when asked, per segment."""

    task: Task
    rows: int
    """Rows given."""
    dropped: int
    """Rows left out for a missing label or prediction."""
    positive_label: Any = None
    """The label the binary metrics are about (classification)."""
    overall: SegmentPerformance
    segment_by: str | None = None
    segments: list[SegmentPerformance] = []

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return self.model_dump(mode="json")


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _aligned(labels: Values, predictions: Values, segments: Values | None) -> Any:
    y = as_series(labels, "label").reset_index(drop=True)
    p = as_series(predictions, "prediction").reset_index(drop=True)
    s = None if segments is None else as_series(segments, "segment").reset_index(drop=True)
    for name, other in (("predictions", p), ("segments", s)):
        if other is not None and len(other) != len(y):
            raise InvalidInputError(
                f"{name} has {len(other)} values but labels has {len(y)}; pass one per row"
            )
    keep = (y.notna() & p.notna()).to_numpy()
    return y, p, s, keep


def _bin_edges(values: Any, bins: int | Sequence[float]) -> Any:
    if isinstance(bins, int):
        if bins < 1:
            raise InvalidInputError(f"bins must be 1 or more quantile bins; got {bins}")
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return np.asarray([], dtype=np.float64)
        return np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)))
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or not (np.diff(edges) > 0).all():
        raise InvalidInputError(f"bin edges must be 2 or more increasing numbers; got {bins}")
    return edges


def _segment_codes(series: pd.Series[Any], bins: int | Sequence[float] | None) -> Any:
    """Segment names, in order, and each row's index into them."""
    if bins is None:
        codes, uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
        names = [label(v) for v in uniques]
        order = sorted(range(len(names)), key=lambda i: names[i])
        remap = np.empty(len(names), dtype=np.intp)
        remap[order] = np.arange(len(names))
        out = np.where(codes >= 0, remap[np.maximum(codes, 0)], len(names))
        return [names[i] for i in order] + ["missing"], out
    values = float_values(series)
    edges = _bin_edges(values, bins)
    if edges.size == 0:
        return ["missing"], np.zeros(values.size, dtype=np.intp)
    if edges.size == 1:  # quantile bins of a constant column
        edges = np.asarray([edges[0], edges[0]])
    text = [f"{e:g}" for e in edges.tolist()]
    if len(set(text)) < len(set(edges.tolist())):  # close edges: write them in full
        text = [repr(e) for e in edges.tolist()]
    names = [f"< {text[0]}"]
    names += [f"[{a}, {b})" for a, b in zip(text[:-2], text[1:-1], strict=True)]
    names += [f"[{text[-2]}, {text[-1]}]", f"> {text[-1]}", "missing"]
    codes = np.searchsorted(edges, values, side="right")  # 0: below, k: at or above the end
    codes = np.where(values == edges[-1], edges.size - 1, codes)
    codes = np.where(np.isnan(values), len(names) - 1, codes)
    return names, codes


def _segmented(
    segments: pd.Series[Any] | None,
    bins: int | Sequence[float] | None,
    keep: Any,
) -> list[tuple[str, Any]]:
    if segments is None:
        if bins is not None:
            raise InvalidInputError("bins needs segments: pass the values to bin")
        return []
    names, codes = _segment_codes(segments, bins)
    codes = codes[keep]
    return [(name, codes == i) for i, name in enumerate(names) if (codes == i).any()]


def _pack(segment: str, rows: int, results: dict[str, _metrics.Result]) -> dict[str, Any]:
    return {
        "segment": segment,
        "rows": rows,
        "metrics": {name: value for name, (value, _) in results.items()},
        "undefined": {name: reason for name, (_, reason) in results.items() if reason},
    }


def regression_performance(
    labels: Values,
    predictions: Values,
    *,
    segments: Values | None = None,
    bins: int | Sequence[float] | None = None,
    segment_by: str | None = None,
) -> PerformanceReport:
    """MAE, RMSE, MAPE and R² over all rows and per segment (see the module docstring)."""
    y_series, p_series, s_series, keep = _aligned(labels, predictions, segments)
    y, p = float_values(y_series)[keep], float_values(p_series)[keep]

    def one(segment: str, mask: Any) -> SegmentPerformance:
        scores = _metrics.regression_scores(y[mask], p[mask])
        zero = int(np.count_nonzero(y[mask] == 0))
        return SegmentPerformance(**_pack(segment, int(mask.sum()), scores), zero_labels=zero)

    return PerformanceReport(
        task="regression",
        rows=len(y_series),
        dropped=int((~keep).sum()),
        overall=one("all", np.ones(y.size, dtype=bool)),
        segment_by=None if segments is None else (segment_by or "segment"),
        segments=[one(name, mask) for name, mask in _segmented(s_series, bins, keep)],
    )


def _label_order(y: pd.Series[Any], p: pd.Series[Any], classes: Sequence[Any] | None) -> list[Any]:
    if classes is not None:
        order = [_plain(c) for c in classes]
        if len(set(order)) != len(order):
            raise InvalidInputError(f"classes repeats a label: {order}")
        return order
    seen = {_plain(v) for v in pd.concat([y, p]).unique()}
    try:
        return sorted(seen)
    except TypeError:
        raise InvalidInputError(
            f"labels and predictions mix types ({sorted(map(repr, seen))[:6]}); convert them "
            "to one type, or pass classes=[...] in the order you want"
        ) from None


def _default_positive(order: list[Any]) -> Any:
    if set(order) <= {0, 1}:  # also False/True, which equal 0 and 1
        return next((c for c in order if c == 1), True if bool in map(type, order) else 1)
    return None


def _probability_matrix(probabilities: Any, n: int) -> Any:
    array = np.asarray(probabilities)
    if array.dtype == object:  # a column of per-row lists, as the prediction log holds
        array = np.vstack([np.asarray(row, dtype=np.float64) for row in array])
    array = array.astype(np.float64)
    if array.shape[0] != n or array.ndim not in (1, 2):
        raise InvalidInputError(
            f"probabilities has shape {list(array.shape)}; pass one probability (of the "
            f"positive label) or one row of class probabilities per row ({n} rows)"
        )
    return array


def classification_performance(
    labels: Values,
    predictions: Values,
    *,
    probabilities: Any = None,
    classes: Sequence[Any] | None = None,
    positive_label: Any = None,
    segments: Values | None = None,
    bins: int | Sequence[float] | None = None,
    segment_by: str | None = None,
) -> PerformanceReport:
    """Classification metrics over all rows and per segment (see the module docstring).

    Parameters
    ----------
    probabilities
        Per row, the positive label's probability (1-D), or the probability of every class
        (2-D, columns in ``classes`` order, e.g. the signature's output classes).
    classes
        The label order of the confusion matrix, macro averages and probability columns
        (default: the labels and predictions seen, sorted).
    positive_label
        The label precision, recall, F1 and binary ROC AUC are about (default ``1`` or
        ``True`` when the labels are 0/1 or booleans).
    """
    y_series, p_series, s_series, keep = _aligned(labels, predictions, segments)
    y, p = y_series[keep], p_series[keep]
    order = _label_order(y, p, classes)
    index = pd.Index(order)
    codes_true, codes_pred = index.get_indexer(y), index.get_indexer(p)
    if (codes_true < 0).any() or (codes_pred < 0).any():
        unknown = {_plain(v) for v in pd.concat([y[codes_true < 0], p[codes_pred < 0]])}
        raise InvalidInputError(
            f"label(s) {sorted(map(repr, unknown))[:5]} are not in classes {order}; "
            "pass classes including every label and prediction"
        )
    positive = _default_positive(order) if positive_label is None else _plain(positive_label)
    if positive is not None and positive not in order:
        if classes is not None:
            raise InvalidInputError(
                f"positive_label {positive!r} is not in classes {order}; pass one of them"
            )
        order.append(positive)  # a window without the positive label at all
        index = pd.Index(order)
    k = len(order)
    matrix_p = None if probabilities is None else _probability_matrix(probabilities, len(y_series))
    if matrix_p is not None:
        matrix_p = matrix_p[keep]
        if matrix_p.ndim == 2 and classes is None:
            raise InvalidInputError(
                "pass classes= in the column order of the probabilities (the model's classes)"
            )
        if matrix_p.ndim == 2 and matrix_p.shape[1] != k:
            raise InvalidInputError(
                f"probabilities has {matrix_p.shape[1]} columns but there are {k} classes "
                f"({order}); pass one column per class, in classes order"
            )

    def one(segment: str, mask: Any) -> SegmentPerformance:
        t, q = codes_true[mask], codes_pred[mask]
        matrix = _metrics.confusion(t, q, k)
        n = int(mask.sum())
        results: dict[str, _metrics.Result] = {
            "accuracy": (float(np.trace(matrix)) / n, None) if n else (None, "no rows")
        }
        at = None if positive is None else order.index(positive)
        if at is None or k > 2:
            why = f"{k} labels: see the macro averages" if k > 2 else "give positive_label"
            results.update({m: (None, why) for m in ("precision", "recall", "f1")})
        else:
            results.update(_metrics.binary_scores(matrix, at))
        macro = _metrics.macro_scores(matrix) if n else {}
        for name in ("precision_macro", "recall_macro", "f1_macro"):
            results[name] = (macro[name], None) if n else (None, "no rows")
        results.update(_probability_metrics(t, None if matrix_p is None else matrix_p[mask], at, k))
        return SegmentPerformance(
            **_pack(segment, n, results),
            confusion_matrix=ConfusionMatrix(labels=order, counts=matrix.tolist()),
        )

    return PerformanceReport(
        task="classification",
        rows=len(y_series),
        dropped=int((~keep).sum()),
        positive_label=positive,
        overall=one("all", np.ones(len(y), dtype=bool)),
        segment_by=None if segments is None else (segment_by or "segment"),
        segments=[one(name, mask) for name, mask in _segmented(s_series, bins, keep)],
    )


def _probability_metrics(
    codes_true: Any, probabilities: Any, positive: int | None, k: int
) -> dict[str, _metrics.Result]:
    names = ("roc_auc", "roc_auc_ovr_macro", "log_loss")
    if probabilities is None:
        return {m: (None, "no probabilities given") for m in names}
    if codes_true.size == 0:
        return {m: (None, "no rows") for m in names}
    out: dict[str, _metrics.Result] = {}
    if probabilities.ndim == 1:
        if positive is None or k > 2:
            return {
                m: (None, "1-D probabilities need two labels and a positive_label") for m in names
            }
        scores = probabilities
        full = np.zeros((scores.size, k))
        full[:, positive] = scores
        full[:, 1 - positive] = 1 - scores
        probabilities = full
    if positive is not None and k <= 2:
        out["roc_auc"] = _metrics.binary_auc(codes_true == positive, probabilities[:, positive])
    else:
        out["roc_auc"] = (None, f"{k} labels: see roc_auc_ovr_macro")
    if k > 2:
        out["roc_auc_ovr_macro"] = _metrics.ovr_macro_auc(codes_true, probabilities)
    else:
        out["roc_auc_ovr_macro"] = (None, "two labels: see roc_auc")
    out["log_loss"] = _metrics.log_loss(codes_true, probabilities)
    return out
