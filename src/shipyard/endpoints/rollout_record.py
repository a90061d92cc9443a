"""A rollout as stored and shown: its plan, state, step and the guards' last verdicts."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from shipyard.endpoints.guards import Judgement
from shipyard.store.tables import RolloutRow

RolloutState = Literal["running", "paused", "succeeded", "rolled_back", "aborted"]
#: States in which a rollout holds its endpoint (one such rollout per endpoint).
ACTIVE: tuple[RolloutState, ...] = ("running", "paused")


class Rollout(BaseModel):
    """A rollout and where it stands."""

    model_config = ConfigDict(frozen=True)

    id: int
    endpoint: str
    from_model: str
    to_model: str
    steps: list[float]
    """The new version's share of traffic at each step, percent; the last is 100."""
    interval_s: float
    guards: list[str]
    min_rows: int
    state: RolloutState
    step: int
    """Index of the current step in ``steps``."""
    step_started_at: datetime
    base_revision: int
    """The endpoint revision the rollout started from, and returns to."""
    revision: int
    """The endpoint revision the rollout set last."""
    judgements: list[dict[str, Any]]
    """The guards' last verdicts: ``guard``, ``verdict``, ``value``, ``rows``, ``text``."""
    reason: str
    """Why the rollout ended or was paused (empty while it runs)."""
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def share(self) -> float:
        """The new version's share of traffic now, percent."""
        return self.steps[self.step]

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def where(self) -> str:
        """``step 2/4 (25%)``."""
        return f"step {self.step + 1}/{len(self.steps)} ({self.share:g}%)"


def record(row: RolloutRow, endpoint: str) -> Rollout:
    """The rollout a row holds (``endpoint``: its endpoint's name)."""
    return Rollout.model_validate(
        {c.key: getattr(row, c.key) for c in RolloutRow.__table__.columns} | {"endpoint": endpoint}
    )


def judgement_data(j: Judgement) -> dict[str, Any]:
    """A guard's verdict as stored with the rollout (JSON: no NaN)."""
    return {
        "guard": str(j.guard),
        "verdict": j.verdict,
        "value": j.value if j.value is None or math.isfinite(j.value) else None,
        "rows": j.rows,
        "text": str(j),
    }
