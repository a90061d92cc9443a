"""Tables of the metadata store (SQLAlchemy 2.x declarative, typed).

Schema changes go through an Alembic migration in ``migrations/versions``; a test
checks the migrations produce exactly these tables.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ModelRow(Base):
    __tablename__ = "models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    owner: Mapped[str] = mapped_column(String(256), default="")
    tags: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    # Last version number handed out; incremented under a row lock so concurrent
    # registrations get distinct consecutive numbers.
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("model_id", "version", name="uq_model_versions_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    flavor: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="ready")
    description: Mapped[str] = mapped_column(Text, default="")
    intended_use: Mapped[str] = mapped_column(Text, default="")
    signature: Mapped[dict[str, Any]] = mapped_column(JSONType)
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    target_profile: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    prediction_profile: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metrics: Mapped[dict[str, float]] = mapped_column(JSONType, default=dict)
    tags: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    lineage: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    flavor_metadata: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # {relative path: {"sha256": hex, "size": bytes}} of every file of the version.
    artifacts: Mapped[dict[str, dict[str, Any]]] = mapped_column(JSONType)
    # sha256 of the sorted manifest: equal for byte-identical artifacts.
    artifact_digest: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AliasRow(Base):
    __tablename__ = "model_aliases"

    model_id: Mapped[int] = mapped_column(
        ForeignKey("models.id", ondelete="CASCADE"), primary_key=True
    )
    alias: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EventRow(Base):
    """Who did what, when: one row per change. The audit trail builds on this table."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_target", "target_kind", "target"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(256))
    action: Mapped[str] = mapped_column(String(64))
    target_kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(256))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)


