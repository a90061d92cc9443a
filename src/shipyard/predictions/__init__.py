"""The prediction log (every prediction, written as Parquet by a background writer) and
feedback (ground truth arriving later, joined to it by request id)."""

from shipyard.predictions.feedback import (
    FeedbackReceipt,
    FeedbackStore,
    join_feedback,
    read_feedback,
)
from shipyard.predictions.log import PredictionLogWriter, Route, read_predictions

__all__ = [
    "FeedbackReceipt",
    "FeedbackStore",
    "PredictionLogWriter",
    "Route",
    "join_feedback",
    "read_feedback",
    "read_predictions",
]
