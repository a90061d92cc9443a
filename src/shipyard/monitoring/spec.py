"""What a monitor is and what it measured: its parsed settings, the stored record, and
each result row of a run.

A monitor watches one endpoint (its requests, shadow copies left out) or one model (all
its logged predictions, shadow copies left out). Its **window** is the last stretch of
time (``window="1h"``) or the last rows (``rows=500``) before the run. Its **reference**
is what the window is compared with:

- ``training``: the stored reference sample (and reference profile) of the version that
  answered most of the window's rows;
- ``previous``: the window just before (the hour before the hour, the 500 rows before);
- ``{"start": ..., "end": ...}``: a fixed time range of the same log.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, computed_field

from shipyard.endpoints.plan import format_duration, parse_duration
from shipyard.errors import InvalidInputError
from shipyard.stats.drift import check_options
from shipyard.stats.streaming import DETECTORS

Check = Literal[
    "data_drift",
    "prediction_drift",
    "target_drift",
    "data_quality",
    "performance",
    "concept_drift",
    "operations",
]
CHECKS: tuple[Check, ...] = get_args(Check)
Status = Literal["ok", "breach", "no_data", "error"]
#: Worst first: a run's status is its worst result's.
SEVERITY: tuple[Status, ...] = ("error", "breach", "no_data", "ok")

#: Thresholds a monitor accepts, with their defaults (``None``: measured, never breached
#: unless set) and whether a value above (``max``) or below (``min``) breaches.
THRESHOLDS: dict[str, tuple[float | None, Literal["max", "min"]]] = {
    "drift_share": (0.5, "max"),
    "missing_rate_increase": (0.05, "max"),
    "violation_rate": (0.0, "max"),
    "out_of_range_rate": (0.05, "max"),
    "unseen_rate": (0.01, "max"),
    "accuracy": (None, "min"),
    "precision": (None, "min"),
    "recall": (None, "min"),
    "f1": (None, "min"),
    "precision_macro": (None, "min"),
    "recall_macro": (None, "min"),
    "f1_macro": (None, "min"),
    "roc_auc": (None, "min"),
    "roc_auc_ovr_macro": (None, "min"),
    "log_loss": (None, "max"),
    "r2": (None, "min"),
    "mae": (None, "max"),
    "rmse": (None, "max"),
    "mape": (None, "max"),
    "concept_drift": (0.0, "max"),
    "request_count": (None, "min"),
    "error_rate": (0.05, "max"),
    "fallback_rate": (None, "max"),
    "p50_latency_ms": (None, "max"),
    "p99_latency_ms": (None, "max"),
}
#: Every metric a check stores (with ``error`` and ``rows`` for a check that failed or had
#: nothing to measure): what an alert rule may watch.
METRICS: frozenset[str] = frozenset(THRESHOLDS) - {
    "drift_share",
    "missing_rate_increase",
} | {
    "drift",
    "drifted_share",
    "prediction_drift",
    "target_drift",
    "missing_rate",
    "missing_columns",
    "labelled_rows",
    "segments",
    "concept_drift",
    "error",
    "rows",
}
#: Options passed on to :func:`shipyard.stats.drift.drift_report`.
DRIFT_OPTIONS = frozenset({"mode", "alpha", "tests", "thresholds", "permutations", "seed"})


#: Longest window or schedule a monitor takes: ten years, in seconds (a longer one
#: would overflow the times computed from it).
MAX_SECONDS = 3650 * 86400.0


def parse_seconds(value: str | float, what: str) -> float:
    """Seconds from a duration (see :func:`~shipyard.endpoints.plan.parse_duration`), at
    most :data:`MAX_SECONDS`."""
    seconds = parse_duration(value, what)
    if seconds > MAX_SECONDS:
        raise InvalidInputError(
            f"{what} {value!r} is longer than ten years; give at most {MAX_SECONDS:g} seconds"
        )
    return seconds


def parse_checks(checks: Sequence[str] | None) -> list[Check]:
    """The checks named (default: all), each once, in the order of :data:`CHECKS`."""
    if checks is None or len(checks) == 0:
        return list(CHECKS)
    if isinstance(checks, str):
        checks = [c.strip() for c in checks.split(",") if c.strip()]
    unknown = [c for c in checks if c not in CHECKS]
    if unknown:
        raise InvalidInputError(
            f"checks: unknown check(s) {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(CHECKS)}"
        )
    return [c for c in CHECKS if c in set(checks)]


def parse_window(window: str | float | None, rows: int | None) -> dict[str, Any]:
    """``{"kind": "time", "seconds": 3600.0}`` or ``{"kind": "rows", "rows": 500}``."""
    if rows is not None:
        if window is not None:
            raise InvalidInputError("give window= (a duration) or rows= (a count), not both")
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
            raise InvalidInputError(f"rows must be a positive whole number, e.g. 500; got {rows!r}")
        return {"kind": "rows", "rows": rows}
    return {"kind": "time", "seconds": parse_seconds(window or "1h", "window")}


def _time(value: Any, what: str) -> datetime:
    try:
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidInputError(
            f"reference {what} {value!r} is not a time; give ISO 8601, e.g. 2026-11-01T00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise InvalidInputError(
            f"reference {what} {value!r} has no time zone; add one, e.g. 2026-11-01T00:00Z"
        )
    return parsed


def parse_reference(reference: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"kind": "training"}``, ``{"kind": "previous"}`` or ``{"kind": "fixed", "start":
    ISO, "end": ISO}`` from ``"training"``, ``"previous"``, ``"START..END"`` or a mapping
    with ``start`` and ``end``."""
    if reference is None:
        return {"kind": "training"}
    if isinstance(reference, str):
        if reference in ("training", "previous"):
            return {"kind": reference}
        if ".." not in reference:
            raise InvalidInputError(
                f"reference {reference!r} is not one of training, previous or START..END "
                "(e.g. 2026-11-01T00:00Z..2026-11-08T00:00Z)"
            )
        first, last = reference.split("..", 1)
        reference = {"start": first, "end": last}
    if not isinstance(reference, Mapping) or set(reference) - {"kind"} != {"start", "end"}:
        raise InvalidInputError(
            "reference must be 'training', 'previous' or {'start': ..., 'end': ...}"
        )
    begins, ends = _time(reference["start"], "start"), _time(reference["end"], "end")
    if begins >= ends:
        raise InvalidInputError(f"reference start {begins} must come before its end {ends}")
    return {"kind": "fixed", "start": begins.isoformat(), "end": ends.isoformat()}


