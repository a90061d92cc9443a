"""Differentially private releases of what Shipyard shares: a version's reference data
and a monitor's current window, paid for from an epsilon budget.

**What is counted.** A version's release is made from its stored reference sample (the
raw rows kept with it, up to ``SHIPYARD_REFERENCE_SAMPLE_ROWS``), not from its stored
profile: the profile's histogram edges are the data's own minimum and maximum and its
categories are the labels seen in the data, so they cannot be released under any noise.
The guarantee is for the rows of that sample: all of the training data when it had no
more rows than the sample size; otherwise the sample is a seeded choice from the
training rows, and no amplification by subsampling is claimed. A monitor's release is
made from the rows of its current window of the prediction log (shadow copies left
out), as ``shipyard monitor report`` reads them.

**Public grid.** Column names and kinds (the signature's schema) are taken as public;
values, ranges and categories are not. Numeric and datetime columns are released only on
edges the caller gives, categorical ones only over categories the caller declares;
boolean columns default to the domain ``False``/``True``. Every other input column is
left out of the release, and ``omitted`` says why.

**Budget.** Each release spends its epsilon from the budget of its privacy unit (see
:mod:`shipyard.privacy.ledger`): the version, or the endpoint or model the monitor
watches. The noisy counts are computed first and handed out only once the ledger has
recorded the spend; a release the budget cannot pay for is dropped unseen.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd
from pydantic import ValidationError

from shipyard.config import Settings
from shipyard.endpoints import Endpoints
from shipyard.errors import InvalidInputError
from shipyard.monitoring import Monitor, MonitorService
from shipyard.monitoring.windows import inputs_of
from shipyard.privacy.ledger import Budget, PrivacyLedger
from shipyard.registry import ModelVersion, Registry
from shipyard.registry.registration import REFERENCE_FILE
from shipyard.registry.uri import ModelURI
from shipyard.stats.privacy import Binning, PrivateRelease, check_epsilon, private_release
from shipyard.store.tables import utcnow

Columns = Mapping[str, Binning | Mapping[str, Any]]
BOOLEAN_DOMAIN = ["False", "True"]
MONITOR_PREFIX = "monitor:"


def parse_columns(columns: Columns | None) -> dict[str, Binning]:
    """Each column's grid, or :class:`InvalidInputError` naming the column at fault."""
    out: dict[str, Binning] = {}
    for name, spec in (columns or {}).items():
        if isinstance(spec, Binning):
            out[name] = spec
            continue
        try:
            out[name] = Binning.model_validate(spec)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            message = str(first.get("msg", "")).removeprefix("Value error, ")
            raise InvalidInputError(
                f"columns: {name!r}{'.' + where if where else ''}: {message}"
            ) from None
    return out


def _why_omitted(kind: str) -> str:
    if kind in ("string", "category"):
        return (
            "categorical: declare its public categories to release it (categories, or "
            "--categories NAME=A,B,...); labels seen only in the data are private"
        )
    return (
        f"{kind}: give public bin edges to release it (edges, or low/high/bins; --bins "
        "NAME=LOW:HIGH:N or --edges NAME=E0,E1,...); the stored profile's edges come from "
        "the data's own minimum and maximum"
    )


def plan(
    schema: Mapping[str, str], columns: Columns | None
) -> tuple[dict[str, Binning], dict[str, str]]:
    """The grids to release (those given, then boolean columns' public domain) and the
    input columns left out with why. ``schema``: input names and kinds, in order."""
    given = parse_columns(columns)
    unknown = [c for c in given if c not in schema]
    if schema and unknown:
        raise InvalidInputError(
            f"column(s) {', '.join(map(repr, unknown))} are not inputs; the inputs are "
            f"{', '.join(schema)}"
        )
    grids, omitted = dict(given), {}
    for name, kind in schema.items():
        if name in grids:
            continue
        if kind == "bool":
            grids[name] = Binning(categories=BOOLEAN_DOMAIN)
        else:
            omitted[name] = _why_omitted(kind)
    return grids, omitted


def parse_target(target: str) -> tuple[str, str]:
    """``("version", URI)`` for ``models:/NAME/N`` (or ``@ALIAS``, ``/latest``), or
    ``("monitor", NAME)`` for ``monitor:NAME``."""
    if target.startswith(MONITOR_PREFIX) and target[len(MONITOR_PREFIX) :]:
        return "monitor", target[len(MONITOR_PREFIX) :]
    if target.startswith("models:/"):
        ModelURI.parse(target)
        return "version", target
    raise InvalidInputError(
        f"{target!r} names no privacy budget; give a version (models:/NAME/VERSION, "
        "models:/NAME@ALIAS) or a monitor (monitor:NAME)"
    )


