"""A/B analysis of an endpoint's variants, from the prediction log and feedback.

Rows counted: those of requests that came through the endpoint, in the window, that a
variant answered itself. Shadow copies are left out (they answered nobody); answers of a
fallback are left out of every metric and counted apart, per variant.

Per variant: requests, rows, errors (a request whose model failed), latency percentiles
(per request), and, where feedback labels the rows: accuracy (classifiers), MAE and RMSE
(regressors), and conversion, the share of positive labels, when every label is 0 or 1.

Each challenger is compared with the control (the first variant of the current
revision's policy unless named): error rate, accuracy and conversion by the
two-proportion z-test, latency (per request) and MAE (per row's absolute error) by
Welch's t-test (:mod:`shipyard.stats.ab`). A winner is declared only when the difference
is significant at ``alpha``; otherwise the report says how many more samples per variant
a difference of the observed size would need.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from shipyard.endpoints.abcompare import MetricComparison, compare_variants
from shipyard.endpoints.service import Endpoints
from shipyard.errors import InvalidInputError, NotFoundError
from shipyard.predictions import join_feedback, read_feedback, read_predictions

Task = Literal["classification", "regression"]


class VariantStats(BaseModel):
    """One variant's figures over the window."""

    name: str
    versions: list[str]
    """The model versions that answered as this variant (``NAME/N``)."""
    requests: int
    """Requests the variant answered or failed (fallback answers not included)."""
    rows: int
    errors: int
    error_rate: float | None
    fallbacks: int
    """Requests a fallback answered instead: counted here, left out of every metric."""
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    labelled: int
    """Answered rows with a feedback label."""
    accuracy: float | None = None
    mae: float | None = None
    rmse: float | None = None
    conversion: float | None = None


class ABReport(BaseModel):
    """The A/B analysis of one endpoint (``to_dict()`` for JSON)."""

    endpoint: str
    revision: int
    """The endpoint's current revision."""
    revisions: list[int]
    """The revisions the analysed rows came through."""
    start: datetime | None
    end: datetime | None
    alpha: float
    power: float
    control: str
    task: Task | None
    """How predictions are scored against labels (``None``: no labels, or outputs that
    are not one value per row)."""
    variants: list[VariantStats]
    comparisons: list[MetricComparison]
    shadow_rows: int
    """Rows of shadow copies in the window, left out."""
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return self.model_dump(mode="json")


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def window(
    since: str | None, start: datetime | None, end: datetime | None, now: datetime | None = None
) -> tuple[datetime | None, datetime | None]:
    """The ``[start, end)`` to read: ``since`` (``30m``, ``1h``, ``7d`` …) back from now,
    or ``start``/``end``; naive datetimes are taken as UTC."""
    if since is not None and start is not None:
        raise InvalidInputError("give either --since or --start, not both")
    if since is not None:
        found = _DURATION.match(since)
        if found is None:
            raise InvalidInputError(
                f"--since {since!r} is not a duration; use a number and s, m, h, d or w, e.g. 1h"
            )
        seconds = float(found.group(1)) * _SECONDS[found.group(2)]
        start = (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    start, end = (t if t is None or t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end))
    if start is not None and end is not None and start >= end:
        raise InvalidInputError("the window's start must come before its end")
    return start, end


def ab_report(
    endpoints: Endpoints,
    name: str,
    *,
    control: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    task: Task | None = None,
    revisions: Sequence[int] | None = None,
) -> ABReport:
    """The A/B report of endpoint ``name`` from the prediction log and feedback the
    endpoints' settings name (of every revision in the window, or only ``revisions``)."""
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise InvalidInputError("alpha and power must be between 0 and 1, e.g. --alpha 0.05")
    endpoint = endpoints.get_endpoint(name)
    settings = endpoints.settings
    logged = read_predictions(settings.predictions, endpoint=name, start=start, end=end)
    if len(logged):
        logged = join_feedback(
            logged, read_feedback(settings.feedback, keys=logged[["request_id", "row"]])
        )
    return report_from_log(
        logged,
        endpoint=name,
        revision=endpoint.current.revision,
        policy_variants=[v.name for v in endpoint.current.policy.variants],
        control=control,
        start=start,
        end=end,
        alpha=alpha,
        power=power,
        task=task,
        revisions=revisions,
    )


def report_from_log(
    logged: pd.DataFrame,
    *,
    endpoint: str,
    revision: int,
    policy_variants: list[str],
    control: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    task: Task | None = None,
    revisions: Sequence[int] | None = None,
) -> ABReport:
    """The report from an endpoint's logged rows (with a ``label`` column if any feedback
    was joined), of every revision or only ``revisions``; the control defaults to
    ``policy_variants[0]``."""
    own = logged[~logged["shadow"].astype(bool)] if len(logged) else logged
    if revisions and len(own):
        own = own[own["revision"].isin(list(revisions))]
    if not len(own):
        which = f" at revision(s) {', '.join(map(str, revisions))}" if revisions else ""
        raise NotFoundError(
            f"endpoint {endpoint!r} has no logged predictions{which}{_describe(start, end)}; "
            "send it traffic (with the prediction log on), or widen the window with --since, "
            "--start, --end or --revision"
        )
    present = set(own["variant"].dropna())
    order = [v for v in policy_variants if v in present] + sorted(present - set(policy_variants))
    chosen = control or policy_variants[0]
    if chosen not in present:
        how = "" if control else f" (the first variant of revision {revision}'s policy)"
        raise InvalidInputError(
            f"control variant {chosen!r}{how} has no logged predictions{_describe(start, end)}; "
            f"the variants that do are {', '.join(order)}: name one with --control"
        )
    notes: list[str] = []
    answered = own[~own["fallback"].astype(bool)]
    labelled = _labelled(answered)
    if task is None:
        task = _task(answered, labelled, notes)
    binary = bool(len(labelled)) and _binary(labelled["label"])
    variants: list[VariantStats] = []
    samples: dict[str, dict[str, np.ndarray[Any, Any]]] = {}
    for name in order:
        stats, samples[name] = _variant(own, name, task, binary)
        variants.append(stats)
    if len(order) == 1:
        notes.append(f"only {chosen!r} answered in this window: there is nothing to compare")
    comparisons = [
        comparison
        for name in order
        if name != chosen
        for comparison in compare_variants(chosen, name, samples, alpha, power)
    ]
    return ABReport(
        endpoint=endpoint,
        revision=revision,
        revisions=sorted(int(r) for r in own["revision"].dropna().unique()),
        start=start,
        end=end,
        alpha=alpha,
        power=power,
        control=chosen,
        task=task if len(labelled) else None,
        variants=variants,
        comparisons=comparisons,
        shadow_rows=int(len(logged) - len(own)),
        notes=notes,
    )


