from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import SignatureError
from shipyard.schema import Signature


@pytest.fixture
def training() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": [10.5, 20.0, 3.25],
            "count": np.array([1, 2, 3], dtype="int64"),
            "city": ["paris", "lima", "oslo"],
            "member": [True, False, True],
            "tier": pd.Categorical(["a", "b", "a"], categories=["a", "b", "c"]),
            "discount": [0.1, None, 0.3],
        }
    )


@pytest.fixture
def signature(training: pd.DataFrame) -> Signature:
    return Signature.infer(training)


def row(**changes: Any) -> dict[str, Any]:
    base = {
        "amount": 1.5,
        "count": 2,
        "city": "rome",
        "member": False,
        "tier": "b",
        "discount": 0.2,
    }
    return {**base, **changes}


def test_inference_records_kinds_dtypes_and_ranges(signature: Signature) -> None:
    specs = {c.name: c for c in signature.inputs}
    assert signature.names == ["amount", "count", "city", "member", "tier", "discount"]
    assert [specs[n].kind for n in signature.names] == [
        "float",
        "int",
        "string",
        "bool",
        "category",
        "float",
    ]
    assert specs["amount"].dtype == "float64" and specs["count"].dtype == "int64"
    assert (specs["amount"].min, specs["amount"].max) == (3.25, 20.0)
    assert specs["tier"].categories == ["a", "b", "c"]
    assert specs["city"].categories == ["lima", "oslo", "paris"]
    assert specs["discount"].nullable and not specs["amount"].nullable
    assert Signature.model_validate_json(signature.model_dump_json()) == signature


def test_valid_rows_come_back_in_order_with_training_dtypes(
    signature: Signature, training: pd.DataFrame
) -> None:
    out = signature.validate([row(), row(amount=3, discount=None)])
    assert list(out.columns) == signature.names
    assert out["amount"].dtype == np.float64 and out["amount"].tolist() == [1.5, 3.0]
    assert out["count"].dtype == np.int64
    assert isinstance(out["tier"].dtype, pd.CategoricalDtype)
    assert list(out["tier"].cat.categories) == ["a", "b", "c"]
    assert np.isnan(out["discount"][1])
    shuffled = training[list(reversed(training.columns))]
    pd.testing.assert_frame_equal(signature.validate(shuffled), signature.validate(training))


def test_int_in_float_column_is_fine(signature: Signature) -> None:
    assert signature.validate([row(amount=7)])["amount"].tolist() == [7.0]


@pytest.mark.parametrize(
    ("changes", "column", "words"),
    [
        ({"amount": "12.5"}, "amount", "got string '12.5'"),
        ({"amount": True}, "amount", "got boolean"),
        ({"count": 2.5}, "count", "got float 2.5"),
        ({"count": "2"}, "count", "got string"),
        ({"city": 5}, "city", "got integer 5"),
        ({"member": 1}, "member", "got integer"),
        ({"tier": "z"}, "tier", "unknown category 'z'"),
        ({"amount": None}, "amount", "missing value"),
        ({"amount": float("nan")}, "amount", "missing value"),
        ({"amount": float("inf")}, "amount", "not finite"),
    ],
)
def test_wrong_values_name_the_column_row_and_value(
    signature: Signature, changes: dict[str, Any], column: str, words: str
) -> None:
    with pytest.raises(SignatureError) as info:
        signature.validate([row(), row(**changes)])
    assert info.value.column == column
    assert info.value.row == 1
    assert repr(column) in str(info.value) and words in str(info.value)
    assert info.value.status_code == 422


def test_missing_and_extra_columns_are_named(signature: Signature) -> None:
    incomplete = row()
    del incomplete["city"]
    with pytest.raises(SignatureError, match="missing column.*'city'"):
        signature.validate([incomplete])
    with pytest.raises(SignatureError, match="unexpected column.*'zip'"):
        signature.validate([row(zip="75001")])
    with pytest.raises(SignatureError, match="row 1 has no column 'city'"):
        signature.validate([row(), incomplete | {"zip": 1}])


def test_dataframe_dtypes_are_checked_without_casting(signature: Signature) -> None:
    frame = pd.DataFrame([row(), row()])
    frame["count"] = frame["count"].astype("float64") + 0.5
    with pytest.raises(SignatureError, match="'count': expected int, got float 2.5 at row 0"):
        signature.validate(frame)


