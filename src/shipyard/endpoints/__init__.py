"""Endpoints: named online deployments with a traffic policy, their revisions and rollouts."""

from shipyard.endpoints.policy import TrafficPolicy, Variant, bucket, combine

__all__ = ["TrafficPolicy", "Variant", "bucket", "combine"]