class EndpointRow(Base):
    """A named online deployment; ``current_revision`` says which revision serves."""

    __tablename__ = "endpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    current_revision: Mapped[int] = mapped_column(Integer)
    latest_revision: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EndpointRevisionRow(Base):
    """One immutable state of an endpoint: its traffic policy, who made it, when and why."""

    __tablename__ = "endpoint_revisions"
    __table_args__ = (UniqueConstraint("endpoint_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column(Integer)
    parent: Mapped[int | None] = mapped_column(Integer, nullable=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONType)
    diff: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


#: Rollout states that hold an endpoint: at most one such rollout per endpoint.
ACTIVE_ROLLOUT = text("state IN ('running', 'paused')")


class RolloutRow(Base):
    """A progressive rollout of one endpoint from its serving version to a new one, and
    where it stands: the controller's state lives here, so it survives restarts."""

    __tablename__ = "rollouts"
    __table_args__ = (
        # The rule is enforced under the endpoint's row lock; this index backs it up.
        Index(
            "uq_rollouts_active",
            "endpoint_id",
            unique=True,
            sqlite_where=ACTIVE_ROLLOUT,
            postgresql_where=ACTIVE_ROLLOUT,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("endpoints.id", ondelete="CASCADE"), index=True
    )
    from_model: Mapped[str] = mapped_column(String(256))
    to_model: Mapped[str] = mapped_column(String(256))
    # Traffic shares of the new version, percent, ascending, the last 100.
    steps: Mapped[list[float]] = mapped_column(JSONType)
    interval_s: Mapped[float] = mapped_column(Float)
    guards: Mapped[list[str]] = mapped_column(JSONType)
    min_rows: Mapped[int] = mapped_column(Integer)
    # running, paused, succeeded, rolled_back or aborted.
    state: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(Integer)
    step_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The revision to return to, and the one the rollout set last (a different current
    # revision means someone changed the endpoint by hand).
    base_revision: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer)
    judgements: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MonitorRow(Base):
    """A monitor: which checks run on which endpoint or model, over which window, against
    which reference, how often, and with which thresholds."""

    __tablename__ = "monitors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # ``endpoint`` or ``model``, and that endpoint's or model's name.
    target_kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(256))
    checks: Mapped[list[str]] = mapped_column(JSONType)
    window: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reference: Mapped[dict[str, Any]] = mapped_column(JSONType)
    schedule_s: Mapped[float] = mapped_column(Float)
    # Thresholds by metric, and options of the checks (e.g. the drift test's mode).
    options: Mapped[dict[str, Any]] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(Boolean)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # What runs carry over: the concept-drift detector and how far it read the feedback.
    state: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MonitorResultRow(Base):
    """One number a monitor run measured: a time series per monitor, metric and column."""

    __tablename__ = "monitor_results"
    __table_args__ = (Index("ix_monitor_results_monitor_at", "monitor_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    check: Mapped[str] = mapped_column(String(32))
    metric: Mapped[str] = mapped_column(String(64))
    column: Mapped[str | None] = mapped_column(String(256), nullable=True)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    threshold: Mapped[float | None] = mapped_column(Float, nullable=True)
    # ok, breach, no_data or error.
    status: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)


#: Alert states that are still open: at most one open alert per de-duplication key.
OPEN_ALERT = text("state IN ('firing', 'acknowledged')")


class AlertRuleRow(Base):
    """An alert rule: which results or events it watches (``source``), the condition that
    makes one a breach, how severe that is, how long to keep quiet after notifying
    (``cooldown_s``) and the channels that carry the notifications."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # {"kind": "monitor", "monitor": M, "metric": X, "column": C|None} or
    # {"kind": "rollout", "endpoint": E|None}.
    source: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # "status == breach" or "value OP NUMBER".
    condition: Mapped[str] = mapped_column(String(128))
    # info, warning or critical.
    severity: Mapped[str] = mapped_column(String(16))
    cooldown_s: Mapped[float] = mapped_column(Float)
    channels: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(Boolean)
    # The id of the last monitor result (or event) evaluated: the next round reads on.
    cursor: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlertRow(Base):
    """A rule's breach for one de-duplication key (rule, monitor, metric, column; or rule
    and endpoint): firing, then acknowledged, then resolved. Repeated breaches bump
    ``count`` and ``last_seen`` instead of opening another alert."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "uq_alerts_open",
            "dedup_key",
            unique=True,
            sqlite_where=OPEN_ALERT,
            postgresql_where=OPEN_ALERT,
        ),
        Index("ix_alerts_state", "state"),
        # Never reuse an id (SQLite would give a deleted rule's last alert id again).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    dedup_key: Mapped[str] = mapped_column(String(768))
    # firing, acknowledged or resolved.
    state: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    fired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # When a firing notification last went out: the cooldown counts from here.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    acked_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType)
    count: Mapped[int] = mapped_column(Integer)


class AlertDeliveryRow(Base):
    """One attempt to send one notification of an alert through one channel."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(128))
    # firing or resolved.
    event: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(Boolean)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class BatchJobRow(Base):
    """A batch scoring job: what it scores with which version, where the results go, and
    how it stands (running, succeeded, failed, cancelling, cancelled)."""

    __tablename__ = "batch_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(256))
    """The pinned version (``models:/NAME/N``) it scores with."""
    input: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(String(16), index=True)
    rows_total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rows_in: Mapped[int] = mapped_column(BigInteger)
    rows_out: Mapped[int] = mapped_column(BigInteger)
    rows_rejected: Mapped[int] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class BatchScheduleRow(Base):
    """A batch job on a cron schedule: what each run scores, and how the runs stand."""

    __tablename__ = "batch_schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    model: Mapped[str] = mapped_column(String(300))
    """``models:/NAME@ALIAS`` (resolved at each run) or ``models:/NAME/N``."""
    cron: Mapped[str] = mapped_column(String(256))
    timezone: Mapped[str] = mapped_column(String(64))
    input: Mapped[str] = mapped_column(Text)
    output: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType)
    paused: Mapped[bool] = mapped_column(Boolean)
    # The next scheduled time; a scheduler claims a run by moving it on (compare-and-set).
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_job_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_skipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Refreshed while a run of the schedule goes on: a stale one means its process stopped.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRow(Base):
    """One change to the metadata store: who, when, what (the table and the row's key),
    and the values before and after. Rows are only ever added, each carrying the hash of
    the one before (``prev``) and its own (``hash``), so an edited, inserted or deleted row
    breaks the chain (``shipyard audit verify``)."""

    __tablename__ = "audit_log"

    # Numbered by the writer under the chain's lock (see AuditHeadRow): no gaps.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(256))
    # insert, update or delete.
    action: Mapped[str] = mapped_column(String(16))
    entity: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(512))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    prev: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHeadRow(Base):
    """The chain's end: the last audit row's id and hash. Writers lock this one row, so
    appends from several processes form one chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    last_hash: Mapped[str] = mapped_column(String(64))


class LogRetentionRow(Base):
    """How many days of the prediction log an endpoint keeps (``*``: every endpoint and
    the models served directly)."""

    __tablename__ = "log_retention"

    endpoint: Mapped[str] = mapped_column(String(128), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserRow(Base):
    """Someone (or some service) that holds API tokens, with the most their tokens may do."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # admin, maintainer, viewer or predictor: no token of the user may do more.
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TokenRow(Base):
    """An API token: ``sy_<key>_<secret>``. Only the SHA-256 of the secret is kept, so the
    token itself is shown once, when it is made."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The public part of the token: how it is named in lists, revoked and looked up.
    key: Mapped[str] = mapped_column(String(32), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128), default="")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    # Model and endpoint names (model:NAME, endpoint:NAME; * matches any run of characters)
    # the token is limited to; null: every one.
    scopes: Mapped[list[str] | None] = mapped_column(JSONType, nullable=True)
    # Requests per second the token may send (per server process); null: no limit.
    rate_limit: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ColumnPolicyRow(Base):
    """A column policy: what happens to sensitive input columns of a model's rows (every
    version, endpoint and batch job of it) or of an endpoint's, before anything is written:
    ``{"ssn": "encrypt", "email": "hash"}``. Keyed by name, so a model's policy can be set
    before its first version is registered."""

    __tablename__ = "column_policies"

    # ``model`` or ``endpoint``, and its name.
    target_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    target: Mapped[str] = mapped_column(String(128), primary_key=True)
    columns: Mapped[dict[str, str]] = mapped_column(JSONType)
    updated_by: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PrivacyBudgetRow(Base):
    """The differential-privacy budget of one privacy unit (``models:/NAME/N`` for a
    version's reference sample, ``endpoint:NAME`` or ``model:NAME`` for the prediction
    log a monitor reads): the epsilon its releases have spent, under this row's lock."""

    __tablename__ = "privacy_budgets"

    subject: Mapped[str] = mapped_column(String(300), primary_key=True)
    # The budget set for this unit; None: SHIPYARD_PRIVACY_BUDGET.
    budget: Mapped[float | None] = mapped_column(Float, nullable=True)
    spent: Mapped[float] = mapped_column(Float)
    updated_by: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PrivacyReleaseRow(Base):
    """One differentially private release: who spent how much epsilon on what, when."""

    __tablename__ = "privacy_releases"
    __table_args__ = (Index("ix_privacy_releases_subject_at", "subject", "released_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    epsilon: Mapped[float] = mapped_column(Float)
    # What was released: kind (reference_profile, monitor_window), columns, monitor, window.
    what: Mapped[dict[str, Any]] = mapped_column(JSONType)
    released_by: Mapped[str] = mapped_column(String(256))
    released_at: Mapped[datetime] = mapped_column(UTCDateTime())
