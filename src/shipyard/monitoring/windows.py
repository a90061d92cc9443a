"""A monitor's window and reference, read from the prediction log and the registry.

The window is the monitor's last stretch of time or last rows before the run, shadow
copies left out; the reference is the serving version's stored reference sample and
profile (``training``), the window before (``previous``) or a fixed time range.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from shipyard.monitoring.spec import Monitor
from shipyard.predictions.log import read_predictions
from shipyard.registry import Registry
from shipyard.registry.registration import REFERENCE_FILE
from shipyard.registry.types import ModelVersion
from shipyard.stats.profile import DatasetProfile, profile_frame

_INPUT = "inputs."


def inputs_of(frame: pd.DataFrame) -> pd.DataFrame:
    """The ``inputs.<column>`` columns of log rows, named by column."""
    names = [c for c in frame.columns if str(c).startswith(_INPUT)]
    chosen = frame[names].rename(columns=lambda c: str(c)[len(_INPUT) :])
    return chosen.reset_index(drop=True).dropna(axis=1, how="all")


class Reference:
    """What a window is compared with."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.inputs: pd.DataFrame | None = None
        self.predictions: pd.Series[Any] | None = None
        self.targets: pd.Series[Any] | None = None
        """The training target (a training reference's sample)."""
        self.frame: pd.DataFrame | None = None
        """The reference window's logged rows (a previous or fixed reference)."""
        self.profile: DatasetProfile | None = None
        self.why = "the reference has no rows"
        self.detail: dict[str, Any] = {"kind": kind}


class LogWindows:
    """Windows of the prediction log under ``predictions``; references from ``registry``."""

    def __init__(self, registry: Registry, predictions: Path) -> None:
        self.registry = registry
        self.predictions = Path(predictions)

    def read(
        self, monitor: Monitor, start: datetime | None, end: datetime, last: int | None = None
    ) -> pd.DataFrame:
        """The monitored rows (shadow copies left out) with ``start <= time < end``, or
        the ``last`` of them before ``end``."""
        by_endpoint = monitor.target_kind == "endpoint"
        frame = read_predictions(
            self.predictions,
            model=None if by_endpoint else monitor.target,
            endpoint=monitor.target if by_endpoint else None,
            start=start,
            end=end,
            last=last,
            shadows=False,
        )
        if frame.empty or "request_id" not in frame:
            return pd.DataFrame(columns=["request_id", "row", "time", "prediction"])
        return frame

    def windows(
        self, monitor: Monitor, now: datetime
    ) -> tuple[pd.DataFrame, datetime | None, pd.DataFrame | None]:
        """The window's rows, its start, and the previous window's rows (when the
        reference is ``previous``)."""
        previous = monitor.reference["kind"] == "previous"
        if monitor.window["kind"] == "rows":
            n = int(monitor.window["rows"])
            frame = self.read(monitor, None, now, last=2 * n if previous else n)
            window = frame.tail(n).reset_index(drop=True)
            before = frame.iloc[max(0, len(frame) - 2 * n) : len(frame) - n] if previous else None
            start = None if window.empty else window["time"].iloc[0].floor("us").to_pydatetime()
            return window, start, None if before is None else before.reset_index(drop=True)
        span = timedelta(seconds=float(monitor.window["seconds"]))
        start = now - span
        if previous:
            frame = self.read(monitor, start - span, now)
            at = pd.Timestamp(start)
            return (
                frame[frame["time"] >= at].reset_index(drop=True),
                start,
                frame[frame["time"] < at].reset_index(drop=True),
            )
        return self.read(monitor, start, now), start, None

    def _served(self, window: pd.DataFrame) -> ModelVersion | None:
        """The version that answered most of the window's rows."""
        if window.empty or "version" not in window:
            return None
        answered = window.dropna(subset=["version"])
        if answered.empty:
            return None
        counts = answered.groupby(["model", "version"]).size().sort_values(ascending=False)
        model, version = counts.index[0]
        return self.registry.get_version(str(model), int(version))

    def reference(
        self, monitor: Monitor, window: pd.DataFrame, before: pd.DataFrame | None
    ) -> tuple[Reference, ModelVersion | None]:
        spec = monitor.reference
        ref = Reference(spec["kind"])
        version = self._served(window)
        if version is not None:
            ref.detail["version"] = version.uri
        if spec["kind"] == "training":
            if version is None:
                ref.why = "no version answered in the window"
                return ref, None
            if REFERENCE_FILE not in version.artifacts:
                ref.why = (
                    f"{version.uri} has no stored reference sample; register it with "
                    "training_data= (and SHIPYARD_REFERENCE_SAMPLE_ROWS > 0), or monitor it "
                    "with --reference previous"
                )
            else:
                raw = self.registry.read_artifact(version.name, version.version, REFERENCE_FILE)
                sample = pd.read_parquet(io.BytesIO(raw))
                names = [s.name for s in version.signature.inputs if s.name in sample]
                ref.inputs = sample[names]
                if "__prediction__" in sample:
                    ref.predictions = sample["__prediction__"]
                if "__target__" in sample:
                    ref.targets = sample["__target__"]
                ref.detail["rows"] = len(sample)
            if version.profile is not None:
                ref.profile = DatasetProfile.model_validate(version.profile)
            return ref, version
        if spec["kind"] == "fixed":
            before = self.read(
                monitor, datetime.fromisoformat(spec["start"]), datetime.fromisoformat(spec["end"])
            )
            ref.detail |= {"start": spec["start"], "end": spec["end"]}
        assert before is not None
        ref.detail["rows"] = len(before)
        if before.empty:
            ref.why = f"the {spec['kind']} reference window has no predictions"
            return ref, version
        ref.inputs = inputs_of(before)
        ref.frame = before
        ref.predictions = before["prediction"] if "prediction" in before else None
        if not ref.inputs.empty:
            ref.profile = profile_frame(ref.inputs, created_from=f"{spec['kind']} window")
        return ref, version
