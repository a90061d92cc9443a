"""What the registry hands out: plain, frozen records (never database rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shipyard.schema import Signature

VersionStatus = Literal["ready", "archived"]
STATUSES: tuple[VersionStatus, ...] = ("ready", "archived")


class Model(BaseModel):
    """A named thing that predicts, with its aliases."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    owner: str
    tags: dict[str, str]
    latest_version: int
    """Highest version number handed out (0 before the first version)."""
    aliases: dict[str, int]
    created_by: str
    created_at: datetime
    updated_at: datetime


class ModelVersion(BaseModel):
    """One immutable trained artifact of a model."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    flavor: str
    status: VersionStatus
    description: str
    intended_use: str
    signature: Signature = Field(repr=False)
    profile: dict[str, Any] | None = Field(repr=False)
    """Reference profile of the training inputs (see :mod:`shipyard.stats.profile`)."""
    target_profile: dict[str, Any] | None = Field(repr=False)
    prediction_profile: dict[str, Any] | None = Field(repr=False)
    params: dict[str, Any] = Field(repr=False)
    metrics: dict[str, float]
    tags: dict[str, str]
    lineage: dict[str, Any] = Field(repr=False)
    flavor_metadata: dict[str, Any] = Field(repr=False)
    artifacts: dict[str, dict[str, Any]] = Field(repr=False)
    """Manifest: relative file name -> {"sha256", "size"}."""
    artifact_digest: str
    aliases: list[str]
    created_by: str
    created_at: datetime
    status_changed_at: datetime

    @property
    def uri(self) -> str:
        """``models:/NAME/VERSION``."""
        return f"models:/{self.name}/{self.version}"


class Alias(BaseModel):
    """A movable name for a version."""

    model_config = ConfigDict(frozen=True)

    name: str
    alias: str
    version: int
    previous_version: int | None = None
    updated_by: str
    updated_at: datetime


class Event(BaseModel):
    """One change: who did what, when, with the state before and after."""

    model_config = ConfigDict(frozen=True)

    id: int
    at: datetime
    actor: str
    action: str
    target_kind: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class VerifyReport(BaseModel):
    """Outcome of checking stored files against their recorded sha256."""

    model_config = ConfigDict(frozen=True)

    versions: int
    files: int
    problems: list[str]
