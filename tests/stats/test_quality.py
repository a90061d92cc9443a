"""Data quality of a window against a reference profile and signature, on generated data
with known counts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidInputError
from shipyard.schema.signature import Signature
from shipyard.stats.profile import profile_frame
from shipyard.stats.quality import data_quality

N = 1_000


@pytest.fixture
def training() -> pd.DataFrame:
    rng = np.random.default_rng(21)
    income = rng.uniform(1_000, 9_000, N)
    income[:50] = np.nan  # 5 % missing in training
    return pd.DataFrame(
        {
            "age": rng.integers(18, 91, N),  # 18 … 90
            "income": income,
            "plan": rng.choice(["basic", "plus", "pro"], N),
            "active": rng.random(N) < 0.5,
            "country": pd.Series(rng.choice(["fr", "de"], N), dtype="str"),
        }
    )


def _window(rng: np.random.Generator) -> pd.DataFrame:
    n = 400
    age = rng.integers(18, 91, n).astype(object)
    age[:7] = 12  # below the minimum 18
    age[7:10] = 130  # above the maximum 90
    age[10:14] = "forty"  # wrong type
    age[14] = 33.5  # not an integer
    age[15:20] = None  # missing
    income = rng.uniform(1_000, 9_000, n)
    income[:80] = np.nan  # 20 % missing
    plan = rng.choice(["basic", "plus", "pro"], n).astype(object)
    plan[:6] = "gold"
    plan[6:8] = "platinum"
    active = np.array([True] * n, dtype=object)
    active[:2] = "yes"  # wrong type
    return pd.DataFrame(
        {"age": age, "income": income, "plan": plan, "active": active, "extra": 1.0}
    )


def test_known_counts_against_profile_and_signature(training: pd.DataFrame) -> None:
    window = _window(np.random.default_rng(1))
    report = data_quality(window, profile_frame(training), signature=Signature.infer(training))
    assert report.rows == 400
    assert report.missing_columns == ["country"]
    assert report.unexpected_columns == ["extra"]

    age = report.columns["age"]
    assert age.expected == "int"
    assert age.violations == 5
    assert age.violation_examples == ["'forty'", "'forty'", "'forty'", "'forty'", "33.5"]
    assert age.missing == 5 and age.missing_rate == pytest.approx(5 / 400)
    assert age.reference_missing_rate == 0.0
    assert (age.below_min, age.above_max) == (7, 3)
    assert (age.reference_min, age.reference_max) == (18.0, 90.0)
    assert age.unseen is None

    income = report.columns["income"]
    assert income.violations == 0 and income.missing == 80
    assert income.reference_missing_rate == pytest.approx(0.05)
    assert income.missing_rate_change == pytest.approx(0.20 - 0.05)
    assert (income.below_min, income.above_max) == (0, 0)

    plan = report.columns["plan"]
    assert plan.expected == "string"
    assert plan.unseen == 8
    assert plan.unseen_examples == {"gold": 6, "platinum": 2}
    assert plan.violations == 0 and not plan.constant

    active = report.columns["active"]
    assert active.violations == 2 and active.violation_examples == ["'yes'", "'yes'"]
    assert active.constant and active.distinct == 1

    assert report.columns_with_issues == ["age", "plan", "active"]
    assert json.loads(json.dumps(report.to_dict()))["columns"]["plan"]["unseen"] == 8


def test_profile_alone_uses_its_kinds_and_categories(training: pd.DataFrame) -> None:
    window = _window(np.random.default_rng(2))
    report = data_quality(window, profile_frame(training))
    age = report.columns["age"]
    assert age.expected == "float"
    assert age.violations == 4  # 33.5 is a fine number when only the profile is known
    assert (age.below_min, age.above_max) == (7, 3)
    plan = report.columns["plan"]
    assert plan.expected == "category" and plan.unseen == 8
    # a profile that lists only the top categories cannot tell what is unseen
    partial = data_quality(window, profile_frame(training, max_categories=2))
    assert partial.columns["plan"].unseen is None


def test_a_clean_window_has_no_issues(training: pd.DataFrame) -> None:
    report = data_quality(
        training.iloc[:300], profile_frame(training), signature=Signature.infer(training)
    )
    assert report.columns_with_issues == []
    assert report.missing_columns == [] and report.unexpected_columns == []
    assert all(c.violations == 0 for c in report.columns.values())
    assert report.columns["income"].missing == 50


def test_datetime_and_category_columns() -> None:
    stamps = pd.Series(pd.date_range("2026-01-01", periods=100, freq="h"))
    colour = pd.Series(["red", "blue"] * 50, dtype="category")
    training = pd.DataFrame({"when": stamps, "colour": colour})
    window = pd.DataFrame(
        {
            "when": ["2026-02-01T10:00:00", "not a date", "2026-02-01", 17, None],
            "colour": ["red", "green", "green", "blue", None],
        }
    )
    report = data_quality(window, profile_frame(training), signature=Signature.infer(training))
    when = report.columns["when"]
    assert when.violations == 2 and when.violation_examples == ["'not a date'", "17"]
    assert when.missing == 1
    colour = report.columns["colour"]
    assert colour.unseen == 2 and colour.unseen_examples == {"green": 2}
    empty = data_quality(window.iloc[:0], profile_frame(training))
    assert empty.columns["when"].missing_rate is None


def test_user_errors_say_what_to_do(training: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="DataFrame"):
        data_quality([[1, 2]], profile_frame(training))  # type: ignore[arg-type]
    doubled = pd.DataFrame([[1, 2]], columns=["age", "age"])
    with pytest.raises(InvalidInputError, match="appear twice"):
        data_quality(doubled, profile_frame(training))


def test_many_strings_fall_back_to_the_profile_categories() -> None:
    training = pd.DataFrame({"shop": [f"s{i:03d}" for i in range(150)]})
    signature = Signature.infer(training)
    assert signature.inputs[0].categories is None  # too many to list in a signature
    window = pd.DataFrame({"shop": ["s001", "s999", "s999", "new"]})
    report = data_quality(window, profile_frame(training), signature=signature)
    assert report.columns["shop"].unseen == 3
    assert report.columns["shop"].unseen_examples == {"s999": 2, "new": 1}
