"""Request and response bodies of the REST API that the services' own types don't cover."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shipyard.endpoints import TrafficPolicy
from shipyard.errors import InvalidInputError
from shipyard.monitoring import Monitor, MonitorResult
from shipyard.registry.types import VersionStatus

#: Largest integer the metadata store holds in a version or revision column.
MAX_INT = 2**31 - 1
#: No NUL characters: PostgreSQL stores no text holding them.
NO_NUL = r"^[^\x00]*$"

Text = Annotated[str, Field(max_length=100_000, pattern=NO_NUL)]
Number = Annotated[int, Field(ge=1, le=MAX_INT)]


def no_nul(body: BaseModel, what: str) -> None:
    """Refuse a body with a NUL character anywhere (the store cannot keep one)."""
    if "\\u0000" in body.model_dump_json():
        raise InvalidInputError(f"{what} holds a NUL character (\\u0000); remove it")


def no_nul_text(value: str | None, what: str) -> None:
    if value is not None and "\x00" in value:
        raise InvalidInputError(f"{what} holds a NUL character (\\u0000); remove it")


class Health(BaseModel):
    """The control plane is up and its metadata store answers."""

    status: Literal["ok"] = "ok"
    version: str
    """Shipyard's version."""


class ModelChange(BaseModel):
    """A model's description, owner or tags (omitted fields stay as they are)."""

    model_config = ConfigDict(extra="forbid")

    description: Text | None = None
    owner: Annotated[str, Field(min_length=1, max_length=256, pattern=NO_NUL)] | None = None
    tags: dict[str, Text] | None = None
    """Replaces all tags."""


class StatusChange(BaseModel):
    """Archive a version (``archived``) or make it ready again (``ready``)."""

    model_config = ConfigDict(extra="forbid")

    status: VersionStatus


class AliasTarget(BaseModel):
    """The version an alias should point at."""

    model_config = ConfigDict(extra="forbid")

    version: Number


class Card(BaseModel):
    """A version's model card."""

    name: str
    version: int
    markdown: str
    """The card as Markdown, as stored at registration."""


class ArtifactFile(BaseModel):
    """One stored file of a version."""

    file: str
    size: int
    sha256: str


