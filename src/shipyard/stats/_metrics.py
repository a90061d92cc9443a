"""Metric formulas behind :mod:`shipyard.stats.performance` (numpy and scipy only).

Each function returns ``(value, None)`` or ``(None, reason)`` when the metric is
undefined on the rows given, instead of raising or warning.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

FloatArray = npt.NDArray[np.float64]
Result = tuple[float | None, str | None]


def confusion(codes_true: npt.NDArray[np.intp], codes_pred: npt.NDArray[np.intp], k: int) -> Any:
    """``k`` x ``k`` counts: row = true label, column = predicted label."""
    flat = np.bincount(codes_true * k + codes_pred, minlength=k * k)
    return flat.reshape(k, k).astype(np.int64)


def binary_scores(matrix: Any, positive: int) -> dict[str, Result]:
    """Precision, recall and F1 of the label at index ``positive``."""
    tp = int(matrix[positive, positive])
    fp = int(matrix[:, positive].sum()) - tp
    fn = int(matrix[positive, :].sum()) - tp
    return {
        "precision": (tp / (tp + fp), None) if tp + fp else (None, "no row predicted positive"),
        "recall": (tp / (tp + fn), None) if tp + fn else (None, "no positive label"),
        "f1": (2 * tp / (2 * tp + fp + fn), None)
        if tp + fp + fn
        else (None, "no positive label and no row predicted positive"),
    }


def macro_scores(matrix: Any) -> dict[str, float]:
    """Unweighted means over the labels of per-label precision, recall and F1; a label's
    undefined score (0 / 0) counts as 0, as scikit-learn's ``zero_division=0``."""
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0).astype(np.float64)
    actual = matrix.sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(predicted + actual > 0, 2 * tp / (predicted + actual), 0.0)
    return {
        "precision_macro": float(precision.mean()),
        "recall_macro": float(recall.mean()),
        "f1_macro": float(f1.mean()),
    }


def binary_auc(is_positive: npt.NDArray[np.bool_], scores: FloatArray) -> Result:
    """ROC AUC as the Mann-Whitney statistic: the probability that a random positive row
    scores above a random negative one, ties counting one half."""
    n_pos = int(is_positive.sum())
    n_neg = is_positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return None, "only one class present in the labels"
    ranks = rankdata(scores)
    u = float(ranks[is_positive].sum()) - n_pos * (n_pos + 1) / 2
    return u / (n_pos * n_neg), None


def ovr_macro_auc(codes_true: npt.NDArray[np.intp], probabilities: FloatArray) -> Result:
    """Mean over the labels of the ROC AUC of each label against the rest (its column)."""
    aucs = []
    for j in range(probabilities.shape[1]):
        auc, reason = binary_auc(codes_true == j, probabilities[:, j])
        if auc is None:
            return None, f"label at position {j} of classes: {reason}"
        aucs.append(auc)
    return float(np.mean(aucs)), None


def log_loss(codes_true: npt.NDArray[np.intp], probabilities: FloatArray) -> Result:
    """Mean of ``-log p`` of each row's true label, ``p`` clipped to ``[eps, 1 - eps]``
    (eps of float64), as scikit-learn does; probabilities are not renormalised."""
    eps = float(np.finfo(np.float64).eps)
    p = np.clip(probabilities[np.arange(codes_true.size), codes_true], eps, 1 - eps)
    return float(-np.log(p).mean()), None


def regression_scores(y: FloatArray, predicted: FloatArray) -> dict[str, Result]:
    """MAE, RMSE, MAPE (over the rows whose label is not zero) and R²."""
    n = y.size
    if n == 0:
        return {m: (None, "no rows") for m in ("mae", "rmse", "mape", "r2")}
    error = predicted - y
    out: dict[str, Result] = {
        "mae": (float(np.abs(error).mean()), None),
        "rmse": (float(np.sqrt(np.mean(error**2))), None),
    }
    nonzero = y != 0
    if nonzero.any():
        out["mape"] = (float(np.mean(np.abs(error[nonzero]) / np.abs(y[nonzero]))), None)
    else:
        out["mape"] = (None, "every label is zero")
    if n < 2:
        out["r2"] = (None, "fewer than 2 rows")
    else:
        total = float(np.sum((y - y.mean()) ** 2))
        out["r2"] = (
            (1 - float(np.sum(error**2)) / total, None)
            if total > 0
            else (None, "labels are constant")
        )
    return out