def parse_thresholds(thresholds: Mapping[str, Any] | None) -> dict[str, float]:
    """Known threshold keys (see :data:`THRESHOLDS`) with finite numbers."""
    out: dict[str, float] = {}
    for key, value in (thresholds or {}).items():
        if key not in THRESHOLDS:
            raise InvalidInputError(
                f"thresholds: unknown key {key!r}; choose from {', '.join(sorted(THRESHOLDS))}"
            )
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number):
            raise InvalidInputError(f"thresholds: {key} must be a number; got {value!r}")
        if key == "drift_share" and not 0 < number <= 1:
            raise InvalidInputError(
                f"thresholds: drift_share is a share of columns in (0, 1], e.g. 0.5; got {value!r}"
            )
        out[key] = number
    return out


def parse_drift_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    unknown = sorted(set(options or {}) - DRIFT_OPTIONS)
    if unknown:
        raise InvalidInputError(
            f"drift options: unknown key(s) {', '.join(unknown)}; choose from "
            f"{', '.join(sorted(DRIFT_OPTIONS))}"
        )
    checked = dict(options or {})
    check_options(**checked)
    return checked


def parse_performance_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"segment_by": COLUMN, "bins": N | [edges]}`` (both optional) for the
    ``performance`` check."""
    unknown = sorted(set(options or {}) - {"segment_by", "bins"})
    if unknown:
        raise InvalidInputError(
            f"performance options: unknown key(s) {', '.join(unknown)}; choose from bins, "
            "segment_by"
        )
    out = {k: v for k, v in dict(options or {}).items() if v is not None}
    if "segment_by" in out and (not isinstance(out["segment_by"], str) or not out["segment_by"]):
        raise InvalidInputError(f"segment_by must name an input column; got {out['segment_by']!r}")
    bins = out.get("bins")
    if bins is not None:
        if "segment_by" not in out:
            raise InvalidInputError("bins needs segment_by: the input column to bin")
        whole = isinstance(bins, int) and not isinstance(bins, bool)
        if whole and not 1 <= bins <= 100:
            raise InvalidInputError(f"bins must be 1 to 100 quantile bins; got {bins}")
        if not whole:
            edges = bins if isinstance(bins, list) else None
            numbers = edges is not None and all(
                isinstance(e, int | float) and not isinstance(e, bool) and math.isfinite(e)
                for e in edges
            )
            if not numbers or len(edges or []) < 2 or sorted(set(edges or [])) != edges:
                raise InvalidInputError(
                    "bins must be a number of quantile bins (e.g. 4) or a list of 2 or more "
                    f"increasing edges (e.g. [0, 18, 65, 120]); got {bins!r}"
                )
    return out


def parse_concept_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"detector": "adwin" | "page_hinkley" | "ddm", ...its parameters}`` for the
    ``concept_drift`` check (default ADWIN with its defaults); checked by building it."""
    out = dict(options or {})
    if not out:
        return {}
    key = out.get("detector", "adwin")
    if key not in DETECTORS:
        raise InvalidInputError(
            f"concept detector {key!r} is not known; choose from {', '.join(DETECTORS)}"
        )
    params = {k: v for k, v in out.items() if k != "detector"}
    try:
        DETECTORS[key](**params)
    except TypeError as exc:
        raise InvalidInputError(f"concept detector {key}: {exc}; see its parameters") from None
    return {"detector": key, **params}


