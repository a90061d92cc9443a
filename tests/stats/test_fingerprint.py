"""Data fingerprints: stable, and sensitive to everything but the row index."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidInputError
from shipyard.stats import DataFingerprint, fingerprint

_FRAME_CODE = """
import numpy as np, pandas as pd
rng = np.random.default_rng(11)
n = 500
frame = pd.DataFrame({
    "x": rng.normal(size=n),
    "i": rng.integers(0, 100, n),
    "n": pd.array(rng.integers(0, 5, n), dtype="Int64"),
    "s": pd.Series(rng.choice(["a", "b", "c"], n), dtype="str"),
    "c": pd.Categorical(rng.choice(["u", "v"], n)),
    "b": rng.random(n) < 0.5,
    "t": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
})
frame.loc[3, "x"] = np.nan
frame.loc[4, "n"] = pd.NA
frame.loc[5, "s"] = None
"""


def _frame() -> pd.DataFrame:
    namespace: dict[str, object] = {}
    exec(_FRAME_CODE, namespace)
    frame = namespace["frame"]
    assert isinstance(frame, pd.DataFrame)
    return frame


def test_fields() -> None:
    frame = _frame()
    result = fingerprint(frame)
    assert isinstance(result, DataFingerprint)
    assert result.rows == len(frame) and result.columns == list(frame.columns)
    assert len(result.sha256) == 64 and int(result.sha256, 16) >= 0
    assert DataFingerprint.model_validate_json(result.model_dump_json()) == result


def test_the_hash_follows_the_documented_layout() -> None:
    frame = _frame()
    digest = hashlib.sha256(b"shipyard-fingerprint/1")
    digest.update(len(frame).to_bytes(8, "little") + len(frame.columns).to_bytes(8, "little"))
    for name in frame.columns:
        for text in (name, str(frame[name].dtype)):
            digest.update(len(text.encode()).to_bytes(8, "little") + text.encode())
        hashes = pd.util.hash_pandas_object(frame[name], index=False).to_numpy()
        digest.update(hashes.astype("<u8").tobytes())
    assert fingerprint(frame).sha256 == digest.hexdigest()


def test_same_data_same_hash_in_other_processes() -> None:
    code = (
        _FRAME_CODE + "\nfrom shipyard.stats import fingerprint\nprint(fingerprint(frame).sha256)"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    }
    assert outputs == {fingerprint(_frame()).sha256}


def test_the_row_index_does_not_matter() -> None:
    frame = _frame()
    expected = fingerprint(frame).sha256
    assert fingerprint(frame.set_axis(np.arange(len(frame)) * 7 + 3)).sha256 == expected
    assert fingerprint(frame.set_index(pd.Index(frame["s"].tolist()))).sha256 == expected
    assert fingerprint(frame.copy()).sha256 == expected


def test_row_order_column_order_names_and_dtypes_matter() -> None:
    frame = _frame()
    base = fingerprint(frame).sha256
    variants = {
        "reversed rows": frame.iloc[::-1].reset_index(drop=True),
        "swapped rows": frame.iloc[[1, 0, *range(2, len(frame))]].reset_index(drop=True),
        "reversed columns": frame[frame.columns[::-1]],
        "renamed column": frame.rename(columns={"x": "y"}),
        "int as float": frame.astype({"i": "float64"}),
        "category as str": frame.astype({"c": "str"}),
        "one row less": frame.iloc[:-1],
    }
    hashes = {label: fingerprint(variant).sha256 for label, variant in variants.items()}
    assert base not in hashes.values()
    assert len(set(hashes.values())) == len(hashes)


@pytest.mark.parametrize("column", ["x", "i", "n", "s", "c", "b", "t"])
def test_any_changed_value_changes_the_hash(column: str) -> None:
    frame = _frame()
    changed = frame.copy()
    values = frame[column]
    other = values[values.notna() & (values != values[17])].index[0]
    changed.loc[17, column] = frame.loc[other, column]
    variants = [frame, changed]
    if column != "b":  # a numpy bool column cannot hold a missing value
        missing = frame.copy()
        missing.loc[17, column] = None
        variants.append(missing)
    assert len({fingerprint(f).sha256 for f in variants}) == len(variants)


def test_series_and_arrays() -> None:
    values = np.arange(12.0).reshape(4, 3)
    assert fingerprint(values) == fingerprint(pd.DataFrame(values))
    assert fingerprint(values).columns == ["0", "1", "2"]
    assert fingerprint(values[:, 0]) == fingerprint(pd.Series(values[:, 0]))
    named = pd.Series([1, 2, 3], name="age")
    assert fingerprint(named) == fingerprint(named.to_frame())
    assert fingerprint(named).sha256 != fingerprint(named.rename("height")).sha256


def test_empty_data() -> None:
    empty = fingerprint(pd.DataFrame({"a": pd.Series([], dtype="float64")}))
    assert (empty.rows, empty.columns) == (0, ["a"])
    other = fingerprint(pd.DataFrame({"a": pd.Series([], dtype="int64")}))
    assert empty.sha256 != other.sha256 != fingerprint(pd.DataFrame()).sha256


def test_unusable_input_says_what_to_do() -> None:
    with pytest.raises(InvalidInputError, match="1-D or 2-D"):
        fingerprint(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidInputError, match="got list"):
        fingerprint([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="column 'cells'"):
        fingerprint(pd.DataFrame({"cells": [[1], [2]]}))