class EndpointCreate(BaseModel):
    """A new endpoint and the traffic policy its revision 1 serves."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=128)]
    policy: TrafficPolicy
    description: Text = ""
    reason: Text = ""
    """Why: recorded with the revision."""


class EndpointChange(BaseModel):
    """A new traffic policy, served from a new revision (an identical one changes nothing)."""

    model_config = ConfigDict(extra="forbid")

    policy: TrafficPolicy
    reason: Text = ""


class RollbackRequest(BaseModel):
    """Which revision to make current again."""

    model_config = ConfigDict(extra="forbid")

    to: Number | None = None
    """Revision to return to; default: the one the current revision replaced."""
    reason: Text = ""


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class RolloutStart(BaseModel):
    """A rollout to start, with the options of ``shipyard rollout start``."""

    model_config = ConfigDict(extra="forbid")

    to: Annotated[str, Field(min_length=1, max_length=256, pattern=NO_NUL)]
    """The new version: ``models:/NAME/N`` or ``models:/NAME@ALIAS`` (pinned now)."""
    steps: (
        Annotated[str, Field(max_length=1000)] | Annotated[list[float], Field(max_length=100)]
    ) = "5,25,50,100"
    """The new version's share at each step, percent: ``[5, 25, 50, 100]`` or
    ``"5,25,50,100"``; strictly ascending, ending at 100."""
    interval: Annotated[str, Field(max_length=64)] | float = "5m"
    """How long each step lasts at least: seconds, or ``500ms``, ``30s``, ``5m``, ``1h``."""
    guards: Annotated[list[Annotated[str, Field(max_length=256)]], Field(max_length=100)] = []
    """Conditions the new version must keep (at least one): ``error_rate<0.01``,
    ``p99_latency_ms<50``, ``agreement>0.9`` (agreement mirrors requests to both)."""
    min_rows: Annotated[int, Field(ge=1, le=MAX_INT)] = 50
    """Rows a guard needs before it judges a step."""

    @field_validator("steps", mode="before")
    @classmethod
    def _steps(cls, value: object) -> object:
        if isinstance(value, str) or (isinstance(value, list) and all(_number(v) for v in value)):
            return value
        raise ValueError(
            "give the steps as a list of percentages, e.g. [5, 25, 50, 100], or as text, "
            'e.g. "5,25,50,100"'
        )

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, value: object) -> object:
        if isinstance(value, str) or _number(value):
            return value
        raise ValueError('give the interval as seconds, e.g. 300, or as text, e.g. "5m"')


class RolloutReason(BaseModel):
    """Why a rollout is paused or aborted (recorded with it)."""

    model_config = ConfigDict(extra="forbid")

    reason: Text = ""


Duration = Annotated[str, Field(max_length=64)] | float
Options = Annotated[dict[str, Any], Field(max_length=100)]
Reference = Annotated[str, Field(max_length=200)] | Annotated[dict[str, Any], Field(max_length=3)]


class MonitorCreate(BaseModel):
    """A new monitor, with the options of ``shipyard monitor create``."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=256)]
    endpoint: Annotated[str, Field(max_length=256)] | None = None
    """Monitor this endpoint (give it or ``model``, one of them)."""
    model: Annotated[str, Field(max_length=256)] | None = None
    """Monitor this model: all its logged predictions."""
    checks: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] | None = (
        None
    )
    """Checks to run (default all): data_drift, prediction_drift, target_drift,
    data_quality, performance, concept_drift, operations."""
    window: Duration | None = None
    """The window: the last ``30m``, ``1h``, ``24h``… or seconds (default ``1h``)."""
    rows: int | None = None
    """The window as the last N logged rows instead of a duration."""
    reference: Reference = "training"
    """Compare with ``training``, ``previous``, ``START..END`` or ``{"start", "end"}``
    (ISO 8601 times)."""
    every: Duration = "15m"
    """How often the server runs it."""
    thresholds: Options = {}
    """Threshold by key, e.g. ``{"error_rate": 0.01}``."""
    drift: Options | None = None
    """Options of the drift tests, e.g. ``{"mode": "calibrated"}``."""
    performance: Options | None = None
    """Performance per segment too: ``{"segment_by": "region"}`` or, binned,
    ``{"segment_by": "age", "bins": [0, 18, 65, 120]}`` (or a number of quantile bins)."""
    concept: Options | None = None
    """The online detector of the ``concept_drift`` check: ``{"detector": "adwin"}``
    (default), ``"page_hinkley"`` or ``"ddm"``, with its parameters."""
    enabled: bool = True
    """``false`` creates it without scheduling it."""


class MonitorChange(BaseModel):
    """What to change in a monitor (omitted fields stay as they are), as ``shipyard
    monitor update``; ``thresholds`` and ``drift`` are merged into the monitor's."""

    model_config = ConfigDict(extra="forbid")

    checks: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] | None = (
        None
    )
    """Replace the checks."""
    window: Duration | None = None
    rows: int | None = None
    reference: Reference | None = None
    every: Duration | None = None
    thresholds: Options | None = None
    """Merged into the monitor's; a key set to ``null`` returns to its default."""
    drift: Options | None = None
    performance: Options | None = None
    """Merged into the monitor's: ``segment_by`` and ``bins`` (``null`` removes one)."""
    concept: Options | None = None
    """Replaces the concept-drift detector (its state starts afresh)."""
    enabled: bool | None = None
    """Schedule it (``true``) or stop (``false``)."""


class MonitorShown(Monitor):
    """A monitor and the results of its latest run."""

    latest: list[MonitorResult] = []
