"""Settings: the one place where Shipyard reads its environment.

Every field can be set with an environment variable named ``SHIPYARD_<FIELD>``
(``SHIPYARD_HOME``, ``SHIPYARD_DATABASE_URL`` …) or passed to :class:`Settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelServing(BaseModel):
    """Serving options of one model, overriding the server-wide ones (unset: inherited)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_batch_size: int | None = Field(default=None, ge=1)
    """Most rows merged into one call of this model."""

    max_wait_ms: float | None = Field(default=None, ge=0, le=1_000)
    """How long a batch of this model with company waits to fill, in ms."""

    request_timeout_ms: float | None = Field(default=None, gt=0)
    """How long one request to this model may take before its fallback answers."""

    fallback: str | None = None
    """This model's fallback: a model URI or a JSON value (see ``Settings.fallback``)."""


class Settings(BaseSettings):
    """Shipyard's configuration, read from ``SHIPYARD_*`` environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="SHIPYARD_", extra="ignore", use_attribute_docstrings=True, populate_by_name=True
    )

    home: Path = Path(".shipyard")
    """Directory holding the embedded database, artifacts and logs. Created on first use."""

    database_url: str | None = None
    """SQLAlchemy URL of the metadata store. Default: SQLite at ``$SHIPYARD_HOME/shipyard.db``.
    For PostgreSQL use ``postgresql+psycopg://user@host:5432/dbname``."""

    artifact_root: Path | None = None
    """Directory of the content-addressed artifact store. Default: ``$SHIPYARD_HOME/artifacts``."""

    actor: str | None = None
    """Name recorded as ``created_by`` on every change. Default: the operating-system user."""

    trust_pickle: bool = False
    """Allow loading pickle/joblib model files. Pickles can run arbitrary code on load:
    enable only for files you produced yourself."""

    db_busy_timeout_ms: int = Field(default=30_000, ge=0)
    """How long a SQLite writer waits for another writer's lock before giving up."""

    reference_sample_rows: int = Field(default=5_000, ge=0)
    """Rows of training data kept (seeded random sample, Parquet) with each version as the
    raw reference for drift tests. 0 keeps none."""

    profile_bins: int = Field(default=20, ge=2, le=1_000)
    """Histogram bins per numeric column in a version's reference profile."""

    profile_max_categories: int = Field(default=1_000, ge=1)
    """Categories counted one by one per column in a reference profile; rarer ones are pooled."""

    privacy_budget: float = Field(default=1.0, gt=0, le=1_000)
    """Total differential-privacy epsilon that releases may spend on each model version's
    reference sample (``shipyard models release-profile``) and on each monitored endpoint
    or model's prediction log (``shipyard monitor release``), unless ``shipyard privacy
    set-budget`` gives that one another. Smaller is more private; what was spent stays
    spent."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Level of Shipyard's own log messages."""

    debug: bool = False
    """Show full tracebacks in CLI errors instead of one line."""

    host: str = "127.0.0.1"
    """Address the servers bind to."""

    port: int = Field(default=8000, ge=0, le=65_535)
    """Port the servers listen on."""

    auth: bool = True
    """Require an API token (``Authorization: Bearer <token>``) on the control plane and
    the data plane, checked against the token's role and scopes. Health and readiness
    stay open. Off only behind a proxy that authenticates callers."""

    allow_unauthenticated: bool = False
    """Let ``shipyard server`` and ``shipyard serve`` listen on an address other than
    loopback with ``SHIPYARD_AUTH=false``, where anyone who reaches the port can use
    them: only behind a proxy that authenticates callers."""

    auth_cache_s: float = Field(default=5.0, ge=0, le=3_600)
    """How long a server process trusts what it read of a token (seconds): a revoked
    token, a disabled user or a lowered role takes effect on every server within this."""

    rate_limit: float | None = Field(default=None, gt=0)
    """Requests per second a token may send to one server process, unless the token has
    a limit of its own (``shipyard tokens create --rate-limit``); over it, 429 with
    ``Retry-After``. Default: no limit."""

    metrics_public: bool = False
    """Let ``/metrics`` answer without a token (for a Prometheus that cannot send one).
    Default: any valid token may read it."""

    ssl_certfile: Path | None = None
    """PEM certificate (chain) the servers present: with ``ssl_keyfile``, they speak
    HTTPS only (``--ssl-certfile`` on ``shipyard server`` and ``shipyard serve``)."""

    ssl_keyfile: Path | None = None
    """PEM private key of ``ssl_certfile`` (``--ssl-keyfile``)."""

    ca_bundle: Path | None = None
    """PEM certificates the SDK trusts for ``https://`` servers besides the system's own
    (e.g. the certificate of a server whose certificate you made yourself)."""

    max_request_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    """Largest request body the servers accept; larger bodies get 413."""

    serve: str | None = None
    """Comma-separated model URIs the data plane serves (``shipyard serve`` sets it for
    its worker processes), e.g. ``models:/fraud@champion``."""

    endpoints: str | None = None
    """Comma-separated endpoint names the data plane serves, each at its current revision
    (``shipyard serve ENDPOINT`` sets it), or ``*`` for every endpoint, including those
    created later (what ``shipyard server`` serves)."""

    on_demand_alias: str | None = None
    """The alias by which ``shipyard server`` serves any registered model at the paths of
    ``shipyard serve`` (``/v1/models/NAME/predict``, ``/v2/models/NAME/infer``): loaded on
    its first request, followed as the alias moves. Unset: ``champion`` for ``shipyard
    server``, nothing for ``shipyard serve``; empty: no models on demand."""

    max_batch_size: int = Field(default=64, ge=1)
    """Most rows the data plane merges into one model call (adaptive batching)."""

    max_wait_ms: float = Field(default=0.0, ge=0, le=1_000)
    """How long a batch that has company but is not full waits for more requests, in ms.
    Default 0: nothing waits; requests that arrive while the model is busy form the next
    batch. Under a steady stream from a fixed set of clients, waiting only idles the
    server (every waiting client is already in the batch)."""

    follow_interval_s: float = Field(default=1.0, gt=0, le=3_600)
    """How often the data plane checks whether a served alias moved or a served endpoint
    has a new current revision (seconds); when so, the new versions are loaded in the
    background and swapped in without dropping a request."""

    rollout_period_s: float = Field(default=5.0, gt=0, le=3_600)
    """How often ``shipyard server`` judges running rollouts (seconds): each rollout's
    guards are read off the prediction log and its step moved on, or rolled back."""

    monitor_period_s: float = Field(default=30.0, gt=0, le=3_600)
    """How often ``shipyard server`` looks for due monitors (seconds): each monitor whose
    schedule has come round since its last run is run then, its results stored."""

    schedule_period_s: float = Field(default=15.0, gt=0, le=3_600)
    """How often ``shipyard server`` looks for due batch schedules (seconds): each
    schedule whose cron time has come is claimed and its run started as a batch job."""

    schedule_max_runs: int = Field(default=2, ge=1, le=64)
    """Most scheduled batch runs one ``shipyard server`` scores at once; a schedule due
    while that many run waits for a free slot (another server may take it meanwhile)."""

    alert_period_s: float = Field(default=30.0, gt=0, le=3_600)
    """How often ``shipyard server`` evaluates alert rules (seconds): the monitor results
    and rollout events stored since the last round open, bump or resolve alerts, and
    their notifications are sent."""

    retention_period_s: float = Field(default=3_600.0, gt=0, le=86_400)
    """How often ``shipyard server`` removes the prediction log past its retention
    (``shipyard log retain``)."""

    alert_attempts: int = Field(default=4, ge=1, le=20)
    """How many times one alert notification is tried per channel before it is recorded
    as failed (see ``shipyard alerts show ID``)."""

    alert_backoff_s: float = Field(default=1.0, ge=0, le=600)
    """The wait after an alert notification's first failed attempt (seconds); it doubles
    after each further failure."""

    request_timeout_ms: float = Field(default=30_000, gt=0)
    """How long one inference request may take before the fallback answers (or 504)."""

    fallback: str | None = None
    """What answers when the model fails or times out: a model URI (``models:/NAME/3``) or a
    JSON value returned for every row (``0``, ``"unknown"``). Responses say
    ``"fallback": true``. Default: none (the error is returned)."""

    model_options: dict[str, ModelServing] = Field(default_factory=dict)
    """Per-model overrides of the four options above, by model name, e.g.
    ``SHIPYARD_MODEL_OPTIONS='{"fraud": {"max_batch_size": 16, "fallback": "models:/fraud/3"}}'``
    (``shipyard serve --model-option fraud.max_batch_size=16`` sets it)."""

    breaker_failures: int = Field(default=5, ge=1)
    """Consecutive model failures that open the circuit breaker (the model is then not
    called until ``breaker_reset_s`` has passed)."""

    breaker_reset_s: float = Field(default=30.0, gt=0)
    """Seconds an open circuit breaker waits before one request probes the model again."""

    metrics_dir: Path | None = Field(default=None, validation_alias="PROMETHEUS_MULTIPROC_DIR")
    """Directory where the worker processes of one server share their Prometheus metrics,
    so ``/metrics`` on any worker reports them all. Read from prometheus_client's own
    ``PROMETHEUS_MULTIPROC_DIR`` (it must be set before the workers start);
    ``shipyard serve --workers N`` with N > 1 sets it to a fresh directory of its own."""

    prediction_log: bool = True
    """Write every prediction to the prediction log (Parquet under ``prediction_log_dir``)."""

    prediction_log_dir: Path | None = None
    """Where the prediction log lives. Default: ``$SHIPYARD_HOME/predictions``."""

    prediction_log_flush_s: float = Field(default=1.0, gt=0, le=3_600)
    """How often the prediction log is written to disk: at most this much is lost if the
    process is killed (a clean shutdown writes everything)."""

    column_keys: SecretStr | None = None
    """Encryption keys of the ``encrypt`` column-policy action, comma-separated, newest
    first: the first encrypts, every one decrypts (rotate by putting a new key first and
    keeping the old ones). Each is 32 random bytes as base64url (``shipyard policy
    keygen``)."""

    column_keys_file: Path | None = None
    """A file of more ``encrypt`` keys, one per line (``#`` comments), read after
    ``column_keys``' keys: the first key of them all encrypts."""

    column_hash_key: SecretStr | None = None
    """Key of the ``hash`` column-policy action (HMAC-SHA256), 32 random bytes as base64url
    (``shipyard policy keygen``). Changing it changes every hash, so values hashed before
    no longer join those hashed after."""

    column_hash_key_file: Path | None = None
    """A file holding the ``hash`` key on one line (used when ``column_hash_key`` is
    unset)."""

    token: str | None = None
    """API token the CLI and SDK send as ``Authorization: Bearer <token>``. Default: the
    one saved in ``$SHIPYARD_HOME/credentials`` (by ``shipyard init``)."""

    url: str | None = None
    """The server ``shipyard tokens``, ``shipyard users`` and ``shipyard whoami`` talk
    to (e.g. ``https://shipyard.example.com``); default: the local store, directly."""

    @field_validator("database_url", "actor", "token", "url")
    @classmethod
    def _blank_is_default(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("home", mode="before")
    @classmethod
    def _blank_home_is_default(cls, value: object) -> object:
        return ".shipyard" if value in ("", None) else value

    @property
    def database(self) -> str:
        """The effective database URL."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'shipyard.db').resolve()}"

    @property
    def credentials(self) -> Path:
        """Where ``shipyard init`` saves the admin token: ``$SHIPYARD_HOME/credentials``."""
        return (self.home / "credentials").resolve()

    @property
    def predictions(self) -> Path:
        """The effective prediction-log directory."""
        return (self.prediction_log_dir or self.home / "predictions").resolve()

    @property
    def feedback(self) -> Path:
        """Where feedback (ground truth joined to the prediction log) is kept:
        ``$SHIPYARD_HOME/feedback``."""
        return (self.home / "feedback").resolve()

    @property
    def artifacts(self) -> Path:
        """The effective artifact-store directory."""
        return (self.artifact_root or self.home / "artifacts").resolve()