class PrivacyService:
    """Releases and budgets on ``registry``'s store; monitors' windows through ``monitors``."""

    def __init__(self, registry: Registry, monitors: MonitorService) -> None:
        self.registry = registry
        self.monitors = monitors
        self.ledger = PrivacyLedger(registry.db, registry.settings.privacy_budget)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> PrivacyService:
        settings = settings or Settings()
        registry = Registry.from_settings(settings)
        return cls(registry, MonitorService(registry, settings.predictions, settings.feedback))

    # -- what a budget belongs to -------------------------------------------------------

    def version(self, name: str, ref: str | int) -> ModelVersion:
        """A version by number, ``latest``, or alias."""
        text = str(ref)
        if text.isascii() and text.isdigit():
            return self.registry.resolve(f"models:/{name}/{int(text)}")
        if text == "latest":
            return self.registry.resolve(f"models:/{name}/latest")
        return self.registry.resolve(f"models:/{name}@{text}")

    @staticmethod
    def monitor_subject(monitor: Monitor) -> str:
        """The privacy unit of a monitor: the endpoint or model whose log it reads."""
        return f"{monitor.target_kind}:{monitor.target}"

    def _monitor_schema(self, monitor: Monitor) -> dict[str, str]:
        if monitor.target_kind == "model":
            versions = self.registry.list_versions(monitor.target, limit=1000)
        else:
            registry = self.registry
            endpoints = Endpoints(registry.db, registry.artifacts, registry.settings)
            served = endpoints.get_endpoint(monitor.target).current.policy.models
            versions = [registry.resolve(uri) for uri in served]
        schema: dict[str, str] = {}
        for found in versions:
            for spec in found.signature.inputs:
                schema.setdefault(spec.name, spec.kind)
        return schema

    # -- releases -----------------------------------------------------------------------

    def release_profile(
        self,
        name: str,
        ref: str | int,
        epsilon: float,
        columns: Columns | None = None,
        *,
        actor: str | None = None,
    ) -> PrivateRelease:
        """Noisy counts of version ``ref``'s reference sample on the given grids,
        ``epsilon``-DP, paid from the version's budget."""
        epsilon = check_epsilon(epsilon)
        found = self.version(name, ref)
        schema = {spec.name: spec.kind for spec in found.signature.inputs}
        grids, omitted = plan(schema, columns)
        if REFERENCE_FILE not in found.artifacts:
            raise InvalidInputError(
                f"{found.uri} has no stored reference sample to release counts of; register "
                "it with training_data= (and SHIPYARD_REFERENCE_SAMPLE_ROWS above 0)"
            )
        raw = self.registry.read_artifact(found.name, found.version, REFERENCE_FILE)
        sample = pd.read_parquet(io.BytesIO(raw))
        release = private_release(sample, grids, epsilon, omitted=omitted)
        what = {"kind": "reference_profile", "columns": list(grids)}
        return self._pay(
            release, found.uri, found.uri, what, actor, f"the reference sample of {found.uri}"
        )

    def release_window(
        self,
        name: str,
        epsilon: float,
        columns: Columns | None = None,
        *,
        actor: str | None = None,
        now: datetime | None = None,
    ) -> PrivateRelease:
        """Noisy counts of monitor ``name``'s current window on the given grids,
        ``epsilon``-DP, paid from the budget of the endpoint or model it watches."""
        epsilon = check_epsilon(epsilon)
        monitor = self.monitors.get(name)
        grids, omitted = plan(self._monitor_schema(monitor), columns)
        now = now or utcnow()
        if now.tzinfo is None:
            raise InvalidInputError("now must be a timezone-aware time, e.g. datetime.now(UTC)")
        window, start, _ = self.monitors.log.windows(monitor, now)
        release = private_release(inputs_of(window), grids, epsilon, omitted=omitted)
        if monitor.window["kind"] == "rows":  # the first row's time would be private
            span: dict[str, Any] = {"kind": "rows", "rows": int(monitor.window["rows"])}
        else:
            span = {"kind": "time", "start": start.isoformat() if start else None}
        span["end"] = now.isoformat()
        subject = self.monitor_subject(monitor)
        what = {"kind": "monitor_window", "monitor": name, "columns": list(grids), "window": span}
        data = f"the current window of monitor {name} ({monitor.target_kind} {monitor.target})"
        paid = self._pay(release, subject, f"{MONITOR_PREFIX}{name}", what, actor, data)
        return paid.model_copy(update={"window": span})

    def _pay(
        self,
        release: PrivateRelease,
        subject: str,
        target: str,
        what: dict[str, Any],
        actor: str | None,
        data: str,
    ) -> PrivateRelease:
        who = self.registry._actor(actor)
        spent = self.ledger.spend(subject, release.epsilon, what, actor=who, target=target)
        return release.model_copy(
            update={
                "subject": subject,
                "data": data,
                "release_id": spent.release_id,
                "released_at": spent.released_at.isoformat(),
                "released_by": spent.released_by,
            }
        )

    # -- budgets ------------------------------------------------------------------------

    def _subject(self, target: str) -> str:
        kind, name = parse_target(target)
        if kind == "monitor":
            return self.monitor_subject(self.monitors.get(name))
        return self.registry.resolve(name).uri

    def budget(self, target: str, *, limit: int = 100) -> Budget:
        """The budget of ``models:/NAME/VERSION`` (or ``@ALIAS``) or ``monitor:NAME``,
        with its latest releases."""
        return self.ledger.budget(self._subject(target), limit=limit)

    def set_budget(self, target: str, budget: float, *, actor: str | None = None) -> Budget:
        """Give ``target``'s unit a budget of its own (see :meth:`budget` for names)."""
        subject = self._subject(target)
        return self.ledger.set_budget(subject, budget, actor=self.registry._actor(actor))
