"""Monitors: scheduled checks of an endpoint or a model (data drift, prediction drift,
data quality, performance, operations), their results kept as time series."""

from shipyard.monitoring.service import MonitorService
from shipyard.monitoring.spec import CHECKS, THRESHOLDS, Monitor, MonitorResult, MonitorRun

__all__ = ["CHECKS", "THRESHOLDS", "Monitor", "MonitorResult", "MonitorRun", "MonitorService"]
