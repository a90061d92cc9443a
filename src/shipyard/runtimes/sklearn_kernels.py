"""Compiled forms of common scikit-learn models: the same arithmetic, without the checks.

A scikit-learn ``predict`` on one row spends almost all its time checking its input
(hundreds of microseconds) and a few microseconds computing. Once a request has passed
the version's signature, those checks are repeated work. A kernel here takes a finite,
C-contiguous float64 matrix whose columns are in signature order and returns the labels
(or values) and the probabilities, computed with the very operations scikit-learn uses,
in the same order, so the results are equal bit for bit, not merely close:

- linear models (``LogisticRegression``; ``LinearRegression``, ``Ridge``, ``Lasso``,
  ``ElasticNet``): ``X @ coef_.T + intercept_`` on the column-major matrix scikit-learn
  makes of a DataFrame, then ``expit``/``softmax`` as ``predict_proba`` does;
- decision trees and random/extra-trees forests (classifier and regressor, one
  output): every tree walked at once, level by level, on ``float32`` inputs compared
  with ``float64`` thresholds as scikit-learn's Cython does; per-tree outputs summed in
  tree order and divided by the number of trees;
- a ``Pipeline`` of a ``StandardScaler`` and one of the above: ``(X - mean_) / scale_``
  elementwise, as the scaler does, then the model's kernel.

Anything else, or a model these do not recognise exactly, gets no kernel. The serving
layer also compares a kernel with the runtime on sample rows before it uses it
(:func:`shipyard.runtimes.base.kernel_mismatch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shipyard.runtimes.base import Kernel, KernelOutput

Array = np.ndarray[Any, Any]

_LINEAR_REGRESSORS = frozenset({"LinearRegression", "Ridge", "Lasso", "ElasticNet"})
_TREES = frozenset({"DecisionTreeClassifier", "ExtraTreeClassifier"}) | frozenset(
    {"DecisionTreeRegressor", "ExtraTreeRegressor"}
)
_FORESTS = frozenset({"RandomForestClassifier", "ExtraTreesClassifier"}) | frozenset(
    {"RandomForestRegressor", "ExtraTreesRegressor"}
)


def compile_sklearn(model: Any, columns: Sequence[str]) -> Kernel | None:
    """A kernel for ``model`` fed ``columns`` in this order, or ``None``."""
    if type(model).__module__.split(".", 1)[0] != "sklearn":
        return None
    if getattr(model, "n_features_in_", None) != len(columns):
        return None
    names = getattr(model, "feature_names_in_", None)
    if names is not None and list(names) != list(columns):
        return None
    kind = type(model).__name__
    if kind == "Pipeline":
        return _scaled(model, columns)
    if kind == "LogisticRegression":
        return _logistic(model)
    if kind in _LINEAR_REGRESSORS:
        return _linear(model)
    if kind in _TREES:
        return _trees(model, [model], forest=False)
    if kind in _FORESTS:
        if getattr(model, "n_jobs", None) not in (None, 1):
            return None  # scikit-learn sums its trees in thread order: no fixed answer to match
        return _trees(model, list(model.estimators_), forest=True)
    return None


def _scaled(pipeline: Any, columns: Sequence[str]) -> Kernel | None:
    """A kernel for ``Pipeline([StandardScaler, model])``, or ``None``."""
    steps = [step for _, step in pipeline.steps if step not in (None, "passthrough")]
    if len(steps) != 2 or type(steps[0]).__name__ != "StandardScaler":
        return None
    scaler, model = steps
    if getattr(scaler, "n_features_in_", None) != len(columns):
        return None
    inner = compile_sklearn(model, columns)
    if inner is None:
        return None
    mean = np.asarray(scaler.mean_) if scaler.with_mean else None
    scale = np.asarray(scaler.scale_) if scaler.with_std else None
    if (mean is not None and mean.dtype != np.float64) or (
        scale is not None and scale.dtype != np.float64
    ):
        return None

    def kernel(x: Array) -> KernelOutput | None:
        scaled = np.array(x, dtype=np.float64, order="F")  # the scaler's own copy
        if mean is not None:
            scaled -= mean
        if scale is not None:
            scaled /= scale
        return inner(scaled)

    return kernel


# -- linear models ---------------------------------------------------------------------


def _logistic(model: Any) -> Kernel | None:
    from scipy.special import expit
    from sklearn.utils.extmath import softmax

    coef, intercept = np.asarray(model.coef_), np.asarray(model.intercept_)
    classes = np.asarray(model.classes_)
    if coef.ndim != 2 or coef.dtype != np.float64 or len(classes) < 2:
        return None
    coef_t = coef.T
    binary = len(classes) == 2

    def kernel(x: Array) -> KernelOutput:
        scores = np.asfortranarray(x) @ coef_t + intercept
        if binary:
            scores = scores.reshape(-1)
            labels = classes.take((scores > 0).astype(np.intp))
            positive = expit(scores)
            return labels, np.stack([1 - positive, positive], axis=1)
        labels = classes.take(np.argmax(scores, axis=1))
        return labels, softmax(scores, copy=False)

    return kernel


def _linear(model: Any) -> Kernel | None:
    coef, intercept = np.asarray(model.coef_), model.intercept_
    if coef.ndim != 1 or coef.dtype != np.float64:
        return None  # several targets: left to scikit-learn
    coef_t = coef.T

    def kernel(x: Array) -> KernelOutput:
        return np.asfortranarray(x) @ coef_t + intercept, None

    return kernel


# -- trees and forests -----------------------------------------------------------------


def _trees(model: Any, estimators: list[Any], *, forest: bool) -> Kernel | None:
    if getattr(model, "n_outputs_", 1) != 1 or not estimators:
        return None
    classes = getattr(model, "classes_", None)
    width = 1 if classes is None else len(classes)
    features, thresholds, children, values, roots = [], [], [], [], []
    offset, depth = 0, 0
    for estimator in estimators:
        tree = estimator.tree_
        count = tree.node_count
        left, right = tree.children_left, tree.children_right
        leaf = left == -1
        index = np.arange(count)
        # A leaf points at itself both ways, with a threshold every value passes, so
        # walking every tree for the deepest tree's number of levels is harmless.
        pair = np.stack([np.where(leaf, index, left), np.where(leaf, index, right)], axis=1)
        children.append(pair + offset)
        features.append(np.where(leaf, 0, tree.feature))
        thresholds.append(np.where(leaf, np.inf, tree.threshold))
        values.append(np.asarray(tree.value[:, 0, :width], dtype=np.float64))
        roots.append(offset)
        offset += count
        depth = max(depth, int(tree.max_depth))
    feature = np.concatenate(features).astype(np.intp)
    threshold = np.concatenate(thresholds).astype(np.float64)
    child = np.concatenate(children).astype(np.intp).reshape(-1)
    value = np.concatenate(values)
    root = np.asarray(roots, dtype=np.intp)
    n_trees = len(estimators)
    labels = None if classes is None else np.asarray(classes)

    def kernel(x: Array) -> KernelOutput | None:
        rows, columns = x.shape
        # scikit-learn casts inputs to float32; its Cython compares them, widened to
        # double, with double thresholds: the same here.
        with np.errstate(over="ignore"):
            flat = x.astype(np.float32).astype(np.float64).reshape(-1)
        if not np.isfinite(flat).all():
            return None  # too large for float32: scikit-learn's own checks say so
        base = np.arange(rows, dtype=np.intp)[:, None] * columns
        node = np.repeat(root[None, :], rows, axis=0)
        for _ in range(depth):
            right = flat[base + feature[node]] > threshold[node]
            node = child[2 * node + right]
        leaf_values = value[node]  # (rows, trees, width)
        if forest:
            # Summed tree by tree, in order, as scikit-learn's forests accumulate (a
            # running sum: a plain sum may add pairwise and round differently).
            total = np.cumsum(leaf_values, axis=1)[:, -1, :]
            total /= n_trees
        else:
            total = leaf_values[:, 0, :]
        total = np.ascontiguousarray(total)
        if labels is None:
            return np.ascontiguousarray(total[:, 0]), None
        return labels.take(np.argmax(total, axis=1)), total

    return kernel
