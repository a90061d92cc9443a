"""Multivariate drift with a domain classifier.

A classifier learns to tell reference rows from current rows on half of a balanced
sample and is scored on the other half by ROC AUC. Without drift no classifier beats
chance, so the held-out AUC is compared with its null distribution: the held-out labels
permuted ``permutations`` times at a fixed seed, the scores kept (with the model trained
on other rows, scores and labels are exchangeable under no drift, so this null is
exact). Drift is detected when the p-value ``(1 + #{null >= auc}) / (1 + permutations)``
is below ``alpha``; ``threshold`` is the null's ``1 - alpha`` quantile, for reading.

The classifier is scikit-learn's ``HistGradientBoostingClassifier`` (missing values
handled natively, categories as categorical features), which catches shifts in any
combination of columns, including those no single column shows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy.stats import rankdata

from shipyard.errors import InvalidInputError
from shipyard.stats._columns import FloatArray, epoch_seconds, profile_kind

#: HistGradientBoosting takes categorical codes below its number of bins.
_MAX_CODES = 254


class DomainDrift(BaseModel):
    """The domain classifier's verdict."""

    model_config = ConfigDict(frozen=True)

    test: str = "domain_classifier"
    columns: list[str]
    rows_per_side: int
    """Rows drawn from each table (half to train, half to score)."""
    roc_auc: float
    threshold: float
    """The permutation null's ``1 - alpha`` quantile of the AUC."""
    p_value: float
    alpha: float
    drift_detected: bool

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()


def roc_auc(scores: FloatArray, labels: npt.NDArray[np.int64]) -> float:
    """ROC AUC by the Mann-Whitney rank sum (ties count one half), as scikit-learn's."""
    ranks = rankdata(scores)
    positives = int(labels.sum())
    negatives = labels.size - positives
    return float(
        (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def _features(
    reference: pd.DataFrame, current: pd.DataFrame, columns: list[str]
) -> tuple[FloatArray, list[bool]]:
    blocks: list[FloatArray] = []
    categorical: list[bool] = []
    for name in columns:
        both = pd.concat([reference[name], current[name]], ignore_index=True)
        kind = profile_kind(both)
        if kind == "numeric":
            blocks.append(both.to_numpy(dtype=np.float64, na_value=np.nan))
            categorical.append(False)
        elif kind == "datetime":
            blocks.append(epoch_seconds(both))
            categorical.append(False)
        else:
            codes, uniques = pd.factorize(both.astype(str).where(both.notna()))
            values = codes.astype(np.float64)
            values[codes < 0] = np.nan
            blocks.append(values)
            categorical.append(len(uniques) <= _MAX_CODES)
    return np.column_stack(blocks), categorical


def domain_classifier_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    max_rows: int = 20_000,
    permutations: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> DomainDrift:
    """Detect drift in the joint distribution of ``columns`` (default: all shared ones).

    At most ``max_rows`` rows are drawn from each table (the same number from both).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    if not isinstance(reference, pd.DataFrame) or not isinstance(current, pd.DataFrame):
        raise InvalidInputError("pass the reference and current tables as pandas DataFrames")
    if not 0 < alpha < 1 or permutations < 1:
        raise InvalidInputError("alpha must be between 0 and 1 and permutations at least 1")
    shared = [c for c in reference.columns if c in set(current.columns)]
    names = shared if columns is None else list(columns)
    missing = [c for c in names if c not in shared]
    if missing or not names:
        raise InvalidInputError(
            f"the domain classifier needs columns present in both tables; "
            f"{'missing: ' + ', '.join(map(str, missing)) if missing else 'none are shared'}"
        )
    rows = min(len(reference), len(current), max_rows)
    if rows < 20:
        raise InvalidInputError(
            f"the domain classifier needs at least 20 rows in each table; got {rows}"
        )
    rng = np.random.default_rng(seed)
    ref = reference.iloc[np.sort(rng.choice(len(reference), rows, replace=False))]
    cur = current.iloc[np.sort(rng.choice(len(current), rows, replace=False))]
    x, categorical = _features(ref, cur, [str(c) for c in names])
    y = np.concatenate((np.zeros(rows, np.int64), np.ones(rows, np.int64)))
    order = rng.permutation(2 * rows)
    train, held = order[:rows], order[rows:]
    model = HistGradientBoostingClassifier(
        max_iter=100, categorical_features=np.asarray(categorical), random_state=seed
    )
    model.fit(x[train], y[train])
    scores = model.predict_proba(x[held])[:, 1]
    labels = y[held]
    ranks = rankdata(scores)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:  # cannot happen with balanced halves of 20+
        raise InvalidInputError("the held-out half holds one table only; pass more rows")

    def auc(positive_ranks: FloatArray) -> FloatArray:
        result: FloatArray = (positive_ranks - positives * (positives + 1) / 2) / (
            positives * negatives
        )
        return result

    observed = roc_auc(scores, labels)
    null_sums = np.array(
        [ranks[rng.permutation(labels.size)[:positives]].sum() for _ in range(permutations)]
    )
    null = auc(null_sums)
    p_value = (1 + int(np.count_nonzero(null >= observed))) / (1 + permutations)
    return DomainDrift(
        columns=[str(c) for c in names],
        rows_per_side=rows,
        roc_auc=observed,
        threshold=float(np.quantile(null, 1 - alpha)),
        p_value=p_value,
        alpha=alpha,
        drift_detected=p_value < alpha,
    )
