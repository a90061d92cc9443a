"""Progressive rollouts: move an endpoint's traffic to a new version step by step, and
roll back by themselves when a guard fails.

A rollout starts from an endpoint serving one version (a ``single`` policy: the
champion) and moves it to another (the challenger) through the steps of its plan (see
:mod:`shipyard.endpoints.plan`). Each step is a real endpoint revision, made by the actor
``rollout`` with a reason such as ``rollout 7: step 2/4 (25%)``; with an ``agreement``
guard the split mirrors requests, so both versions answer the same ones.

:meth:`RolloutController.tick` advances every running rollout once. It reads the
endpoint's prediction-log rows of the current step's window ``[step started, now)``,
splits them into the challenger's rows (shadow copies included) and the champion's, and
judges the guards (:mod:`shipyard.endpoints.guards`):

- any breach: the endpoint returns at once to the revision the rollout started from, the
  rollout ends ``rolled_back`` with the breached guards and their values as its reason,
  and a ``rollout.rolled_back`` event is recorded;
- the step's interval has passed and every guard passes: the next step; moving to 100%
  completes the rollout (``succeeded``): its guards were judged at every step before;
- otherwise the step goes on. A guard without enough rows yet (``min_rows``) holds the
  step however long it takes: a step is never passed unjudged.

If the endpoint's current revision is not the one the rollout set (someone changed it
by hand), the rollout ends ``aborted`` with that reason and leaves traffic as it is.
Paused rollouts change nothing; resuming starts the step's window afresh. Aborting
returns the endpoint to the starting revision.

State lives in the ``rollouts`` table, so a rollout survives restarts and any process
may tick it. Every change happens in one transaction holding the endpoint's row lock,
after checking the rollout is still as it was read: when two controllers tick the same
rollout, one acts and the other finds the state moved on and leaves it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shipyard.config import Settings
from shipyard.endpoints.guards import Judgement, judge, parse_guards
from shipyard.endpoints.plan import parse_duration, parse_steps, step_policy
from shipyard.endpoints.policy import TrafficPolicy
from shipyard.endpoints.rollout_record import ACTIVE, Rollout, judgement_data, record
from shipyard.endpoints.service import Endpoints, endpoint_row, revision_row
from shipyard.errors import (
    ConflictError,
    InvalidInputError,
    RolloutNotFoundError,
    ShipyardError,
)
from shipyard.predictions.log import read_predictions
from shipyard.registry import rows
from shipyard.registry.lineage import os_user
from shipyard.registry.uri import ModelURI
from shipyard.store.tables import EndpointRow, RolloutRow, utcnow

log = logging.getLogger("shipyard.rollouts")

#: The actor recorded on the endpoint revisions a rollout makes.
ACTOR = "rollout"
# ``list`` is also a method of the controller: these name the built-in list types.
Rollouts = list[Rollout]
Judgements = list[Judgement]
_COLUMNS = ["request_id", "row", "time", "latency_ms", "error", "prediction"]


def _rows_of(frame: pd.DataFrame, uri: str) -> pd.DataFrame:
    """The prediction-log rows one version answered (as a variant or a shadow)."""
    if frame.empty or "model" not in frame:
        return pd.DataFrame(columns=_COLUMNS)
    parsed = ModelURI.parse(uri)
    chosen: pd.DataFrame = frame[
        (frame["model"] == parsed.name) & (frame["version"] == parsed.version)
    ]
    return chosen


class RolloutController:
    """Start, steer and advance rollouts of the endpoints in ``endpoints``' store, judged
    on the prediction log under ``predictions``."""

    def __init__(self, endpoints: Endpoints, predictions: Path) -> None:
        self.endpoints = endpoints
        self.db = endpoints.db
        self.predictions = Path(predictions)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> RolloutController:
        """A controller on the store and prediction log the settings name."""
        settings = settings or Settings()
        return cls(Endpoints.from_settings(settings), settings.predictions)

    def _actor(self, actor: str | None) -> str:
        return actor or self.endpoints.settings.actor or os_user()

    # -- by hand -----------------------------------------------------------------------

    def start(
        self,
        endpoint: str,
        to: str,
        *,
        steps: str | Sequence[float],
        interval: str | float,
        guards: Sequence[str],
        min_rows: int = 50,
        actor: str | None = None,
    ) -> Rollout:
        """Start moving ``endpoint`` to version ``to`` (``models:/NAME/N``; an alias is
        pinned to its version now), and apply the first step."""
        plan = parse_steps(steps)
        interval_s = parse_duration(interval)
        parsed = parse_guards(list(guards))
        if not parsed:
            raise InvalidInputError(
                "give at least one guard, e.g. --guard 'error_rate<0.01': a rollout without "
                "guards could never roll back"
            )
        if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
            raise InvalidInputError(f"min_rows must be a positive integer; got {min_rows!r}")
        target = self.endpoints.resolve(to).uri
        who = self._actor(actor)
        mirror = any(g.metric == "agreement" for g in parsed)
        with self.db.session(write=True) as s:
            row = endpoint_row(s, endpoint, lock=True)
            running = _active_row(s, row.id)
            if running is not None:
                raise ConflictError(
                    f"endpoint {endpoint!r} already has rollout {running.id} ({running.state}, "
                    f"to {running.to_model}); see it with: shipyard rollout show {endpoint}, "
                    f"or end it with: shipyard rollout abort {endpoint}"
                )
            base = TrafficPolicy.model_validate(revision_row(s, row, row.current_revision).policy)
            if base.kind != "single":
                raise ConflictError(
                    f"endpoint {endpoint!r} serves a {base.kind} policy; a rollout starts from "
                    f"one serving version: serve one first with: shipyard endpoints update "
                    f"{endpoint} --model URI"
                )
            champion = base.variants[0].model
            if champion == target:
                raise ConflictError(
                    f"{target} already serves endpoint {endpoint!r}; roll out another version"
                )
            now = utcnow()
            rollout = RolloutRow(
                endpoint_id=row.id,
                from_model=champion,
                to_model=target,
                steps=plan,
                interval_s=interval_s,
                guards=[str(g) for g in parsed],
                min_rows=min_rows,
                state="running",
                step=0,
                step_started_at=now,
                base_revision=row.current_revision,
                revision=row.current_revision,
                judgements=[],
                reason="",
                created_by=who,
                created_at=now,
                updated_at=now,
            )
            s.add(rollout)
            try:
                s.flush()
            except IntegrityError:  # the endpoint lock should make this unreachable
                raise ConflictError(
                    f"endpoint {endpoint!r} already has a rollout; see it with: "
                    f"shipyard rollout show {endpoint}"
                ) from None
            first = step_policy(base, target, plan[0], mirror=mirror)
            where = f"step 1/{len(plan)} ({plan[0]:g}%)"
            self.endpoints.revise(
                s, row, first, reason=f"rollout {rollout.id}: {where}", actor=ACTOR
            )
            rollout.revision = row.current_revision
            after = {
                "rollout": rollout.id,
                "to": target,
                "steps": plan,
                "revision": row.current_revision,
            }
            rows.add_event(s, who, "rollout.start", "rollout", endpoint, {"from": champion}, after)
            s.flush()
            return record(rollout, endpoint)

    def pause(self, endpoint: str, *, reason: str = "", actor: str | None = None) -> Rollout:
        """Hold the running rollout where it is: no step changes, traffic stays."""
        return self._by_hand(endpoint, "pause", reason, actor)

    def resume(self, endpoint: str, *, actor: str | None = None) -> Rollout:
        """Run a paused rollout again; its current step's window starts afresh."""
        return self._by_hand(endpoint, "resume", "", actor)

    def abort(self, endpoint: str, *, reason: str = "", actor: str | None = None) -> Rollout:
        """End the rollout and return the endpoint to the revision it started from (left
        as it is if someone changed the endpoint by hand meanwhile)."""
        return self._by_hand(endpoint, "abort", reason, actor)

    def _by_hand(self, endpoint: str, action: str, reason: str, actor: str | None) -> Rollout:
        who = self._actor(actor)
        with self.db.session(write=True) as s:
            row = endpoint_row(s, endpoint, lock=True)
            rollout = _active_row(s, row.id)
            if rollout is None:
                raise RolloutNotFoundError(
                    f"endpoint {endpoint!r} has no running or paused rollout; start one with: "
                    f"shipyard rollout start {endpoint} --to URI …"
                )
            before = {"state": rollout.state, "step": rollout.step}
            now = utcnow()
            touched = row.current_revision != rollout.revision
            if action == "pause":
                if rollout.state != "running":
                    raise ConflictError(
                        f"rollout {rollout.id} of {endpoint!r} is paused already; resume it "
                        f"with: shipyard rollout resume {endpoint}"
                    )
                rollout.state, rollout.reason = "paused", f"paused by {who}" + _why(reason)
            elif action == "resume":
                if rollout.state != "paused":
                    raise ConflictError(f"rollout {rollout.id} of {endpoint!r} is running already")
                if touched:
                    raise ConflictError(
                        f"endpoint {endpoint!r} was changed by hand while rollout {rollout.id} "
                        f"was paused (it is at revision {row.current_revision}, the rollout "
                        f"set {rollout.revision}); end it with: shipyard rollout abort {endpoint}"
                    )
                rollout.state, rollout.reason = "running", ""
                rollout.step_started_at, rollout.judgements = now, []
            else:
                text = f"aborted by {who}" + _why(reason)
                if touched:
                    text += (
                        f"; endpoint left at revision {row.current_revision}, which was set by hand"
                    )
                else:
                    self.endpoints.restore(
                        s,
                        row,
                        rollout.base_revision,
                        reason=f"rollout {rollout.id}: {text}",
                        actor=ACTOR,
                    )
                    rollout.revision = rollout.base_revision
                    text += f"; endpoint back at revision {rollout.base_revision}"
                rollout.state, rollout.reason = "aborted", text
            rollout.updated_at = now
            after = {"rollout": rollout.id, "state": rollout.state, "reason": rollout.reason}
            rows.add_event(s, who, f"rollout.{rollout.state}", "rollout", endpoint, before, after)
            s.flush()
            return record(rollout, endpoint)

    # -- reading -------------------------------------------------------------------------

    def get(self, endpoint: str) -> Rollout:
        """The endpoint's latest rollout (running, paused or ended)."""
        with self.db.session() as s:
            row = endpoint_row(s, endpoint)
            found = s.scalars(
                select(RolloutRow)
                .where(RolloutRow.endpoint_id == row.id)
                .order_by(RolloutRow.id.desc())
            ).first()
            if found is None:
                raise RolloutNotFoundError(
                    f"endpoint {endpoint!r} has had no rollout; start one with: "
                    f"shipyard rollout start {endpoint} --to URI …"
                )
            return record(found, row.name)

    def list(self, *, endpoint: str | None = None, active: bool = False) -> Rollouts:
        """Rollouts, newest first: all, or one endpoint's, or only running and paused."""
        query = (
            select(RolloutRow, EndpointRow.name)
            .join(EndpointRow, RolloutRow.endpoint_id == EndpointRow.id)
            .order_by(RolloutRow.id.desc())
        )
        with self.db.session() as s:
            if endpoint is not None:
                query = query.where(RolloutRow.endpoint_id == endpoint_row(s, endpoint).id)
            if active:
                query = query.where(RolloutRow.state.in_(ACTIVE))
            return [record(r, name) for r, name in s.execute(query)]

    # -- the controller ------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> Rollouts:
        """Advance every running rollout once (see the module documentation); returns
        each as it stands afterwards (those another controller moved meanwhile are left
        to it and not returned). A rollout that cannot move (say its starting version
        was archived meanwhile, so it cannot return there) is logged and tried again at
        the next tick; the others go on."""
        now = now or utcnow()
        if now.tzinfo is None:
            raise ValueError("tick(now=...) takes a timezone-aware time")
        done = []
        for rollout in self.list(active=True):
            if rollout.state != "running":
                continue
            try:
                after = self._tick_one(rollout, now)
            except ShipyardError as exc:
                log.error("rollout %s of %r could not move: %s", rollout.id, rollout.endpoint, exc)
                continue
            if after is not None:
                done.append(after)
        return done

    def _tick_one(self, rollout: Rollout, now: datetime) -> Rollout | None:
        models = sorted({ModelURI.parse(u).name for u in (rollout.from_model, rollout.to_model)})
        frames = [
            read_predictions(
                self.predictions,
                model=model,
                endpoint=rollout.endpoint,
                start=rollout.step_started_at,
                end=now,
            )
            for model in models
        ]
        frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        new, current = _rows_of(frame, rollout.to_model), _rows_of(frame, rollout.from_model)
        judged = judge(parse_guards(rollout.guards), new, current, min_rows=rollout.min_rows)
        return self._advance(rollout, judged, now)

    def _advance(self, seen: Rollout, judged: Judgements, now: datetime) -> Rollout | None:
        with self.db.session(write=True) as s:
            row = endpoint_row(s, seen.endpoint, lock=True)
            rollout = s.get(RolloutRow, seen.id, with_for_update=True)
            if rollout is None or (
                rollout.state,
                rollout.step,
                rollout.revision,
                rollout.step_started_at,
            ) != (seen.state, seen.step, seen.revision, seen.step_started_at):
                return None  # another controller (or a person) moved it since it was read
            rollout.judgements = [judgement_data(j) for j in judged]
            rollout.updated_at = now
            before = {"state": seen.state, "step": seen.step, "revision": seen.revision}
            if row.current_revision != rollout.revision:
                rollout.state = "aborted"
                rollout.reason = (
                    f"endpoint {seen.endpoint!r} was changed by hand at {seen.where}: it is at "
                    f"revision {row.current_revision}, the rollout set {rollout.revision}; "
                    "traffic left as it is"
                )
            elif breached := [j for j in judged if j.verdict == "breach"]:
                rollout.reason = f"guard breached at {seen.where}: " + "; ".join(
                    str(j) for j in breached
                )
                self.endpoints.restore(
                    s,
                    row,
                    rollout.base_revision,
                    reason=f"rollout {rollout.id}: {rollout.reason}",
                    actor=ACTOR,
                )
                rollout.state, rollout.revision = "rolled_back", rollout.base_revision
                rollout.reason += f"; endpoint back at revision {rollout.base_revision}"
            elif now - seen.step_started_at >= timedelta(seconds=seen.interval_s) and all(
                j.verdict == "pass" for j in judged
            ):
                self._next_step(s, row, rollout, seen, now)
            else:
                s.flush()
                return record(rollout, seen.endpoint)
            after = {
                "rollout": rollout.id,
                "state": rollout.state,
                "step": rollout.step,
                "revision": rollout.revision,
                "reason": rollout.reason,
                "judgements": rollout.judgements,
            }
            action = "rollout.step" if rollout.state == "running" else f"rollout.{rollout.state}"
            rows.add_event(s, ACTOR, action, "rollout", seen.endpoint, before, after)
            s.flush()
            return record(rollout, seen.endpoint)

    def _next_step(
        self, s: Session, row: EndpointRow, rollout: RolloutRow, seen: Rollout, now: datetime
    ) -> None:
        step = seen.step + 1
        share = seen.steps[step]
        base = TrafficPolicy.model_validate(revision_row(s, row, seen.base_revision).policy)
        mirror = any(g.metric == "agreement" for g in parse_guards(seen.guards))
        policy = step_policy(base, seen.to_model, share, mirror=mirror)
        where = f"step {step + 1}/{len(seen.steps)} ({share:g}%)"
        self.endpoints.revise(s, row, policy, reason=f"rollout {seen.id}: {where}", actor=ACTOR)
        rollout.step, rollout.step_started_at = step, now
        rollout.revision = row.current_revision
        if share >= 100:
            rollout.state = "succeeded"
            rollout.reason = f"{seen.to_model} serves all traffic of {seen.endpoint!r}"

    def run(
        self,
        stop: threading.Event,
        period_s: float = 5.0,
        on_tick: Callable[[Rollouts], None] | None = None,
    ) -> None:
        """Tick every ``period_s`` seconds until ``stop`` is set; a failed tick is logged
        and the next one tried (the store may be briefly unreachable)."""
        while not stop.is_set():
            try:
                ticked = self.tick()
                if on_tick is not None:
                    on_tick(ticked)
            except Exception:
                log.exception("rollouts: a tick failed; trying again in %ss", period_s)
            stop.wait(period_s)


def _why(reason: str) -> str:
    return f": {reason}" if reason else ""


def _active_row(s: Session, endpoint_id: int) -> RolloutRow | None:
    return s.scalars(
        select(RolloutRow)
        .where(RolloutRow.endpoint_id == endpoint_id, RolloutRow.state.in_(ACTIVE))
        .with_for_update()
    ).first()
