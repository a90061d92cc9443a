"""The privacy ledger on SQLite and PostgreSQL: budgets are spent up to the last
epsilon and never past it, a refused release leaves no trace, and concurrent releases
from threads (on one store object and on two, as from two processes) never overspend."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shipyard.errors import InvalidInputError, PrivacyBudgetError
from shipyard.privacy import PrivacyLedger
from shipyard.registry import Registry
from shipyard.store.database import Database

UNIT = "models:/m/1"


@pytest.fixture
def ledger(registry: Registry) -> PrivacyLedger:
    return PrivacyLedger(registry.db, default_budget=1.0)


def test_a_new_unit_has_the_default_budget_untouched(ledger: PrivacyLedger) -> None:
    budget = ledger.budget(UNIT)
    assert (budget.budget, budget.default, budget.spent, budget.remaining) == (1.0, True, 0, 1)
    assert budget.releases == []


def test_spending_up_to_the_budget_works_and_the_next_release_is_refused(
    ledger: PrivacyLedger,
) -> None:
    for _ in range(10):  # ten tenths make one, despite floating point
        ledger.spend(UNIT, 0.1, {"kind": "reference_profile"}, actor="ann")
    assert ledger.budget(UNIT).remaining == pytest.approx(0, abs=1e-12)
    with pytest.raises(PrivacyBudgetError) as refused:
        ledger.spend(UNIT, 0.01, {"kind": "reference_profile"}, actor="bob")
    assert refused.value.status_code == 409
    assert "1 of 1 spent, 0 left" in str(refused.value)
    assert "shipyard privacy set-budget models:/m/1 EPSILON" in str(refused.value)
    after = ledger.budget(UNIT)
    assert len(after.releases) == 10 and {r.released_by for r in after.releases} == {"ann"}


def test_a_refused_release_records_nothing(ledger: PrivacyLedger) -> None:
    ledger.spend(UNIT, 0.6, {"kind": "reference_profile", "columns": ["x"]}, actor="ann")
    with pytest.raises(PrivacyBudgetError, match="0.6 of 1 spent, 0.4 left"):
        ledger.spend(UNIT, 0.5, {"kind": "reference_profile"}, actor="bob")
    budget = ledger.budget(UNIT)
    assert budget.spent == pytest.approx(0.6)
    [release] = budget.releases
    assert (release.epsilon, release.released_by, release.what["columns"]) == (0.6, "ann", ["x"])
    ledger.spend(UNIT, 0.4, {"kind": "reference_profile"}, actor="bob")
    assert ledger.budget(UNIT).remaining == pytest.approx(0, abs=1e-12)


def test_a_unit_can_have_a_budget_of_its_own(ledger: PrivacyLedger) -> None:
    ledger.spend(UNIT, 0.8, {}, actor="ann")
    raised = ledger.set_budget(UNIT, 3.0, actor="admin")
    assert (raised.budget, raised.default, raised.remaining) == (3.0, False, pytest.approx(2.2))
    assert ledger.budget("models:/m/2").budget == 1.0  # others keep the default
    lowered = ledger.set_budget(UNIT, 0.5, actor="admin")
    assert lowered.remaining == 0  # what was spent stays spent
    with pytest.raises(PrivacyBudgetError):
        ledger.spend(UNIT, 0.001, {}, actor="ann")
    with pytest.raises(InvalidInputError, match="a budget must be a positive"):
        ledger.set_budget(UNIT, 0, actor="admin")


def test_a_bad_epsilon_is_refused(ledger: PrivacyLedger) -> None:
    for epsilon in (0, -0.1, float("nan"), float("inf")):
        with pytest.raises(InvalidInputError, match="epsilon must be a positive"):
            ledger.spend(UNIT, epsilon, {}, actor="ann")
    assert ledger.budget(UNIT).spent == 0


def test_concurrent_releases_never_overspend(registry: Registry) -> None:
    # Half the threads use a second Database object (its own engine and pool), as a
    # second process would; all start at once on a unit that has never been used.
    other = Database(registry.db.url)
    ledgers = [PrivacyLedger(registry.db, 1.0), PrivacyLedger(other, 1.0)]
    start = threading.Barrier(24)

    def release(i: int) -> bool:
        start.wait()
        try:
            ledgers[i % 2].spend(UNIT, 0.25, {"thread": i}, actor=f"t{i}")
        except PrivacyBudgetError:
            return False
        return True

    try:
        with ThreadPoolExecutor(24) as pool:
            granted = list(pool.map(release, range(24)))
    finally:
        other.dispose()
    assert sum(granted) == 4
    budget = ledgers[0].budget(UNIT)
    assert budget.spent == pytest.approx(1.0)
    assert len(budget.releases) == 4
    assert sorted(r.what["thread"] for r in budget.releases) == sorted(
        i for i, ok in enumerate(granted) if ok
    )
