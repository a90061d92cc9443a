"""Endpoints: named online deployments with a traffic policy, their revisions and rollouts."""

from shipyard.endpoints.policy import TrafficPolicy, Variant, bucket, combine
from shipyard.endpoints.rollout import RolloutController
from shipyard.endpoints.rollout_record import Rollout
from shipyard.endpoints.service import Endpoint, Endpoints, Revision

__all__ = [
    "Endpoint",
    "Endpoints",
    "Revision",
    "Rollout",
    "RolloutController",
    "TrafficPolicy",
    "Variant",
    "bucket",
    "combine",
]
