"""Reference profiles, checked against numpy and pandas computed here."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

import shipyard.stats
from shipyard.errors import InvalidInputError
from shipyard.stats import (
    QUANTILE_LEVELS,
    ColumnProfile,
    DatasetProfile,
    profile_frame,
    profile_series,
    profile_values,
    quantile_key,
)

BINS = 20


def _finite(series: pd.Series[Any]) -> np.ndarray[Any, Any]:
    values = series.to_numpy(dtype="float64", na_value=np.nan)
    return values[np.isfinite(values)]


def _expected_categories(series: pd.Series[Any], k: int) -> tuple[dict[str, int], int]:
    counts = series.dropna().astype(str).value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    listed = {str(label): int(n) for label, n in ranked[:k]}
    return listed, int(counts.sum()) - sum(listed.values())


def _epoch_seconds(series: pd.Series[Any]) -> np.ndarray[Any, Any]:
    origin = pd.Timestamp("1970-01-01", tz="UTC" if getattr(series.dtype, "tz", None) else None)
    seconds = ((series.dropna() - origin) / pd.Timedelta(1, "s")).to_numpy(dtype="float64")
    return seconds


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 5_000
    floats = rng.normal(10, 3, n)
    floats[rng.choice(n, 300, replace=False)] = np.nan
    floats[:4] = [np.inf, -np.inf, np.inf, 0.0]
    floats[10:15] = 0.0
    nullable = pd.array(rng.integers(-3, 3, n), dtype="Int64")
    nullable[rng.choice(n, 100, replace=False)] = pd.NA
    colours = pd.Series(rng.choice(["red", "green", "blue", "grey", "teal"], n), dtype="str")
    colours[rng.choice(n, 50, replace=False)] = None
    return pd.DataFrame(
        {
            "x": floats,
            "wide_int": rng.integers(0, 1_000, n),
            "small_int": nullable,
            "colour": colours,
            "grade": pd.Categorical(
                rng.choice(["a", "b", "c"], n), categories=["c", "b", "a", "z"]
            ),
            "flag": rng.random(n) < 0.3,
            "maybe": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "when": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, n), "s"),
        },
        index=rng.permutation(n) + 1000,
    )


def test_public_names_are_sorted_and_exist() -> None:
    assert shipyard.stats.__all__ == sorted(shipyard.stats.__all__)
    for name in shipyard.stats.__all__:
        assert hasattr(shipyard.stats, name), name


def test_numeric_statistics_match_numpy(frame: pd.DataFrame) -> None:
    column = profile_frame(frame, bins=BINS).columns["x"]
    series = frame["x"]
    finite = _finite(series)
    assert column.kind == "numeric"
    assert column.dtype == "float64"
    assert column.count == series.notna().sum()
    assert column.missing == series.isna().sum()
    assert column.missing_rate == pytest.approx(series.isna().mean())
    assert column.infinite == np.isinf(series).sum() == 3
    assert column.zeros == (series == 0).sum()
    assert column.min == finite.min() and column.max == finite.max()
    assert column.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert column.std == pytest.approx(pd.Series(finite).std(), rel=1e-12)
    assert column.quantiles is not None
    assert list(column.quantiles) == [quantile_key(q) for q in QUANTILE_LEVELS]
    np.testing.assert_array_equal(
        list(column.quantiles.values()), np.quantile(finite, QUANTILE_LEVELS)
    )
    assert column.distinct == series.dropna().nunique()
    counts, edges = np.histogram(finite, bins=BINS)
    assert column.histogram is not None and column.histogram.values is None
    np.testing.assert_array_equal(column.histogram.counts, counts)
    np.testing.assert_array_equal(column.histogram.edges, edges)
    assert sum(column.histogram.counts) == finite.size


def test_quantile_keys_and_lookup(frame: pd.DataFrame) -> None:
    column = profile_series(frame["x"])
    assert [quantile_key(q) for q in (0.0, 0.25, 0.01, 1.0)] == ["0", "0.25", "0.01", "1"]
    assert column.quantile(0.5) == np.median(_finite(frame["x"]))
    with pytest.raises(InvalidInputError, match="no quantile at 0.3"):
        column.quantile(0.3)


def test_integer_column_with_many_values_gets_equal_width_bins(frame: pd.DataFrame) -> None:
    column = profile_series(frame["wide_int"], bins=BINS)
    values = frame["wide_int"].to_numpy()
    counts, edges = np.histogram(values, bins=BINS)
    assert column.histogram is not None and column.histogram.values is None
    np.testing.assert_array_equal(column.histogram.counts, counts)
    np.testing.assert_array_equal(column.histogram.edges, edges)
    assert column.std == pytest.approx(frame["wide_int"].std(), rel=1e-12)


def test_integer_column_with_few_values_counts_each_value(frame: pd.DataFrame) -> None:
    column = profile_series(frame["small_int"], bins=BINS)
    expected = frame["small_int"].value_counts().sort_index()
    assert column.kind == "numeric" and column.dtype == "Int64"
    assert column.missing == frame["small_int"].isna().sum() == 100
    assert column.histogram is not None
    assert column.histogram.values == [float(v) for v in expected.index]
    assert column.histogram.counts == expected.tolist()
    assert len(column.histogram.edges) == len(expected) + 1
    assert column.distinct == len(expected)


def test_bin_counts_of_the_reference_reproduce_the_histogram(frame: pd.DataFrame) -> None:
    profile = profile_frame(frame, bins=BINS)
    for name in ("x", "wide_int", "small_int", "when"):
        column = profile.columns[name]
        assert column.histogram is not None, name
        assert column.bin_counts(frame[name]).tolist() == column.histogram.counts, name


def test_bin_counts_put_outside_values_in_the_end_bins(frame: pd.DataFrame) -> None:
    column = profile_series(frame["x"], bins=BINS)
    assert column.histogram is not None
    edges = np.asarray(column.histogram.edges)
    current = np.random.default_rng(1).normal(12, 6, 2_000)
    current[:3] = [np.nan, np.inf, -np.inf]
    finite = current[np.isfinite(current)]
    expected, _ = np.histogram(np.clip(finite, edges[0], edges[-1]), bins=edges)
    counts = column.bin_counts(current)
    np.testing.assert_array_equal(counts, expected)
    assert counts[0] >= (finite < edges[0]).sum() > 0
    assert counts[-1] >= (finite > edges[-1]).sum() > 0


def test_values_on_inner_edges_go_to_the_upper_bin() -> None:
    values = np.arange(0.0, 21.0)  # with 20 bins every value is an edge
    column = profile_values(values, bins=20)
    counts, edges = np.histogram(values, bins=20)
    assert column.histogram is not None and column.histogram.counts == counts.tolist()
    assert counts.tolist() == [1] * 19 + [2]
    np.testing.assert_array_equal(column.histogram.edges, edges)
    assert column.bin_counts(values).tolist() == counts.tolist()


def test_discrete_bin_counts_follow_the_reference_values() -> None:
    column = profile_values(np.array([1, 1, 2, 5, 5, 5]), bins=BINS)
    assert column.histogram is not None and column.histogram.values == [1.0, 2.0, 5.0]
    assert column.bin_counts([0, 1, 2, 3, 4, 5, 9]).tolist() == [2, 2, 3]
    probabilities = column.histogram_probabilities()
    np.testing.assert_allclose(probabilities, np.array([2, 1, 3]) / 6)


def test_categories_are_ranked_by_count_then_label() -> None:
    labels = ["b"] * 5 + ["a"] * 5 + ["d"] * 3 + ["c"] * 3 + ["e"] * 3 + ["f"] + [None] * 2
    series = pd.Series(labels, dtype="str")
    for k in (0, 1, 3, 4, 6, 1000):
        column = profile_series(series, max_categories=k)
        categories, other = _expected_categories(series, k)
        assert column.categories == categories and list(column.categories) == list(categories)
        assert column.other == other, k
    many = pd.Series(np.random.default_rng(2).integers(0, 3_000, 6_000)).map("v{}".format)
    for k in (1, 100, 2_999, 5_000):
        column = profile_series(many, max_categories=k)
        assert (column.categories, column.other) == _expected_categories(many, k), k
    column = profile_series(series, max_categories=3)
    assert list(column.categories or {}) == ["a", "b", "c"]
    assert (column.kind, column.distinct, column.missing, column.count) == ("categorical", 6, 2, 20)


def test_categorical_and_boolean_columns_match_value_counts(frame: pd.DataFrame) -> None:
    profile = profile_frame(frame, max_categories=3)
    kinds = {name: column.kind for name, column in profile.columns.items()}
    assert kinds == {
        "x": "numeric",
        "wide_int": "numeric",
        "small_int": "numeric",
        "colour": "categorical",
        "grade": "categorical",
        "flag": "boolean",
        "maybe": "boolean",
        "when": "datetime",
    }
    for name in ("colour", "grade", "flag", "maybe"):
        column = profile.columns[name]
        categories, other = _expected_categories(frame[name], 3)
        assert (column.categories, column.other) == (categories, other), name
        assert column.distinct == frame[name].nunique(), name
        assert column.missing == frame[name].isna().sum(), name
    assert set(profile.columns["flag"].categories or {}) == {"True", "False"}
    assert "z" not in (profile.columns["grade"].categories or {})  # declared, never seen


def test_category_counts_share_the_reference_layout(frame: pd.DataFrame) -> None:
    column = profile_series(frame["colour"], max_categories=3)
    reference = column.category_counts(frame["colour"])
    assert reference.tolist() == [*(column.categories or {}).values(), column.other]
    np.testing.assert_allclose(column.category_probabilities(), reference / reference.sum())
    listed = list(column.categories or {})
    unlisted = next(c for c in ("red", "green", "blue", "grey", "teal") if c not in listed)
    current = column.category_counts([*listed, listed[0], "purple", "purple", None, unlisted])
    assert current.tolist() == [2, 1, 1, 3]


def test_values_sharing_a_label_are_pooled() -> None:
    column = profile_values(np.array([1, "1", 2, None], dtype=object))
    assert column.kind == "categorical"
    assert (column.categories, column.other, column.distinct) == ({"1": 2, "2": 1}, 0, 2)


def test_object_numbers_are_numeric() -> None:
    series = pd.Series([3, None, 1, 2], dtype=object)
    column = profile_series(series)
    assert (column.kind, column.count, column.missing, column.min, column.max) == (
        "numeric",
        3,
        1,
        1.0,
        3.0,
    )
    assert column.histogram is not None and column.histogram.values == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_datetimes(frame: pd.DataFrame, tz: str | None) -> None:
    series = frame["when"] if tz is None else frame["when"].dt.tz_localize("UTC").dt.tz_convert(tz)
    series = series.copy()
    series.iloc[:7] = pd.NaT
    column = profile_series(series, bins=BINS)
    assert column.kind == "datetime" and column.missing == 7
    assert column.earliest == series.min().isoformat()
    assert column.latest == series.max().isoformat()
    assert column.distinct == series.nunique()
    counts, edges = np.histogram(_epoch_seconds(series), bins=BINS)
    assert column.histogram is not None
    np.testing.assert_array_equal(column.histogram.counts, counts)
    np.testing.assert_allclose(column.histogram.edges, edges, rtol=1e-15)
    assert column.bin_counts(series).tolist() == counts.tolist()
    assert column.min is None and column.quantiles is None
    with pytest.raises(InvalidInputError, match="expected datetimes"):
        column.bin_counts(["not a date"])


def test_json_round_trip(frame: pd.DataFrame) -> None:
    profile = profile_frame(frame, created_from="training data")
    payload = json.dumps(profile.model_dump(mode="json"), allow_nan=False)
    restored = DatasetProfile.model_validate(json.loads(payload))
    assert restored == profile
    assert restored.model_dump_json() == profile.model_dump_json()
    assert restored.created_from == "training data" and restored.rows == len(frame)
    assert restored.column("colour") == profile.columns["colour"]
    with pytest.raises(InvalidInputError, match="no column 'nope'"):
        restored.column("nope")


def test_same_data_gives_the_same_bytes(frame: pd.DataFrame) -> None:
    first = profile_frame(frame).model_dump_json()
    assert profile_frame(frame.copy()).model_dump_json() == first
    assert profile_frame(frame.reset_index(drop=True)).model_dump_json() == first
    shuffled_labels = profile_series(frame["colour"].sample(frac=1, random_state=3))
    assert shuffled_labels.categories == profile_series(frame["colour"]).categories


def test_same_data_gives_the_same_bytes_in_another_process() -> None:
    code = (
        "import numpy as np, pandas as pd; from shipyard.stats import profile_frame; "
        "rng = np.random.default_rng(5); "
        "df = pd.DataFrame({'x': rng.normal(size=999), "
        "'c': rng.choice(['p', 'q', 'r', 's'], 999)}); "
        "print(profile_frame(df, max_categories=2).model_dump_json())"
    )
    outputs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    rng = np.random.default_rng(5)
    local = pd.DataFrame({"x": rng.normal(size=999), "c": rng.choice(["p", "q", "r", "s"], 999)})
    assert (
        outputs[0] == outputs[1] == profile_frame(local, max_categories=2).model_dump_json() + "\n"
    )


def test_empty_frames() -> None:
    empty = pd.DataFrame(
        {
            "x": pd.Series([], dtype="float64"),
            "i": pd.Series([], dtype="Int64"),
            "s": pd.Series([], dtype="str"),
            "b": pd.Series([], dtype="bool"),
            "t": pd.Series([], dtype="datetime64[ns]"),
        }
    )
    profile = profile_frame(empty)
    assert profile.rows == 0
    for column in profile.columns.values():
        assert (column.count, column.missing, column.missing_rate, column.distinct) == (
            0,
            0,
            None,
            0,
        )
        assert column.histogram is None and column.min is None and column.earliest is None
    assert profile.columns["s"].categories == {} and profile.columns["s"].other == 0
    assert profile_frame(pd.DataFrame()).model_dump(mode="json")["columns"] == {}


def test_all_missing_columns() -> None:
    n = 4
    frame = pd.DataFrame(
        {
            "x": np.full(n, np.nan),
            "i": pd.array([pd.NA] * n, dtype="Int64"),
            "s": pd.Series([None] * n, dtype="str"),
            "o": pd.Series([None] * n, dtype=object),
            "b": pd.array([pd.NA] * n, dtype="boolean"),
            "t": pd.Series([pd.NaT] * n, dtype="datetime64[us]"),
        }
    )
    profile = profile_frame(frame)
    for name, column in profile.columns.items():
        assert (column.count, column.missing, column.missing_rate) == (0, n, 1.0), name
        assert column.histogram is None and column.mean is None and column.std is None, name
    assert profile.columns["x"].quantiles is None and profile.columns["x"].infinite == 0
    with pytest.raises(InvalidInputError, match="has no histogram"):
        profile.columns["x"].bin_counts([1.0])
    json.dumps(profile.model_dump(mode="json"), allow_nan=False)


def test_a_single_row() -> None:
    column = profile_values([2.5], bins=BINS)
    counts, edges = np.histogram([2.5], bins=BINS)
    assert (column.min, column.max, column.mean, column.std) == (2.5, 2.5, 2.5, None)
    assert column.histogram is not None
    assert column.histogram.counts == counts.tolist()
    np.testing.assert_array_equal(column.histogram.edges, edges)
    assert set((column.quantiles or {}).values()) == {2.5}


def test_infinities_are_counted_not_measured() -> None:
    column = profile_values(np.array([np.inf, -np.inf, np.inf, np.nan]))
    assert (column.count, column.missing, column.infinite, column.distinct) == (3, 1, 3, 2)
    assert column.min is None and column.histogram is None
    values = np.array([-1e308, 1e308, 1e308, 1e308])
    with np.errstate(over="ignore"):
        assert np.isinf(values.mean())
    huge = profile_values(values, bins=4)
    assert huge.mean is None and huge.std is None  # the sums overflow float64
    assert (huge.min, huge.max) == (-1e308, 1e308)
    assert huge.quantile(0.5) == 1e308 and huge.quantile(0.25) == pytest.approx(5e307)
    assert huge.histogram is not None and huge.histogram.counts == [1, 0, 0, 3]
    assert huge.bin_counts(values).tolist() == [1, 0, 0, 3]
    json.dumps(huge.model_dump(mode="json"), allow_nan=False)


def test_profile_values_accepts_arrays_lists_and_series() -> None:
    values = np.arange(30, dtype=float)
    expected = profile_values(values, name="score")
    assert profile_values(values.reshape(-1, 1), name="score") == expected
    assert profile_values(values.tolist(), name="score") == expected
    assert profile_values(pd.Series(values, name="other"), name="score") == expected
    assert profile_series(pd.Series(values, name="score")) == expected
    with pytest.raises(InvalidInputError, match="1-D"):
        profile_values(np.zeros((3, 2)))


def test_bad_arguments_say_what_to_do(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="bins must be at least 1"):
        profile_series(frame["x"], bins=0)
    with pytest.raises(InvalidInputError, match="max_categories"):
        profile_series(frame["x"], max_categories=-1)
    with pytest.raises(InvalidInputError, match="DataFrame"):
        profile_frame(frame["x"].to_numpy())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="appear twice"):
        profile_frame(pd.DataFrame([[1, 2]], columns=["a", "a"]))
    profile = profile_frame(frame)
    with pytest.raises(InvalidInputError, match="no histogram"):
        profile.columns["colour"].bin_counts(["red"])
    with pytest.raises(InvalidInputError, match="no category counts"):
        profile.columns["x"].category_counts([1.0])
    assert isinstance(profile.columns["x"], ColumnProfile)


def test_a_million_rows_by_twenty_columns_take_seconds() -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    data: dict[str, Any] = {f"f{i}": rng.normal(size=n) for i in range(15)}
    for i in range(5):
        labels = np.array([f"level-{j}" for j in range(20 * (i + 1))])
        data[f"s{i}"] = pd.Series(labels[rng.integers(0, labels.size, n)], dtype="str")
    frame = pd.DataFrame(data)
    started = time.perf_counter()
    profile = profile_frame(frame)
    elapsed = time.perf_counter() - started
    assert elapsed < 10, f"profiling took {elapsed:.1f} s"
    assert profile.columns["s4"].distinct == 100
    assert sum(profile.columns["f0"].histogram.counts) == n  # type: ignore[union-attr]
