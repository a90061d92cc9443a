"""Endpoints on the data plane: an endpoint's current revision as a route of loaded
versions, and the per-request logic of its traffic policy.

A route is built once per revision and swapped in whole, so a request sees one revision
from start to end. Versions are shared: each version is loaded once per process whatever
the number of endpoints, variants and revisions naming it; it has one batcher for the
answers it returns and one for the copies it answers as a shadow, so a slow shadow never
queues in front of an answer. A shadow's copy is handed over after the answer is ready
and never awaited; copies beyond a backlog are dropped and counted, never queued
without bound.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from shipyard.endpoints.policy import TrafficPolicy, Variant
from shipyard.errors import InvalidInputError
from shipyard.predictions import Route
from shipyard.serving.batching import AdaptiveBatcher
from shipyard.serving.guard import Guard
from shipyard.serving.served import ServedModel

#: A shadow batcher holding this many requests drops further copies (counted).
SHADOW_BACKLOG = 64


@dataclass(frozen=True)
class Member:
    """A variant of the route: the version answering for it and the guard around that
    version's batcher (with the endpoint's timeout, breaker and fallback)."""

    variant: Variant
    served: ServedModel
    guard: Guard
    route: Route


@dataclass(frozen=True)
class Copy:
    """A version answering copies of requests: logged, never returned."""

    label: str
    served: ServedModel
    batcher: AdaptiveBatcher
    guard: Guard
    route: Route


@dataclass(frozen=True)
class EndpointRoute:
    """One revision of one endpoint, ready to answer."""

    name: str
    revision: int
    policy: TrafficPolicy
    members: tuple[Member, ...]
    shadows: tuple[Copy, ...] = ()
    mirrors: dict[str, Copy] = field(default_factory=dict)
    """For a mirroring policy: each variant's copy, by variant name."""
    uris: frozenset[str] = frozenset()
    """Every version the route uses (answers, shadows, mirrors and fallback)."""
    ensemble_route: Route | None = None

    @property
    def ready(self) -> bool:
        return all(m.served.ready for m in self.members)

    def choose(self, key: str | None) -> Member:
        """The member answering a request (``key``: its sticky key, for ``ab``)."""
        if len(self.members) == 1:
            return self.members[0]
        variant = self.policy.assign(key, random.random())
        for member in self.members:
            if member.variant.name == variant.name:
                return member
        raise AssertionError(f"variant {variant.name} has no member")  # pragma: no cover

    def copies_for(self, member: Member | None) -> list[Copy]:
        """Who gets a copy of a request ``member`` answered: the policy's shadows and, for
        a mirroring policy, every other variant."""
        if not self.mirrors:
            return list(self.shadows)
        others = [
            c for name, c in self.mirrors.items() if member is None or name != member.variant.name
        ]
        return [*self.shadows, *others]

    def metadata(self) -> dict[str, Any]:
        """What ``GET /v1/endpoints/{name}`` answers."""
        return {
            "name": self.name,
            "revision": self.revision,
            "kind": self.policy.kind,
            "ready": self.ready,
            "variants": [
                {
                    "name": m.variant.name,
                    "model": m.served.name,
                    "version": m.served.version,
                    "weight": m.variant.weight,
                }
                for m in self.members
            ],
            "shadows": [str(c.served.uri) for c in self.shadows],
            "mirror": self.policy.mirror,
            "fallback": self.policy.fallback,
        }


def shadow_label(uri: str) -> str:
    """A shadow version's name in the log's ``variant`` column: ``NAME-N``."""
    name, _, version = uri.removeprefix("models:/").rpartition("/")
    return f"{name}-{version}"


# -- sticky keys read from the body -------------------------------------------------


def _text(value: Any) -> str:
    """A key as text, the same whichever way it came: ``42``, ``42.0`` (a V2 FP64
    tensor) and ``"42"`` are all ``"42"``."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _one_key(values: Sequence[Any], column: str) -> str | None:
    if not values:
        return None
    keys = {_text(v) for v in values if v is not None}
    if len(keys) > 1:
        raise InvalidInputError(
            f"the rows of one request carry different {column!r} values; this endpoint "
            f"assigns variants by {column!r}: send one {column} per request"
        )
    return next(iter(keys), None)


def body_key(protocol: str, body: Any, column: str) -> str | None:
    """The sticky key of a request body: the value of ``column`` (every row the same)."""
    if not isinstance(body, dict):
        return None
    if protocol == "v1":
        instances = body.get("instances")
        if isinstance(instances, list):
            return _one_key([row.get(column) for row in instances if isinstance(row, dict)], column)
        split = body.get("dataframe_split")
        if isinstance(split, dict):
            columns, data = split.get("columns"), split.get("data")
            if isinstance(columns, list) and column in columns and isinstance(data, list):
                at = columns.index(column)
                return _one_key(
                    [row[at] for row in data if isinstance(row, list) and len(row) > at], column
                )
        return None
    inputs = body.get("inputs")
    if isinstance(inputs, list):
        for tensor in inputs:
            if isinstance(tensor, dict) and tensor.get("name") == column:
                data = tensor.get("data")
                if isinstance(data, list):
                    flat = [x for row in data for x in (row if isinstance(row, list) else [row])]
                    return _one_key(flat, column)
    return None


def without_column(protocol: str, body: Any, column: str) -> Any:
    """``body`` without ``column`` (a key that is not one of the model's inputs)."""
    if not isinstance(body, dict):
        return body
    body = dict(body)
    if protocol == "v1":
        if isinstance(body.get("instances"), list):
            body["instances"] = [
                {k: v for k, v in row.items() if k != column} if isinstance(row, dict) else row
                for row in body["instances"]
            ]
        split = body.get("dataframe_split")
        if isinstance(split, dict) and isinstance(split.get("columns"), list):
            columns = split["columns"]
            if column in columns:
                at = columns.index(column)
                data = split.get("data")
                body["dataframe_split"] = {
                    **split,
                    "columns": [c for c in columns if c != column],
                    "data": [
                        [v for i, v in enumerate(row) if i != at] if isinstance(row, list) else row
                        for row in (data if isinstance(data, list) else [])
                    ],
                }
        return body
    if isinstance(body.get("inputs"), list):
        body["inputs"] = [
            t for t in body["inputs"] if not (isinstance(t, dict) and t.get("name") == column)
        ]
    return body
