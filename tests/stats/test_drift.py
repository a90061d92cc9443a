"""shipyard.drift_report: default choices, overrides, calibrated mode, the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import shipyard
from shipyard.errors import InvalidInputError
from shipyard.stats.drift import drift_report


def _frame(rows: int, seed: int, shift: float = 0.0, mix: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = [0.6, 0.2, 0.2] if mix else [0.2, 0.4, 0.4]
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift * 10, 10, rows),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], rows, p=p)),
            "city": rng.choice(["x", "y", "z", "w"], rows),
            "member": rng.random(rows) < (0.6 if mix else 0.3),
            "stars": rng.integers(1, 4, rows),
        }
    )


def test_small_tables_get_p_value_tests_and_large_ones_distances() -> None:
    small = drift_report(_frame(500, 0), _frame(400, 1))
    assert [c.test for c in small.columns] == ["ks", "chisquare", "chisquare", "ztest", "chisquare"]
    large = drift_report(_frame(5000, 0), _frame(4000, 1))
    assert [c.test for c in large.columns] == [
        "wasserstein",
        "jensenshannon",
        "jensenshannon",
        "jensenshannon",
        "jensenshannon",
    ]
    assert not small.dataset_drift and not large.dataset_drift
    assert large.drifted_columns == 0 and large.tested_columns == 5


def test_the_default_statistics_are_scipys() -> None:
    ref, cur = _frame(500, 0), _frame(400, 1, shift=0.5)
    report = drift_report(ref, cur)
    age = report.column("age")
    expected = stats.ks_2samp(ref["age"], cur["age"])
    assert age.statistic == pytest.approx(expected.statistic, abs=1e-9)
    assert age.p_value == pytest.approx(expected.pvalue, abs=1e-9)
    assert age.drift_detected and age.threshold == 0.05 and age.threshold_kind == "p_value"
    large_ref, large_cur = _frame(5000, 0), _frame(4000, 1, shift=0.5)
    age = drift_report(large_ref, large_cur).column("age")
    w = stats.wasserstein_distance(large_ref["age"], large_cur["age"]) / np.std(large_ref["age"])
    assert age.statistic == pytest.approx(w, abs=1e-9)
    assert age.p_value is None and age.drift_detected


def test_dataset_drift_follows_drift_share() -> None:
    ref, cur = _frame(3000, 0), _frame(3000, 1, shift=1.0, mix=True)  # age, colour, member
    report = drift_report(ref, cur)
    assert report.drifted_columns == 3 and report.drifted_share == pytest.approx(0.6)
    assert report.dataset_drift
    assert not drift_report(ref, cur, drift_share=0.7).dataset_drift
    entries = report.to_dict()["columns"]
    assert {e["column"]: e["drift_detected"] for e in entries} == {
        "age": True,
        "colour": True,
        "city": False,
        "member": True,
        "stars": False,
    }
    assert set(entries[0]) >= {"column", "test", "statistic", "p_value", "threshold"}


def test_tests_and_thresholds_can_be_overridden_per_column() -> None:
    ref, cur = _frame(3000, 0), _frame(3000, 1, shift=0.3)
    report = drift_report(ref, cur, tests={"age": "psi", "city": "chisquare"})
    assert report.column("age").test == "psi" and report.column("city").test == "chisquare"
    assert report.column("age").threshold == 0.1
    report = drift_report(ref, cur, thresholds={"age": 10.0})
    assert report.column("age").threshold == 10.0 and not report.column("age").drift_detected


def test_missing_values_are_counted_and_left_out() -> None:
    ref, cur = _frame(800, 0), _frame(800, 1)
    holed = cur.copy()
    holed.loc[::4, "age"] = np.nan
    holed["city"] = holed["city"].astype(object)
    holed.loc[::5, "city"] = None
    report = drift_report(ref, holed)
    age, city = report.column("age"), report.column("city")
    assert (age.current_missing, age.current_count) == (200, 600)
    assert (city.current_missing, city.current_count) == (160, 640)
    expected = stats.ks_2samp(ref["age"], holed["age"].dropna())
    assert age.p_value == pytest.approx(expected.pvalue, abs=1e-9)


def test_columns_in_one_table_only_are_listed_and_empty_ones_noted() -> None:
    ref, cur = _frame(300, 0), _frame(300, 1)
    cur = cur.drop(columns=["city"]).assign(extra=1.0, age=np.nan)
    report = drift_report(ref, cur)
    assert report.only_in_reference == ["city"] and report.only_in_current == ["extra"]
    age = report.column("age")
    assert age.test is None and not age.drift_detected
    assert age.note == "no non-missing values in the current table"
    assert report.tested_columns == 3


def test_user_errors_say_what_to_do() -> None:
    ref, cur = _frame(300, 0), _frame(300, 1)
    with pytest.raises(InvalidInputError, match="choose one of"):
        drift_report(ref, cur, tests={"age": "t-test"})
    with pytest.raises(InvalidInputError, match="not tested"):
        drift_report(ref, cur, thresholds={"height": 0.1})
    with pytest.raises(InvalidInputError, match="choose a test"):
        drift_report(ref, cur, tests={"city": "ks"})
    with pytest.raises(InvalidInputError, match="DataFrame"):
        drift_report(ref, cur["age"])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="drift_share"):
        drift_report(ref, cur, drift_share=0)


def test_calibrated_mode_gives_distances_permutation_p_values() -> None:
    ref, cur = _frame(3000, 0), _frame(3000, 1, shift=0.3)
    report = drift_report(ref, cur, mode="calibrated", permutations=99)
    age, city = report.column("age"), report.column("city")
    assert age.test == "wasserstein" and age.p_value == pytest.approx(0.01)
    assert age.drift_detected and age.threshold == 0.05 and age.threshold_kind == "p_value"
    assert city.p_value is not None and city.p_value > 0.05 and not city.drift_detected
    again = drift_report(ref, cur, mode="calibrated", permutations=99)
    assert again == report  # a fixed seed


def test_calibrated_mode_alarms_at_about_alpha_where_fixed_thresholds_do_not() -> None:
    # 40 same-distribution pairs of 100 rows: the fixed 0.1 Wasserstein threshold fires
    # on most of them, the permutation p-value on about alpha of them.
    fixed = calibrated = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        ref = pd.DataFrame({"x": rng.normal(size=100)})
        cur = pd.DataFrame({"x": rng.normal(size=100)})
        fixed += drift_report(ref, cur, tests={"x": "wasserstein"}).drifted_columns
        calibrated += drift_report(
            ref, cur, tests={"x": "wasserstein"}, mode="calibrated", permutations=99
        ).drifted_columns
    assert fixed >= 20
    assert calibrated <= 6


def test_the_sdk_exports_drift_report() -> None:
    assert shipyard.drift_report is drift_report
    report = shipyard.drift_report(_frame(200, 0), _frame(200, 1))
    assert isinstance(report, shipyard.DriftReport)
    assert report.to_dict()["dataset_drift"] is False


def test_dataset_drift_at_exactly_drift_share() -> None:
    ref, cur = _frame(3000, 0), _frame(3000, 1, shift=1.0, mix=True)
    report = drift_report(ref, cur, columns=["age", "city", "member", "stars"])
    assert report.drifted_columns == 2 and report.drifted_share == 0.5
    assert report.dataset_drift


def test_calibrated_numbers_are_permuted_on_a_bounded_subsample() -> None:
    ref, cur = _frame(3000, 0), _frame(3000, 1, shift=0.3)
    full = drift_report(ref, cur, mode="calibrated", permutations=99).column("age")
    few = drift_report(
        ref, cur, mode="calibrated", permutations=99, max_permutation_rows=30
    ).column("age")
    assert full.statistic == few.statistic  # the statistic is always the full data's
    assert full.drift_detected and few.p_value is not None and few.p_value > 0.05


def test_datetimes_are_compared_as_times_and_booleans_as_categories() -> None:
    start = pd.Timestamp("2026-01-01")
    rng = np.random.default_rng(4)
    ref = pd.DataFrame(
        {
            "at": start + pd.to_timedelta(rng.uniform(0, 30, 2000), unit="D"),
            "flag": pd.array(rng.random(2000) < 0.5, dtype="boolean"),
        }
    )
    cur = ref.assign(at=ref["at"] + pd.Timedelta(days=10))
    report = drift_report(ref, cur)
    at, flag = report.column("at"), report.column("flag")
    assert (at.kind, at.test, at.drift_detected) == ("datetime", "wasserstein", True)
    seconds = (ref["at"] - start) / pd.Timedelta(1, "s")
    assert at.statistic == pytest.approx(10 * 86400 / np.std(seconds), abs=1e-9)
    assert (flag.kind, flag.test, flag.statistic) == ("boolean", "jensenshannon", 0.0)
