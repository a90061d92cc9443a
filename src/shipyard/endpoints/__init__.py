"""Endpoints: named online deployments with a traffic policy, their revisions, rollouts
and A/B reports."""

from shipyard.endpoints.abcompare import MetricComparison
from shipyard.endpoints.abreport import ABReport, VariantStats, ab_report
from shipyard.endpoints.policy import TrafficPolicy, Variant, bucket, combine
from shipyard.endpoints.rollout import RolloutController
from shipyard.endpoints.rollout_record import Rollout
from shipyard.endpoints.service import Endpoint, Endpoints, Revision

__all__ = [
    "ABReport",
    "Endpoint",
    "Endpoints",
    "MetricComparison",
    "Revision",
    "Rollout",
    "RolloutController",
    "TrafficPolicy",
    "Variant",
    "VariantStats",
    "ab_report",
    "bucket",
    "combine",
]
