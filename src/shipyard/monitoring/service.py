"""Monitors: create, change and run them, and read what they measured.

A run reads the monitor's window from the prediction log (shadow copies left out), the
reference it is compared with (see :mod:`shipyard.monitoring.spec`), runs each check
(:mod:`shipyard.monitoring.checks`) and stores every number as a row of
``monitor_results``: a time series per monitor, metric and column. A check that fails
is stored as an ``error`` result and the others still run; an empty window gives
``no_data`` results, never an exception.

``shipyard server`` calls :meth:`MonitorService.run_due` every
``SHIPYARD_MONITOR_PERIOD_S``. Each due monitor is claimed first (its ``last_run_at``
moved in one conditional update), so two servers never run the same round twice.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import delete, select, update

from shipyard.config import Settings
from shipyard.endpoints import Endpoints
from shipyard.endpoints.service import endpoint_row
from shipyard.errors import ConflictError, InvalidInputError, MonitorNotFoundError, ShipyardError
from shipyard.monitoring import checks
from shipyard.monitoring.checks import Measure
from shipyard.monitoring.spec import (
    Monitor,
    MonitorResult,
    MonitorRun,
    parse_checks,
    parse_concept_options,
    parse_drift_options,
    parse_performance_options,
    parse_reference,
    parse_seconds,
    parse_thresholds,
    parse_window,
)
from shipyard.monitoring.windows import LogWindows, Reference, inputs_of
from shipyard.predictions.feedback import join_feedback, read_feedback
from shipyard.protection.keys import Keyring
from shipyard.protection.store import read_book
from shipyard.registry import Registry
from shipyard.registry import rows as records
from shipyard.registry.convert import jsonable
from shipyard.registry.names import validate_model_name
from shipyard.registry.types import ModelVersion
from shipyard.reports.data import ReportData, ReportWindow, TrendPoint, column_histograms
from shipyard.schema import Signature
from shipyard.stats.drift import drift_report
from shipyard.store.tables import MonitorResultRow, MonitorRow, utcnow

log = logging.getLogger("shipyard.monitors")
Monitors = list[Monitor]
Results = list[MonitorResult]
Runs = list[MonitorRun]
Measures = list[Measure]


def record(row: MonitorRow) -> Monitor:
    return Monitor.model_validate(
        {c.key: getattr(row, c.key) for c in MonitorRow.__table__.columns}
    )


def _name(name: str) -> str:
    try:
        return validate_model_name(name)
    except InvalidInputError as exc:
        raise type(exc)(exc.message.replace("model name", "monitor name")) from None


def _aware(now: datetime | None) -> datetime:
    now = now or utcnow()
    if now.tzinfo is None:
        raise InvalidInputError("now must be a timezone-aware time, e.g. datetime.now(UTC)")
    return now


class MonitorService:
    """Monitors on the store ``registry`` uses, reading the prediction log under
    ``predictions`` and the feedback under ``feedback``."""

    def __init__(self, registry: Registry, predictions: Path, feedback: Path) -> None:
        self.registry = registry
        self.db = registry.db
        self.predictions = Path(predictions)
        self.feedback = Path(feedback)
        self.log = LogWindows(registry, self.predictions)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> MonitorService:
        settings = settings or Settings()
        return cls(Registry.from_settings(settings), settings.predictions, settings.feedback)

    def _actor(self, actor: str | None) -> str:
        return self.registry._actor(actor)

    # -- definitions ---------------------------------------------------------------------

    def _target(self, endpoint: str | None, model: str | None) -> tuple[str, str]:
        if (endpoint is None) == (model is None):
            raise InvalidInputError(
                "target: give the endpoint (--endpoint NAME) or the model (--model NAME) "
                "to monitor, one of them"
            )
        if endpoint is not None:
            with self.db.session() as s:
                endpoint_row(s, endpoint)
            return "endpoint", endpoint
        assert model is not None
        self.registry.get_model(model)
        return "model", model

    def _inputs_of(self, target_kind: str, target: str) -> set[str]:
        """The input columns of the versions the target serves (an endpoint's current
        revision, or every version of a model); empty when none is known."""
        if target_kind == "model":
            versions = self.registry.list_versions(target, limit=1000)
        else:
            registry = self.registry
            endpoints = Endpoints(registry.db, registry.artifacts, registry.settings)
            served = endpoints.get_endpoint(target).current.policy.models
            versions = [registry.resolve(uri) for uri in served]
        return {name for v in versions for name in v.signature.names}

    def _check_segment(self, target_kind: str, target: str, options: Mapping[str, Any]) -> None:
        column = options.get("segment_by")
        if column is None:
            return
        known = self._inputs_of(target_kind, target)
        if known and column not in known:
            raise InvalidInputError(
                f"segment_by {column!r} is not an input column of {target_kind} {target!r}; "
                f"choose one of {', '.join(sorted(known))}"
            )

    def create(
        self,
        name: str,
        *,
        endpoint: str | None = None,
        model: str | None = None,
        checks: Sequence[str] | None = None,
        window: str | float | None = None,
        rows: int | None = None,
        reference: str | Mapping[str, Any] | None = None,
        every: str | float = "15m",
        thresholds: Mapping[str, Any] | None = None,
        drift: Mapping[str, Any] | None = None,
        performance: Mapping[str, Any] | None = None,
        concept: Mapping[str, Any] | None = None,
        enabled: bool = True,
        actor: str | None = None,
    ) -> Monitor:
        """A new monitor of ``endpoint`` or ``model`` (see :mod:`shipyard.monitoring.spec`
        for windows and references, :mod:`shipyard.monitoring.checks` for checks and
        threshold keys; ``drift``: options of the drift tests, e.g. ``{"mode":
        "calibrated"}``; ``performance``: ``{"segment_by": COLUMN, "bins": 4}``; ``concept``:
        the online detector of the ``concept_drift`` check, e.g. ``{"detector": "ddm"}``)."""
        _name(name)
        values: dict[str, Any] = {
            "checks": parse_checks(checks),
            "window": parse_window(window, rows),
            "reference": parse_reference(reference),
            "schedule_s": parse_seconds(every, "every"),
            "options": {
                "thresholds": parse_thresholds(thresholds),
                "drift": parse_drift_options(drift),
                "performance": parse_performance_options(performance),
                "concept": parse_concept_options(concept),
            },
            "enabled": bool(enabled),
        }
        target_kind, target = self._target(endpoint, model)
        self._check_segment(target_kind, target, values["options"]["performance"])
        who = self._actor(actor)
        with self.db.session(write=True) as s:
            if s.scalars(select(MonitorRow.id).where(MonitorRow.name == name)).first():
                raise ConflictError(
                    f"monitor {name!r} exists; change it with: shipyard monitor update {name}, "
                    "or choose another name"
                )
            now = utcnow()
            row = MonitorRow(
                name=name,
                target_kind=target_kind,
                target=target,
                last_run_at=None,
                created_by=who,
                created_at=now,
                updated_at=now,
                **values,
            )
            s.add(row)
            s.flush()
            after = values | {"target": f"{target_kind}:{target}"}
            records.add_event(s, who, "monitor.create", "monitor", name, None, after)
            return record(row)

    def _row(self, s: Any, name: str, *, lock: bool = False) -> MonitorRow:
        query = select(MonitorRow).where(MonitorRow.name == name)
        found = s.scalars(query.with_for_update() if lock else query).first()
        if found is None:
            raise MonitorNotFoundError(
                f"no monitor named {name!r}; list them with: shipyard monitor list"
            )
        assert isinstance(found, MonitorRow)
        return found

    def get(self, name: str) -> Monitor:
        with self.db.session() as s:
            return record(self._row(s, name))

    def list(self) -> Monitors:
        """Every monitor, by name."""
        with self.db.session() as s:
            return [record(r) for r in s.scalars(select(MonitorRow).order_by(MonitorRow.name))]

    def update(
        self,
        name: str,
        *,
        checks: Sequence[str] | None = None,
        window: str | float | None = None,
        rows: int | None = None,
        reference: str | Mapping[str, Any] | None = None,
        every: str | float | None = None,
        thresholds: Mapping[str, Any] | None = None,
        drift: Mapping[str, Any] | None = None,
        performance: Mapping[str, Any] | None = None,
        concept: Mapping[str, Any] | None = None,
        enabled: bool | None = None,
        actor: str | None = None,
    ) -> Monitor:
        """Change what is given; ``thresholds``, ``drift`` and ``performance`` are merged
        into the monitor's (a key set to ``None`` returns to its default); ``concept``
        replaces the detector (its state starts afresh)."""
        changes: dict[str, Any] = {}
        if checks is not None:
            changes["checks"] = parse_checks(checks)
        if window is not None or rows is not None:
            changes["window"] = parse_window(window, rows)
        if reference is not None:
            changes["reference"] = parse_reference(reference)
        if every is not None:
            changes["schedule_s"] = parse_seconds(every, "every")
        if enabled is not None:
            changes["enabled"] = bool(enabled)
        who = self._actor(actor)
        with self.db.session(write=True) as s:
            row = self._row(s, name, lock=True)
            if any(o is not None for o in (thresholds, drift, performance, concept)):

                def merged(key: str, given: Mapping[str, Any] | None) -> dict[str, Any]:
                    both = dict(row.options.get(key, {})) | dict(given or {})
                    return {k: v for k, v in both.items() if v is not None}

                changes["options"] = {
                    "thresholds": parse_thresholds(merged("thresholds", thresholds)),
                    "drift": parse_drift_options(merged("drift", drift)),
                    "performance": parse_performance_options(merged("performance", performance)),
                    "concept": parse_concept_options(
                        row.options.get("concept") if concept is None else concept
                    ),
                }
            if "options" in changes:
                self._check_segment(row.target_kind, row.target, changes["options"]["performance"])
            before = {key: getattr(row, key) for key in changes}
            for key, value in changes.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
            records.add_event(s, who, "monitor.update", "monitor", name, before, changes)
            s.flush()
            return record(row)

    def delete(self, name: str, *, actor: str | None = None) -> Monitor:
        """Remove the monitor and its results."""
        who = self._actor(actor)
        with self.db.session(write=True) as s:
            row = self._row(s, name, lock=True)
            gone = record(row)
            s.execute(delete(MonitorResultRow).where(MonitorResultRow.monitor_id == row.id))
            s.delete(row)
            records.add_event(s, who, "monitor.delete", "monitor", name, gone.to_dict(), None)
            return gone

    # -- results -------------------------------------------------------------------------

    def results(
        self,
        name: str,
        *,
        since: datetime | None = None,
        metric: str | None = None,
        check: str | None = None,
        limit: int | None = None,
    ) -> Results:
        """The monitor's results, oldest first (at most the latest ``limit``)."""
        with self.db.session() as s:
            row = self._row(s, name)
            query = select(MonitorResultRow).where(MonitorResultRow.monitor_id == row.id)
            if since is not None:
                query = query.where(MonitorResultRow.at >= _aware(since))
            if metric is not None:
                query = query.where(MonitorResultRow.metric == metric)
            if check is not None:
                query = query.where(MonitorResultRow.check == check)
            query = query.order_by(MonitorResultRow.at.desc(), MonitorResultRow.id.desc())
            if limit is not None:
                query = query.limit(limit)
            found = [_result(name, r) for r in s.scalars(query)]
        return found[::-1]

    def report_data(self, name: str, now: datetime | None = None) -> ReportData:
        """What ``shipyard monitor report`` renders: the current window against the
        monitor's reference (drift per column, histograms on shared bins, never the raw
        rows) and every stored result as trends over windows."""
        monitor = self.get(name)
        now = now or utcnow()
        window, start, before = self.log.windows(monitor, now)
        ref, _ = self.log.reference(monitor, window, before)
        current = inputs_of(window)
        reference = ref.inputs
        shared = (
            [] if reference is None else [c for c in current.columns if c in set(reference.columns)]
        )
        drift = histograms = None
        if shared and reference is not None and len(current) and len(reference):
            options = dict(monitor.options.get("drift", {}))
            share = monitor.threshold("drift_share") or 0.5
            drift = drift_report(reference[shared], current[shared], drift_share=share, **options)
            histograms = column_histograms(reference[shared], current[shared])
        trends = [
            TrendPoint(
                metric=r.metric,
                column=r.column,
                window_start=r.window_start or r.window_end,
                window_end=r.window_end,
                value=r.value,
                threshold=r.threshold,
                status=r.status,
            )
            for r in self.results(name)
        ]
        return ReportData(
            title=f"Monitor {monitor.name}",
            target=f"{monitor.target_kind} {monitor.target}",
            window=None if start is None else ReportWindow(start=start, end=now),
            reference_rows=None if reference is None else len(reference),
            current_rows=len(current),
            drift=drift,
            histograms=histograms or [],
            trends=trends,
        )

    # -- running -------------------------------------------------------------------------

    def due(self, now: datetime | None = None) -> Monitors:
        """Enabled monitors never run, or last run at least their schedule ago."""
        now = _aware(now)
        return [
            m
            for m in self.list()
            if m.enabled
            and (m.last_run_at is None or m.last_run_at + timedelta(seconds=m.schedule_s) <= now)
        ]

    def run_due(self, now: datetime | None = None) -> Runs:
        """Run every due monitor once (claimed first, so concurrent schedulers split them);
        a monitor whose run fails is logged and the others go on."""
        now = _aware(now)
        done = []
        for monitor in self.due(now):
            if not self._claim(monitor, now):
                continue
            try:
                done.append(self._run(monitor, now))
            except ShipyardError as exc:
                log.error("monitor %r could not run: %s", monitor.name, exc)
        return done

    def _claim(self, monitor: Monitor, now: datetime) -> bool:
        with self.db.session(write=True) as s:
            seen = MonitorRow.last_run_at
            condition = (
                seen.is_(None) if monitor.last_run_at is None else seen == monitor.last_run_at
            )
            claimed = s.execute(
                update(MonitorRow)
                .where(MonitorRow.id == monitor.id, condition)
                .values(last_run_at=now)
            )
            return bool(getattr(claimed, "rowcount", 0))

    def run(self, name: str, now: datetime | None = None) -> MonitorRun:
        """Run the monitor now (enabled or not) and store its results."""
        return self._run(self.get(name), _aware(now))

    def run_forever(
        self,
        stop: threading.Event,
        period_s: float = 30.0,
        on_run: Callable[[Runs], None] | None = None,
    ) -> None:
        """Run due monitors every ``period_s`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                ran = self.run_due()
                if on_run is not None:
                    on_run(ran)
            except Exception:
                log.exception("monitors: a round failed; trying again in %ss", period_s)
            stop.wait(period_s)

    def _run(self, monitor: Monitor, now: datetime) -> MonitorRun:
        window, start, before = self.log.windows(monitor, now)
        ref, version = self.log.reference(monitor, window, before)
        current = inputs_of(window)
        measures: Measures = []
        carry: dict[str, Any] = {}
        for check in monitor.checks:
            try:
                measures += self._check(monitor, check, window, current, ref, version, carry)
            except ShipyardError as exc:
                measures.append(
                    Measure(check, "error", None, None, None, "error", {"error": str(exc)})
                )
            except Exception as exc:  # a check must not stop the others
                log.exception("monitor %r: check %s failed", monitor.name, check)
                text = f"{type(exc).__name__}: {exc}"
                measures.append(Measure(check, "error", None, None, None, "error", {"error": text}))
        run_id = uuid.uuid4().hex
        with self.db.session(write=True) as s:
            row = self._row(s, monitor.name, lock=True)
            stored = [
                MonitorResultRow(
                    monitor_id=row.id,
                    run_id=run_id,
                    at=now,
                    window_start=start,
                    window_end=now,
                    check=m.check,
                    metric=m.metric,
                    column=m.column,
                    value=m.value,
                    threshold=m.threshold,
                    status=m.status,
                    detail=jsonable(m.detail),
                )
                for m in measures
            ]
            s.add_all(stored)
            if row.last_run_at is None or row.last_run_at < now:
                row.last_run_at = now
            if carry:
                # A run that raced another one keeps the state that one saved: the labels
                # it read are not read twice.
                started = (monitor.state or {}).get("concept")
                if (row.state or {}).get("concept") == started:
                    row.state = {**(row.state or {}), **carry}
            s.flush()
            results = [_result(monitor.name, r) for r in stored]
        return MonitorRun(
            monitor=monitor.name,
            run_id=run_id,
            at=now,
            window_start=start,
            window_end=now,
            rows=len(window),
            reference=ref.detail,
            results=results,
        )

    def _unprotected(self, version: ModelVersion, monitor: Monitor) -> Signature:
        """The version's signature without the columns a column policy protects: the
        log holds them dropped, hashed, encrypted or masked, not as the signature says."""
        endpoint = monitor.target if monitor.target_kind == "endpoint" else None
        protected = read_book(self.registry.db, Keyring()).effective(version.name, endpoint)
        inputs = [spec for spec in version.signature.inputs if spec.name not in protected]
        return version.signature.model_copy(update={"inputs": inputs})

    def _check(
        self,
        monitor: Monitor,
        check: str,
        window: pd.DataFrame,
        current: pd.DataFrame,
        ref: Reference,
        version: ModelVersion | None,
        carry: dict[str, Any],
    ) -> Measures:
        """The check's results; what it carries over to the next run goes in ``carry``."""
        if check == "operations":
            return checks.operations(monitor, window)
        if check == "data_drift":
            return checks.data_drift(monitor, current, ref.inputs, ref.why)
        if check == "prediction_drift":
            predictions = window["prediction"] if "prediction" in window else None
            return checks.prediction_drift(monitor, predictions, ref.predictions, ref.why)
        if check == "data_quality":
            signature = None if version is None else self._unprotected(version, monitor)
            return checks.quality(monitor, current, ref.profile, signature, ref.why)
        labelled = [window]
        if check == "target_drift" and ref.frame is not None and not ref.frame.empty:
            labelled.append(ref.frame)
        keys = pd.concat([f[["request_id", "row"]] for f in labelled], ignore_index=True)
        labels = read_feedback(self.feedback, keys=keys)
        columns = ("label", "received_at") if check == "concept_drift" else ("label",)
        joined = join_feedback(window, labels, columns=columns) if not window.empty else window
        if check == "target_drift":
            reference = ref.targets
            if reference is None and ref.frame is not None and not ref.frame.empty:
                before = join_feedback(ref.frame, labels)
                reference = before["label"] if "label" in before else None
            current_labels = joined["label"] if "label" in joined else None
            why = ref.why
            if ref.kind == "training" and ref.inputs is not None:
                why = (
                    "the version's reference sample has no target; register it with its "
                    "target (target= or --target-column), or use --reference previous"
                )
            return checks.target_drift(monitor, current_labels, reference, why)
        task = classes = None
        if version is not None and version.signature.output is not None:
            output = version.signature.output
            task = "classification" if output.kind == "class_labels" else "regression"
            if output.kind not in ("class_labels", "regression_value"):
                task = None
            classes = output.classes
        if check == "concept_drift":
            saved = (monitor.state or {}).get("concept")
            measures, carry["concept"] = checks.concept_drift(monitor, joined, task, classes, saved)
            return measures
        return checks.performance(monitor, joined, task, classes)


def _result(name: str, row: MonitorResultRow) -> MonitorResult:
    return MonitorResult(
        monitor=name,
        run_id=row.run_id,
        at=row.at,
        window_start=row.window_start,
        window_end=row.window_end,
        check=row.check,  # type: ignore[arg-type]
        metric=row.metric,
        column=row.column,
        value=row.value,
        threshold=row.threshold,
        status=row.status,  # type: ignore[arg-type]
        detail=row.detail,
    )