def describe_window(window: Mapping[str, Any]) -> str:
    """``1h`` or ``500 rows``."""
    if window["kind"] == "rows":
        return f"{window['rows']} rows"
    return format_duration(float(window["seconds"]))


def describe_reference(reference: Mapping[str, Any]) -> str:
    if reference["kind"] == "fixed":
        return f"{reference['start']}..{reference['end']}"
    return str(reference["kind"])


class Monitor(BaseModel):
    """A monitor as stored."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    target_kind: Literal["endpoint", "model"]
    target: str
    checks: list[Check]
    window: dict[str, Any]
    """``{"kind": "time", "seconds": S}`` or ``{"kind": "rows", "rows": N}``."""
    reference: dict[str, Any]
    """``{"kind": "training" | "previous"}`` or ``{"kind": "fixed", "start", "end"}``."""
    schedule_s: float
    options: dict[str, Any]
    """``thresholds`` (by key of :data:`THRESHOLDS`), ``drift`` (drift_report options),
    ``performance`` (``segment_by`` and ``bins``) and ``concept`` (the detector)."""
    enabled: bool
    last_run_at: datetime | None
    state: dict[str, Any] | None = None
    """What runs carry over: ``concept``, the concept-drift detector's saved state, the
    ``received_at`` of the last label it read, and its counts."""
    created_by: str
    created_at: datetime
    updated_at: datetime

    def threshold(self, key: str) -> float | None:
        """The monitor's threshold ``key``, else the default."""
        found: float | None = self.options.get("thresholds", {}).get(key, THRESHOLDS[key][0])
        return found

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class MonitorResult(BaseModel):
    """One number a run measured (a point of a time series)."""

    model_config = ConfigDict(frozen=True)

    monitor: str
    run_id: str
    at: datetime
    window_start: datetime | None
    window_end: datetime
    check: Check
    metric: str
    column: str | None
    value: float | None
    threshold: float | None
    status: Status
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class MonitorRun(BaseModel):
    """One run of a monitor: its window, what it was compared with, and every result."""

    model_config = ConfigDict(frozen=True)

    monitor: str
    run_id: str
    at: datetime
    window_start: datetime | None
    window_end: datetime
    rows: int
    """Prediction-log rows in the window (shadow copies left out)."""
    reference: dict[str, Any]
    """What the window was compared with: kind, rows, and the version for ``training``."""
    results: list[MonitorResult]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> Status:
        """The worst status among the results (``no_data`` when there are none)."""
        seen = {r.status for r in self.results}
        return next((s for s in SEVERITY if s in seen), "no_data")

    @property
    def breaches(self) -> list[MonitorResult]:
        return [r for r in self.results if r.status == "breach"]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