def test_arrays_and_columnar_mappings_are_accepted() -> None:
    sig = Signature.infer(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}))
    out = sig.validate(np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert out["b"].tolist() == [2.0, 4.0]
    assert sig.validate({"a": [1, 2], "b": [3.5, 4.5]})["a"].tolist() == [1.0, 2.0]
    assert sig.validate({"a": 1.0, "b": 2.0})["b"].tolist() == [2.0]
    with pytest.raises(SignatureError, match=r"shape \[rows, 2\]"):
        sig.validate(np.ones((3, 3)))
    with pytest.raises(SignatureError, match="different lengths"):
        sig.validate({"a": [1.0], "b": [1.0, 2.0]})
    with pytest.raises(SignatureError, match="row 0 is a list"):
        sig.validate([[1.0, 2.0]])  # type: ignore[list-item]


def test_mixed_training_columns_are_refused() -> None:
    with pytest.raises(SignatureError, match="'x'"):
        Signature.infer(pd.DataFrame({"x": [1, "a"]}, dtype=object))


@pytest.mark.parametrize(
    ("dtype", "value", "words"),
    [
        ("int8", 1000, "out of range for int8"),
        ("uint8", -1, "out of range for uint8"),
        ("int64", 2**64, "out of range for int64"),
        ("int32", 3_000_000_000, "out of range for int32"),
    ],
)
def test_integers_never_wrap_around(dtype: str, value: int, words: str) -> None:
    sig = Signature.infer(pd.DataFrame({"n": np.array([1, 2], dtype=dtype)}))
    with pytest.raises(SignatureError, match=words):
        sig.validate([{"n": 1}, {"n": value}])
    if value < 2**64:
        frame = pd.DataFrame({"n": np.array([value], dtype="uint64" if value > 0 else "int64")})
        with pytest.raises(SignatureError, match=words):
            sig.validate(frame)


def test_unsigned_values_that_fit_are_accepted() -> None:
    sig = Signature.infer(pd.DataFrame({"n": np.array([1, 2], dtype="int64")}))
    out = sig.validate(pd.DataFrame({"n": np.array([5], dtype="uint64")}))
    assert out["n"].dtype == np.int64 and out["n"].tolist() == [5]
    with pytest.raises(SignatureError, match="out of range for int64"):
        sig.validate(pd.DataFrame({"n": np.array([2**63], dtype="uint64")}))


@pytest.mark.parametrize(
    ("dtype", "value"), [("float32", 1e300), ("float64", 10**400), ("float32", -1e39)]
)
def test_floats_too_large_for_the_column_are_refused(dtype: str, value: float) -> None:
    sig = Signature.infer(pd.DataFrame({"x": np.array([1.0], dtype=dtype)}))
    with pytest.raises(SignatureError, match=f"too large for {dtype}"):
        sig.validate([{"x": 1.0}, {"x": value}])


def test_infinity_is_accepted_where_training_had_it() -> None:
    sig = Signature.infer(pd.DataFrame({"x": [1.0, np.inf]}))
    assert sig.validate([{"x": float("-inf")}])["x"].tolist() == [float("-inf")]


def test_integer_categories_validate_by_membership() -> None:
    training = pd.DataFrame({"c": pd.Categorical([1, 2, 3])})
    sig = Signature.infer(training)
    out = sig.validate(training)
    assert list(out["c"].cat.categories) == [1, 2, 3] and out["c"].tolist() == [1, 2, 3]
    assert sig.validate([{"c": 2}])["c"].tolist() == [2]
    for wrong in ("1", True, 4):
        with pytest.raises(SignatureError, match="unknown category"):
            sig.validate([{"c": wrong}])


def test_datetimes_keep_their_dtype_and_time_zone_rules() -> None:
    import datetime

    naive = Signature.infer(pd.DataFrame({"t": pd.to_datetime(["2024-01-01"])}))
    out = naive.validate([{"t": "2024-02-01T10:00:00"}, {"t": pd.Timestamp("2024-03-01")}])
    assert str(out["t"].dtype) == naive.inputs[0].dtype
    assert out["t"].tolist() == [pd.Timestamp("2024-02-01 10:00"), pd.Timestamp("2024-03-01")]
    with pytest.raises(SignatureError, match="without a time zone"):
        naive.validate([{"t": "2024-02-01T10:00:00+02:00"}])
    with pytest.raises(SignatureError, match="not a datetime"):
        naive.validate([{"t": "yesterday"}])
    with pytest.raises(SignatureError, match="expected datetime, got time"):
        naive.validate([{"t": datetime.time(1, 2)}])
    aware = Signature.infer(pd.DataFrame({"t": pd.to_datetime(["2024-01-01"], utc=True)}))
    moved = aware.validate([{"t": "2024-02-01T10:00:00+02:00"}])["t"][0]
    assert moved == pd.Timestamp("2024-02-01 08:00", tz="UTC")
    with pytest.raises(SignatureError, match="with a time zone"):
        aware.validate([{"t": "2024-02-01T10:00:00"}])


def test_nullable_integers_and_odd_inputs() -> None:
    sig = Signature.infer(pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}))
    out = sig.validate([{"n": 3}, {"n": None}])
    assert str(out["n"].dtype) == "Int64" and out["n"].isna().tolist() == [False, True]
    floats = Signature.infer(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(SignatureError, match="column names must be strings"):
        floats.validate(pd.DataFrame({0: [1.0]}))
    with pytest.raises(SignatureError, match="got list"):
        floats.validate([{"a": [1, 2]}])


def test_all_missing_batches_are_accepted_for_nullable_columns() -> None:
    import io

    training = pd.DataFrame(
        {
            "i": pd.array([1, None], dtype="Int64"),
            "b": pd.array([True, None], dtype="boolean"),
            "s": pd.Series(["a", None], dtype="str"),
            "t": pd.to_datetime(["2024-01-01", None]),
            "c": pd.Categorical(["x", None]),
        }
    )
    sig = Signature.infer(training)
    out = sig.validate(pd.read_csv(io.StringIO("i,b,s,t,c\n,,,,\n")))
    assert out.isna().all().all()
    assert [str(t) for t in out.dtypes] == [
        "Int64",
        "boolean",
        "object",
        str(training["t"].dtype),
        "category",
    ]


@pytest.mark.parametrize(
    ("values", "kind"),
    [(pd.Series([1, None], dtype=object), "int"), (pd.Series([1.5, 2], dtype=object), "float")],
)
def test_object_columns_of_numbers_are_understood(values: pd.Series, kind: str) -> None:
    assert Signature.infer(pd.DataFrame({"x": values})).inputs[0].kind == kind


@pytest.mark.parametrize(
    ("values", "advice"),
    [
        (pd.Series([__import__("datetime").date(2024, 1, 1)] * 2), "pd.to_datetime"),
        (pd.Series([__import__("decimal").Decimal("1.2")] * 2), "astype(float)"),
        (pd.Series([1, "a"], dtype=object), "one type"),
        (pd.Series(pd.Categorical(pd.date_range("2024-01-01", periods=2))), "astype(str)"),
        (pd.Series(pd.cut([1, 2, 3], 2)), "astype(str)"),
    ],
)
def test_unsupported_training_columns_say_how_to_convert(values: pd.Series, advice: str) -> None:
    with pytest.raises(SignatureError, match="'x'") as info:
        Signature.infer(pd.DataFrame({"x": values}))
    assert advice in str(info.value)


def test_ordered_categoricals_stay_ordered() -> None:
    training = pd.DataFrame(
        {"x": pd.Categorical(["lo", "hi"], categories=["lo", "hi"], ordered=True)}
    )
    out = Signature.infer(training).validate([{"x": "hi"}])
    assert out["x"].cat.ordered and list(out["x"].cat.categories) == ["lo", "hi"]


def test_large_frames_are_checked_column_at_a_time() -> None:
    rng = np.random.default_rng(0)
    rows = 200_000
    frame = pd.DataFrame(
        {
            "s": rng.choice(["a", "b"], rows),
            "c": pd.Categorical(rng.choice(["x", "y"], rows)),
            "t": pd.to_datetime(rng.integers(10**9, 2 * 10**9, rows), unit="s"),
        }
    )
    sig = Signature.infer(frame)
    pd.testing.assert_frame_equal(sig.validate(frame), frame, check_dtype=False)
    broken = frame.astype({"s": object})
    broken.loc[rows - 1, "s"] = 7
    with pytest.raises(
        SignatureError, match=f"'s': expected string, got integer 7 at row {rows - 1}"
    ):
        sig.validate(broken)


def test_error_messages_show_values_as_written() -> None:
    sig = Signature.infer(pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(SignatureError) as info:
        sig.validate(pd.DataFrame({"x": np.array([1.0, np.inf])}))
    assert "inf at row 1" in str(info.value) and "np.float64" not in str(info.value)
    with pytest.raises(SignatureError) as info:
        sig.validate([{"x": pd.Timestamp("2020-01-01")}])
    assert "got Timestamp '2020-01-01 00:00:00' at row 0" in str(info.value)
