"""The prediction log: every prediction, written as Parquet by a background writer."""

from shipyard.predictions.log import PredictionLogWriter, Route, read_predictions

__all__ = ["PredictionLogWriter", "Route", "read_predictions"]
