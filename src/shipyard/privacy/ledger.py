"""The privacy ledger: each privacy unit's epsilon budget, and every release spent on it.

A privacy unit (a *subject*) is the data one budget protects: ``models:/NAME/N`` is a
version's reference sample, ``endpoint:NAME`` and ``model:NAME`` the prediction log a
monitor of that endpoint or model reads (every monitor of one endpoint draws on the
same budget, so a new monitor brings no fresh epsilon). By sequential composition the
privacy loss of an individual in a unit is at most the sum of the epsilons spent on it,
which the ledger keeps at or under the unit's budget.

:meth:`PrivacyLedger.spend` checks and records in one transaction under the unit's row
lock (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's writers are serialised at
``BEGIN IMMEDIATE``), so concurrent releases, in threads or processes, never spend more
than the budget together. A release the budget cannot pay for raises
:class:`~shipyard.errors.PrivacyBudgetError` and leaves no trace.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shipyard.errors import InvalidInputError, PrivacyBudgetError
from shipyard.stats.privacy import check_epsilon
from shipyard.store.database import Database
from shipyard.store.tables import PrivacyBudgetRow, PrivacyReleaseRow, utcnow

#: Relative slack in comparing sums of epsilons, so ten releases of 0.1 fit a budget of 1.
SLACK = 1e-9


class Release(BaseModel):
    """One entry of the ledger."""

    model_config = ConfigDict(frozen=True)

    release_id: str
    subject: str
    epsilon: float
    what: dict[str, Any]
    """What was released: ``kind`` (``reference_profile`` or ``monitor_window``),
    ``columns``, and for a monitor its name and window."""
    released_by: str
    released_at: datetime


class Budget(BaseModel):
    """A privacy unit's budget, what it spent, and its latest releases (newest first)."""

    model_config = ConfigDict(frozen=True)

    subject: str
    budget: float
    default: bool
    """Whether ``budget`` is ``SHIPYARD_PRIVACY_BUDGET`` (no budget set for this unit)."""
    spent: float
    remaining: float
    releases: list[Release] = []

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def remaining(budget: float, spent: float) -> float:
    """What is left to spend: ``budget - spent``, 0 within :data:`SLACK`."""
    left = budget - spent
    return 0.0 if left <= budget * SLACK else left


def _release(row: PrivacyReleaseRow) -> Release:
    return Release(
        release_id=row.id,
        subject=row.subject,
        epsilon=row.epsilon,
        what=row.what,
        released_by=row.released_by,
        released_at=row.released_at,
    )


def _check_budget(budget: Any) -> float:
    try:
        return check_epsilon(budget)
    except InvalidInputError:
        raise InvalidInputError(
            f"a budget must be a positive finite epsilon, e.g. 1.0; got {budget!r}"
        ) from None


class PrivacyLedger:
    """Budgets and releases in ``db``; units without a budget of their own get
    ``default_budget``."""

    def __init__(self, db: Database, default_budget: float) -> None:
        self.db = db
        self.default_budget = default_budget

    def _locked(self, s: Session, subject: str, actor: str) -> PrivacyBudgetRow:
        """The unit's row, created if new, locked until the transaction ends."""
        dialect = postgresql if s.get_bind().dialect.name == "postgresql" else sqlite
        s.execute(
            dialect.insert(PrivacyBudgetRow)
            .values(subject=subject, budget=None, spent=0.0, updated_by=actor, updated_at=utcnow())
            .on_conflict_do_nothing(index_elements=["subject"])
        )
        query = select(PrivacyBudgetRow).where(PrivacyBudgetRow.subject == subject)
        row = s.scalars(query.with_for_update().execution_options(populate_existing=True)).one()
        return row

    def _budget(
        self, row: PrivacyBudgetRow | None, subject: str, releases: list[Release]
    ) -> Budget:
        budget = self.default_budget if row is None or row.budget is None else row.budget
        spent = 0.0 if row is None else row.spent
        return Budget(
            subject=subject,
            budget=budget,
            default=row is None or row.budget is None,
            spent=spent,
            remaining=remaining(budget, spent),
            releases=releases,
        )

    def budget(self, subject: str, *, limit: int = 100) -> Budget:
        """The unit's budget and its latest ``limit`` releases."""
        with self.db.session() as s:
            row = s.get(PrivacyBudgetRow, subject)
            query = (
                select(PrivacyReleaseRow)
                .where(PrivacyReleaseRow.subject == subject)
                .order_by(PrivacyReleaseRow.released_at.desc(), PrivacyReleaseRow.id)
                .limit(limit)
            )
            return self._budget(row, subject, [_release(r) for r in s.scalars(query)])

    def set_budget(self, subject: str, budget: float, *, actor: str) -> Budget:
        """Give the unit a budget of its own. Lowering it below what was spent leaves
        nothing to spend; what was spent stays spent."""
        value = _check_budget(budget)
        with self.db.session(write=True) as s:
            row = self._locked(s, subject, actor)
            row.budget = value
            row.updated_by, row.updated_at = actor, utcnow()
            s.flush()
            return self._budget(row, subject, [])

    def spend(
        self,
        subject: str,
        epsilon: float,
        what: dict[str, Any],
        *,
        actor: str,
        target: str | None = None,
    ) -> Release:
        """Record a release of ``epsilon`` on the unit, or raise
        :class:`~shipyard.errors.PrivacyBudgetError` (recording nothing) when its budget
        has less left; ``target`` names the unit for ``shipyard privacy set-budget`` in
        that error (default: ``subject``)."""
        epsilon = check_epsilon(epsilon)
        with self.db.session(write=True) as s:
            row = self._locked(s, subject, actor)
            budget = self.default_budget if row.budget is None else row.budget
            if row.spent + epsilon > budget * (1 + SLACK):
                left = remaining(budget, row.spent)
                raise PrivacyBudgetError(
                    f"releasing epsilon {epsilon:g} would exceed the privacy budget of "
                    f"{subject}: {row.spent:.6g} of {budget:.6g} spent, {left:.6g} left; release "
                    f"with an epsilon of at most {left:.6g}, or raise the budget with: shipyard "
                    f"privacy set-budget {target or subject} EPSILON (every release adds to "
                    "what can be learnt about the rows)"
                )
            now = utcnow()
            row.spent += epsilon
            row.updated_by, row.updated_at = actor, now
            record = PrivacyReleaseRow(
                id=uuid.uuid4().hex,
                subject=subject,
                epsilon=epsilon,
                what=what,
                released_by=actor,
                released_at=now,
            )
            s.add(record)
            s.flush()
            return _release(record)
