"""The fast lane for small batches of records must agree with the general path exactly."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pandas as pd
import pytest

import shipyard.schema.signature
from shipyard.errors import SignatureError
from shipyard.schema import Signature
from shipyard.schema.records import MAX_ROWS, validate_records

TRAINING = pd.DataFrame(
    {
        "f64": [1.5, -2.0],
        "f32": np.array([0.5, 1.0], dtype="float32"),
        "i8": np.array([1, -3], dtype="int8"),
        "i64": [10, 20],
        "b": [True, False],
        "s": ["x", "y"],
        "cs": pd.Categorical(["lo", "hi"], categories=["lo", "hi"], ordered=True),
        "ci": pd.Categorical([1, 2]),
        "n": [1.0, None],
    }
)
SIGNATURE = Signature.infer(TRAINING)

CLEAN: dict[str, list[Any]] = {
    "f64": [0.0, -1.25, 3, 1e300],
    "f32": [0.5, 2, -1e30],
    "i8": [-128, 0, 127],
    "i64": [0, -(2**63), 2**63 - 1],
    "b": [True, False],
    "s": ["", "x", "naïve"],
    "cs": ["lo", "hi"],
    "ci": [1, 2],
    "n": [0.25, 7],
}
DOUBTFUL: dict[str, list[Any]] = {
    "f64": [None, float("nan"), float("inf"), True, "1.0", 10**400],
    "f32": [1e300],
    "i8": [128, -129, 1.0, True],
    "i64": [2**63, "1"],
    "b": [1, None],
    "s": [1, None, b"x"],
    "cs": ["mid", None],
    "ci": [3, "1", True, 1.0],
    "n": [None, float("nan")],
}


def general(rows: Any, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame | SignatureError:
    with monkeypatch.context() as patch:
        patch.setattr(shipyard.schema.signature, "validate_records", lambda specs, rows: None)
        try:
            return SIGNATURE.validate(rows)
        except SignatureError as exc:
            return exc


def row(rng: random.Random, doubtful: float) -> dict[str, Any]:
    out = {}
    for name, values in CLEAN.items():
        pool = DOUBTFUL[name] if rng.random() < doubtful else values
        out[name] = rng.choice(pool)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_fast_lane_equals_the_general_path(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    rows = [row(rng, doubtful=0.02 if seed % 2 else 0.0) for _ in range(rng.randint(1, 8))]
    expected = general(rows, monkeypatch)
    try:
        got: pd.DataFrame | SignatureError = SIGNATURE.validate(rows)
    except SignatureError as exc:
        got = exc
    if isinstance(expected, SignatureError):
        assert isinstance(got, SignatureError) and str(got) == str(expected)
    else:
        assert isinstance(got, pd.DataFrame)
        pd.testing.assert_frame_equal(got, expected)


def test_clean_small_batches_take_the_fast_lane() -> None:
    rows = [{name: values[0] for name, values in CLEAN.items()}]
    assert validate_records(SIGNATURE.inputs, rows) is not None
    assert validate_records(SIGNATURE.inputs, rows * (MAX_ROWS + 1)) is None
    assert validate_records(SIGNATURE.inputs, [dict(rows[0], extra=1)]) is None
    for name, values in DOUBTFUL.items():
        for value in values:
            assert validate_records(SIGNATURE.inputs, [dict(rows[0], **{name: value})]) is None


@pytest.mark.parametrize("seed", range(20))
def test_small_dataframes_agree_with_the_general_path(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    rows = [row(rng, doubtful=0.0) for _ in range(rng.randint(1, 8))]
    frame = SIGNATURE.validate(rows)  # typed like training data
    if seed % 3 == 1:
        frame = frame.astype({"f32": "float64", "i8": "int64"})
    if seed % 3 == 2:
        frame = frame[list(reversed(frame.columns))]
    expected = general(frame, monkeypatch)
    assert isinstance(expected, pd.DataFrame)
    pd.testing.assert_frame_equal(SIGNATURE.validate(frame), expected)
    float_in_int = frame.astype({"i64": "float64"})
    assert str(general(float_in_int, monkeypatch)) == _error(float_in_int)


def _error(rows: Any) -> str:
    try:
        SIGNATURE.validate(rows)
    except SignatureError as exc:
        return str(exc)
    return "no error"


# -- the float matrix lane -------------------------------------------------------------


def test_float_matrix_takes_clean_records_in_column_order() -> None:
    from shipyard.schema.records import float_columns, float_matrix, float_tensor

    columns = ["a", "b"]
    matrix = float_matrix(columns, [{"b": 2, "a": 1.5}, {"a": -3, "b": 0.25}])
    assert matrix is not None and matrix.dtype == np.float64 and matrix.flags.c_contiguous
    assert matrix.tolist() == [[1.5, 2.0], [-3.0, 0.25]]
    tensor = float_tensor([1, 2.5, 3, 4], 2)
    assert tensor is not None and tensor.tolist() == [[1.0, 2.5], [3.0, 4.0]]
    assert float_columns(Signature.infer(pd.DataFrame({"x": [1.0], "y": [2.0]})).inputs) == [
        "x",
        "y",
    ]
    assert float_columns(SIGNATURE.inputs) is None  # not every column is float64


@pytest.mark.parametrize(
    "rows",
    [
        [{"a": 1.0, "b": "2"}],
        [{"a": 1.0, "b": True}],
        [{"a": 1.0, "b": None}],
        [{"a": 1.0, "b": [2.0]}],
        [{"a": 1.0}],
        [{"a": 1.0, "c": 2.0}],
        [{"a": 1.0, "b": 2.0, "c": 3.0}],
        [{"a": 1.0, "b": float("nan")}],
        [{"a": 1.0, "b": float("inf")}],
        [{"a": 1.0, "b": 10**400}],
        [["not", "a", "mapping"]],
        [],
        {"a": 1.0, "b": 2.0},
    ],
)
def test_float_matrix_leaves_anything_else_to_the_general_path(rows: Any) -> None:
    from shipyard.schema.records import float_matrix

    assert float_matrix(["a", "b"], rows) is None


def test_float_tensor_refuses_odd_lengths_and_other_types() -> None:
    from shipyard.schema.records import float_tensor

    assert float_tensor([1.0, 2.0, 3.0], 2) is None
    assert float_tensor([], 2) is None
    assert float_tensor([1.0, True], 2) is None
    assert float_tensor([1.0, None], 2) is None
    assert float_tensor([1.0, float("-inf")], 2) is None
