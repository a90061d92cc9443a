"""Feedback: real Parquet files, joined to a real prediction log by request id and row;
every row given is stored, replaced or rejected, and said so in the receipt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidInputError
from shipyard.predictions import (
    FeedbackStore,
    PredictionLogWriter,
    join_feedback,
    read_feedback,
    read_predictions,
)


def _log(root: Path, requests: dict[str, int]) -> None:
    """One logged request per id, with the given number of rows."""
    writer = PredictionLogWriter(root, flush_interval=60)
    for request_id, rows in requests.items():
        writer.append(
            model="m",
            version=1,
            request_id=request_id,
            protocol="v1",
            inputs=pd.DataFrame({"x": np.arange(rows, dtype=float)}),
            predictions=np.arange(rows) % 2,
            probabilities=None,
            latency_ms=1.0,
        )
    writer.close()


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "feedback", tmp_path / "predictions"


def test_labels_join_by_request_id_and_row(dirs: tuple[Path, Path]) -> None:
    feedback, predictions = dirs
    _log(predictions, {"single": 1, "multi": 3})
    store = FeedbackStore(feedback, predictions=predictions)
    receipt = store.add(
        [{"id": "single", "y": 1}, {"id": "multi", "y": 0}], id_column="id", label_column="y"
    )
    assert (receipt.received, receipt.stored, receipt.matched, receipt.unmatched) == (2, 2, 2, 0)
    assert receipt.path is not None and Path(receipt.path).is_file()
    assert not list(feedback.rglob("*.tmp"))
    joined = join_feedback(read_predictions(predictions), read_feedback(feedback))
    labels = joined.set_index(["request_id", "row"])["label"].to_dict()
    # an id alone labels row 0 only: the other rows of a multi-row request stay unlabelled
    assert labels[("single", 0)] == 1 and labels[("multi", 0)] == 0
    assert np.isnan(labels[("multi", 1)]) and np.isnan(labels[("multi", 2)])

    by_row = store.add(
        pd.DataFrame({"id": ["multi", "multi"], "r": [1, 2], "y": [1, 1]}),
        id_column="id",
        label_column="y",
        row_column="r",
    )
    assert (by_row.stored, by_row.matched, by_row.replaced) == (2, 2, 0)
    joined = join_feedback(read_predictions(predictions), read_feedback(feedback))
    assert joined.set_index(["request_id", "row"])["label"].loc["multi"].tolist() == [0, 1, 1]


def test_duplicates_last_wins_and_replacements_are_counted(dirs: tuple[Path, Path]) -> None:
    feedback, predictions = dirs
    _log(predictions, {"a": 1, "b": 1})
    store = FeedbackStore(feedback, predictions=predictions)
    first = store.add(
        pd.DataFrame({"request_id": ["a", "b", "a"], "label": ["cat", "dog", "bird"]})
    )
    assert (first.received, first.stored, first.duplicates, first.replaced) == (3, 2, 1, 0)
    assert first.examples["duplicates"] == ["a"]
    second = store.add(pd.DataFrame({"request_id": ["b"], "label": ["fish"]}), source="late")
    assert (second.stored, second.replaced, second.examples["replaced"]) == (1, 1, ["b"])
    stored = read_feedback(feedback).set_index("request_id")
    assert stored["label"].to_dict() == {"a": "bird", "b": "fish"}
    assert stored.loc["b", "source"] == "late"


def test_missing_values_are_rejected_with_their_rows(dirs: tuple[Path, Path]) -> None:
    feedback, predictions = dirs
    _log(predictions, {"a": 2})
    store = FeedbackStore(feedback, predictions=predictions)
    receipt = store.add(
        pd.DataFrame(
            {
                "request_id": ["a", "a", None, "a", "a", " "],
                "row": [0, 1, 0, -1, 1.5, 0],
                "label": [1.0, np.nan, 1.0, 1.0, 1.0, 1.0],
            }
        ),
        row_column="row",
    )
    assert (receipt.received, receipt.stored, receipt.rejected) == (6, 1, 5)
    assert receipt.rejected_reasons == {
        "missing request id": 2,
        "invalid row": 2,
        "missing label": 1,
    }
    assert receipt.received == receipt.stored + receipt.duplicates + receipt.rejected
    assert sorted(receipt.examples["rejected"]) == [
        "a",
        "a",
        "a",
        "row 2 (from 0)",
        "row 5 (from 0)",
    ]
    assert read_feedback(feedback)[["request_id", "row"]].values.tolist() == [["a", 0]]


def test_labels_may_arrive_before_their_predictions(dirs: tuple[Path, Path]) -> None:
    feedback, predictions = dirs
    _log(predictions, {"now": 1})
    store = FeedbackStore(feedback, predictions=predictions)
    receipt = store.add(pd.DataFrame({"request_id": ["now", "soon"], "label": [0.5, 2.5]}))
    assert (receipt.matched, receipt.unmatched, receipt.examples["unmatched"]) == (1, 1, ["soon"])
    _log(predictions, {"soon": 1})  # the prediction is logged after its label arrived
    joined = join_feedback(read_predictions(predictions), read_feedback(feedback))
    assert joined.set_index("request_id")["label"].to_dict() == {"now": 0.5, "soon": 2.5}


def test_nothing_to_join_and_columns_that_are_not_there(dirs: tuple[Path, Path]) -> None:
    feedback, predictions = dirs
    _log(predictions, {"a": 1})
    logged = read_predictions(predictions)
    joined = join_feedback(logged, read_feedback(feedback))
    assert joined["label"].isna().all() and len(joined) == 1
    unchecked = FeedbackStore(feedback).add([{"request_id": "a", "label": 1}])
    assert unchecked.matched is None and unchecked.stored == 1
    with pytest.raises(InvalidInputError, match="no column 'target'.*--label-column"):
        FeedbackStore(feedback).add([{"request_id": "a", "label": 1}], label_column="target")
    empty = FeedbackStore(feedback).add(pd.DataFrame({"request_id": [], "label": []}))
    assert (empty.received, empty.stored, empty.path) == (0, 0, None)