def _describe(start: datetime | None, end: datetime | None) -> str:
    if start is None and end is None:
        return ""
    parts = ([f"from {start:%Y-%m-%d %H:%M:%S}"] if start else []) + (
        [f"until {end:%Y-%m-%d %H:%M:%S} UTC"] if end else []
    )
    return " " + " ".join(parts) + ("" if end else " UTC")


def _labelled(answered: pd.DataFrame) -> pd.DataFrame:
    if "label" not in answered:
        return answered.iloc[0:0]
    mask = answered["label"].notna() & answered["prediction"].notna() & answered["error"].isna()
    return answered[mask]


def _scalar(value: Any) -> bool:
    return not isinstance(value, list | tuple | np.ndarray | dict)


def _task(answered: pd.DataFrame, labelled: pd.DataFrame, notes: list[str]) -> Task | None:
    """Classification when the model gave probabilities, or labels that are text or whole
    numbers; regression when it gave other numbers."""
    if not len(labelled):
        return None
    predictions = labelled["prediction"]
    if not predictions.map(_scalar).all():
        notes.append("predictions are not one value per row: they are not scored")
        return None
    if "probabilities" in answered and answered["probabilities"].notna().any():
        return "classification"
    numbers = pd.to_numeric(predictions, errors="coerce")
    if numbers.isna().any() or bool((numbers % 1 == 0).all()):
        return "classification"
    return "regression"


def _binary(labels: pd.Series) -> bool:
    values = labels.map(lambda v: int(v) if isinstance(v, bool) else v)
    numbers = pd.to_numeric(values, errors="coerce")
    return bool(numbers.notna().all() and numbers.isin([0, 1]).all())


def _correct(predictions: pd.Series, labels: pd.Series) -> np.ndarray[Any, Any]:
    """Per row, whether the prediction equals the label: as numbers when both are, else
    as text (so a label read from CSV as ``1`` matches a prediction ``1.0``)."""
    p = pd.to_numeric(predictions, errors="coerce")
    y = pd.to_numeric(labels, errors="coerce")
    numeric = (p.notna() & y.notna()).to_numpy()
    as_text = predictions.astype(str).to_numpy() == labels.astype(str).to_numpy()
    same: np.ndarray[Any, Any] = np.where(numeric, p.to_numpy() == y.to_numpy(), as_text)
    return same


def _variant(
    own: pd.DataFrame, name: str, task: Task | None, binary: bool
) -> tuple[VariantStats, dict[str, np.ndarray[Any, Any]]]:
    """One variant's figures, and its samples for the tests."""
    mine = own[own["variant"] == name]
    fallback = mine["fallback"].astype(bool)
    answered = mine[~fallback]
    requests = answered.drop_duplicates("request_id")
    latency = requests["latency_ms"].to_numpy(dtype=np.float64)
    failed = requests["error"].notna().to_numpy()
    versions = sorted({f"{m}/{v}" for m, v in zip(mine["model"], mine["version"], strict=True)})
    p50, p95, p99 = np.percentile(latency, [50, 95, 99]) if len(latency) else (None,) * 3
    stats = VariantStats(
        name=name,
        versions=versions,
        requests=len(requests),
        rows=len(answered),
        errors=int(failed.sum()),
        error_rate=float(failed.mean()) if len(failed) else None,
        fallbacks=int(mine.loc[fallback, "request_id"].nunique()),
        latency_p50_ms=None if p50 is None else float(p50),
        latency_p95_ms=None if p95 is None else float(p95),
        latency_p99_ms=None if p99 is None else float(p99),
        labelled=0,
    )
    samples: dict[str, np.ndarray[Any, Any]] = {"latency": latency, "errors": failed}
    labelled = _labelled(answered)
    if task == "regression":
        truth = pd.to_numeric(labelled["label"], errors="coerce")
        guess = pd.to_numeric(labelled["prediction"], errors="coerce")
        usable = (truth.notna() & guess.notna()).to_numpy()
        errors = np.abs(guess.to_numpy(dtype=np.float64) - truth.to_numpy(dtype=np.float64))
        samples["absolute error"] = errors = errors[usable]
        labelled = labelled[usable]
        if len(errors):
            stats.mae = float(errors.mean())
            stats.rmse = math.sqrt(float((errors**2).mean()))
    elif task == "classification":
        samples["correct"] = correct = _correct(labelled["prediction"], labelled["label"])
        if len(correct):
            stats.accuracy = float(correct.mean())
    if binary and task is not None:
        labels = pd.to_numeric(labelled["label"].astype(float), errors="coerce")
        samples["positive"] = positive = (labels == 1).to_numpy()
        if len(positive):
            stats.conversion = float(positive.mean())
    stats.labelled = len(labelled) if task is not None else 0
    return stats, samples
