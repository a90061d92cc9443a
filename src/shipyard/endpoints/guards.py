"""Rollout guards: conditions a new version must keep to, read off the prediction log.

A guard is ``METRIC OP NUMBER``, e.g. ``error_rate<0.01``, ``p99_latency_ms<50`` or
``agreement>0.9``. Metrics:

- ``error_rate``: the share of the new version's logged rows that carry an error;
- ``pNN_latency_ms`` (``p50``, ``p90``, ``p95``, ``p99``, ``p999``): a latency quantile
  of the new version's requests;
- ``agreement``: for classifiers, the share of rows both versions answered (the same
  request id and row, e.g. through a shadow) on which their predictions are equal;
- ``prediction_drift``: how far the new version's predictions are, as a distribution,
  from the current version's over the same window (between 0, the same, and 1): for
  labels (text, or at most 20 distinct whole numbers), the Jensen-Shannon distance
  (base 2) of their frequencies; for values, the two-sample Kolmogorov-Smirnov statistic.

Guards read prediction-log frames (as :func:`shipyard.predictions.read_predictions`
returns them), so the same guards can judge online and batch traffic. With fewer than
``min_rows`` rows to judge, a guard has no verdict yet: the step waits.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import ks_2samp

from shipyard.errors import InvalidInputError

_GUARD = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=|<|>)\s*([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*$")
_QUANTILES = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p999": 0.999}
METRICS = (
    "error_rate",
    *(f"{q}_latency_ms" for q in _QUANTILES),
    "agreement",
    "prediction_drift",
)
_SHARES = ("error_rate", "agreement", "prediction_drift")
#: At most this many distinct whole-number predictions are labels, not values.
_MAX_LABELS = 20

Verdict = Literal["pass", "breach", "wait"]


@dataclass(frozen=True)
class Guard:
    """One condition: ``metric op threshold``."""

    metric: str
    op: str
    threshold: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.threshold:g}"

    @classmethod
    def parse(cls, text: str) -> Guard:
        """``"error_rate<0.01"`` -> a guard, or an error saying what is accepted."""
        match = _GUARD.match(text)
        if match is None:
            raise InvalidInputError(
                f"guard {text!r} is not METRIC<NUMBER (or <=, >, >=), e.g. error_rate<0.01"
            )
        metric, op, number = match.groups()
        if metric not in METRICS:
            raise InvalidInputError(
                f"guard {text!r}: unknown metric {metric!r}; use one of {', '.join(METRICS)}"
            )
        threshold = float(number)
        if metric in _SHARES and not 0 <= threshold <= 1:
            raise InvalidInputError(f"guard {text!r}: {metric} is a share between 0 and 1")
        if metric.endswith("_latency_ms") and threshold <= 0:
            raise InvalidInputError(f"guard {text!r}: a latency limit is positive milliseconds")
        return cls(metric, op, threshold)

    def holds(self, value: float) -> bool:
        return {
            "<": value < self.threshold,
            "<=": value <= self.threshold,
            ">": value > self.threshold,
            ">=": value >= self.threshold,
        }[self.op]


@dataclass(frozen=True)
class Judgement:
    """A guard's verdict on a window of the prediction log."""

    guard: Guard
    verdict: Verdict
    value: float | None
    rows: int

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.guard}: waiting ({self.rows} rows so far)"
        return (
            f"{self.guard}: {self.verdict} ({self.guard.metric}={self.value:.4g}, {self.rows} rows)"
        )


def parse_guards(texts: list[str]) -> list[Guard]:
    """Guards from their texts; the same metric twice is refused."""
    guards = [Guard.parse(text) for text in texts]
    metrics = [g.metric for g in guards]
    twice = sorted({m for m in metrics if metrics.count(m) > 1})
    if twice:
        raise InvalidInputError(f"guard metric(s) given twice: {', '.join(twice)}")
    return guards


def measure(metric: str, new: pd.DataFrame, current: pd.DataFrame) -> tuple[float | None, int]:
    """``(value, rows judged)`` of a metric; ``None`` when nothing can be judged."""
    if metric == "error_rate":
        rows = len(new)
        return (float(new["error"].notna().mean()) if rows else None), rows
    if metric.endswith("_latency_ms"):
        if new.empty:
            return None, 0
        latencies = new.drop_duplicates("request_id")["latency_ms"].to_numpy(dtype=np.float64)
        level = _QUANTILES[metric.removesuffix("_latency_ms")]
        return float(np.quantile(latencies, level)), len(latencies)
    if metric == "agreement":
        keys = ["request_id", "row"]
        answered_new = new[new["error"].isna()][[*keys, "prediction"]]
        answered_now = current[current["error"].isna()][[*keys, "prediction"]]
        both = answered_new.merge(answered_now, on=keys, suffixes=("_new", "_now"))
        if both.empty:
            return None, 0
        same = (both["prediction_new"] == both["prediction_now"]).mean()
        return float(same), len(both)
    if metric == "prediction_drift":
        ours, theirs = _answered(new), _answered(current)
        rows = min(len(ours), len(theirs))
        return (prediction_drift(ours, theirs) if rows else None), rows
    raise InvalidInputError(f"unknown guard metric {metric!r}; use one of {', '.join(METRICS)}")


def _answered(frame: pd.DataFrame) -> pd.Series:
    """The predictions a version gave itself (no errors, no fallback's answers)."""
    kept = frame["error"].isna()
    if "fallback" in frame:
        kept &= ~frame["fallback"].astype(bool)
    return frame.loc[kept, "prediction"].dropna()


def prediction_drift(new: pd.Series, current: pd.Series) -> float:
    """The distance between two samples of predictions (see the module documentation)."""
    a, b = np.asarray(new.to_list()), np.asarray(current.to_list())
    numeric = a.dtype.kind in "iuf" and b.dtype.kind in "iuf"
    if numeric:
        values = np.concatenate([a, b]).astype(np.float64)
        whole = bool(np.all(np.mod(values, 1) == 0))
        if not whole or len(np.unique(values)) > _MAX_LABELS:
            return float(ks_2samp(a.astype(np.float64), b.astype(np.float64)).statistic)
    labels = sorted({str(v) for v in a.tolist()} | {str(v) for v in b.tolist()})
    ours = pd.Series([str(v) for v in a.tolist()]).value_counts().reindex(labels, fill_value=0)
    theirs = pd.Series([str(v) for v in b.tolist()]).value_counts().reindex(labels, fill_value=0)
    distance = jensenshannon(ours.to_numpy(float), theirs.to_numpy(float), base=2)
    return float(distance)


def judge(
    guards: list[Guard], new: pd.DataFrame, current: pd.DataFrame, *, min_rows: int = 50
) -> list[Judgement]:
    """Each guard's verdict on the new version's rows (``new``) and, for agreement, the
    current version's rows of the same requests (``current``)."""
    out = []
    for guard in guards:
        value, rows = measure(guard.metric, new, current)
        if value is None or rows < min_rows or math.isnan(value):
            out.append(Judgement(guard, "wait", None if rows < min_rows else value, rows))
            continue
        out.append(Judgement(guard, "pass" if guard.holds(value) else "breach", value, rows))
    return out
