"""The prediction log: every prediction, written as Parquet by a background writer."""

from shipyard.predictions.log import PredictionLogWriter, read_predictions

__all__ = ["PredictionLogWriter", "read_predictions"]
