"""Traffic policies: which model versions answer an endpoint's requests, and how.

A policy is plain data (stored with each endpoint revision) plus the pure logic the data
plane applies per request:

- ``single``: one version takes everything;
- ``split``: weighted random split across versions (a canary is ``90/10``);
- ``ab``: weighted, but *sticky*: a request key (a header or an input column, e.g.
  ``customer_id``) is hashed with SHA-256, so the same key reaches the same variant in
  every worker, after every restart and on every machine;
- ``ensemble``: every member answers and the answers are combined: ``mean`` of
  probabilities (or of values, for regressors), majority ``vote`` of labels, or
  ``weighted`` mean;

With ``split`` and ``ab``, ``mirror`` also sends each request, as a shadow, to every
variant that did not answer it, so variants can be compared on the same requests (a
rollout does this to measure agreement).

And, with any of them, ``shadows`` (versions that get a copy of each request, whose
answers are logged but never returned) and a ``fallback`` (a model URI or a fixed JSON
answer, as in ``shipyard serve --fallback``).

Versions are pinned (``models:/NAME/N``): a revision says exactly what served.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from shipyard.errors import InvalidInputError
from shipyard.registry.uri import ModelURI

PolicyKind = Literal["single", "split", "ab", "ensemble"]
EnsembleMethod = Literal["mean", "vote", "weighted"]

#: Hash buckets of sticky assignment: weights resolve to 0.01 percentage points.
_BUCKETS = 10_000


def pinned(uri: str) -> str:
    """``uri`` if it names one version (``models:/NAME/N``), else an error saying so."""
    parsed = ModelURI.parse(uri)
    if parsed.version is None:
        raise InvalidInputError(
            f"{uri} does not name one version; an endpoint pins versions, e.g. "
            f"models:/{parsed.name}/3 (resolve an alias first)"
        )
    return str(parsed)


def _pinned_field(uri: str) -> str:
    try:
        return pinned(uri)
    except InvalidInputError as exc:  # reported by pydantic with the field's location
        raise ValueError(exc.message) from None


class Variant(BaseModel):
    """One version an endpoint may route to, with its share of the traffic (percent)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    model: str
    weight: float = Field(default=100.0, ge=0, le=100)

    @field_validator("model")
    @classmethod
    def _pinned(cls, value: str) -> str:
        return _pinned_field(value)


class StickyKey(BaseModel):
    """Where an A/B request's key is read: a request header or an input column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    header: str | None = Field(default=None, min_length=1, max_length=128)
    column: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _one_place(self) -> StickyKey:
        if (self.header is None) == (self.column is None):
            raise ValueError("give exactly one of header or column")
        return self


class TrafficPolicy(BaseModel):
    """What answers an endpoint's requests (see the module documentation)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: PolicyKind
    variants: list[Variant] = Field(min_length=1)
    sticky: StickyKey | None = None
    method: EnsembleMethod | None = None
    shadows: list[str] = Field(default_factory=list)
    mirror: bool = False
    fallback: str | None = None

    @field_validator("shadows")
    @classmethod
    def _pinned_shadows(cls, value: list[str]) -> list[str]:
        return [_pinned_field(uri) for uri in value]

    @field_validator("fallback")
    @classmethod
    def _fallback(cls, value: str | None) -> str | None:
        """A pinned version, or a JSON value answered as it is."""
        if value is None:
            return None
        if value.startswith("models:/"):
            return _pinned_field(value)
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            raise ValueError(
                f"{value!r} is neither a pinned version (models:/NAME/N) nor a JSON value "
                "such as 0 or '\"unknown\"'"
            ) from None
        return value

    @property
    def fallback_model(self) -> str | None:
        """The fallback version's URI, when a version is the fallback."""
        return self.fallback if self.fallback and self.fallback.startswith("models:/") else None

    @model_validator(mode="after")
    def _coherent(self) -> TrafficPolicy:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names must be distinct")
        models = [v.model for v in self.variants]
        if len(set(models)) != len(models):
            raise ValueError("each version may appear in one variant only")
        overlap = sorted(set(self.shadows) & set(models))
        if overlap:
            raise ValueError(f"{', '.join(overlap)} both answers and shadows; pick one")
        if len(set(self.shadows)) != len(self.shadows):
            raise ValueError("a version is shadowed twice")
        total = math.fsum(v.weight for v in self.variants)
        if self.kind == "single" and len(self.variants) != 1:
            raise ValueError("a single policy has exactly one variant")
        if self.kind in ("single", "split", "ab") and abs(total - 100) > 1e-9:
            raise ValueError(f"variant weights must sum to 100; they sum to {total:g}")
        if self.kind == "ab" and self.sticky is None:
            raise ValueError("an ab policy needs a sticky key: a header or a column")
        if self.kind != "ab" and self.sticky is not None:
            raise ValueError("only an ab policy has a sticky key")
        if self.mirror and self.kind not in ("split", "ab"):
            raise ValueError("only a split or ab policy mirrors requests to its variants")
        if self.kind == "ensemble":
            if len(self.variants) < 2:
                raise ValueError("an ensemble has at least two members")
            if self.method is None:
                raise ValueError("an ensemble needs a method: mean, vote or weighted")
            if self.method == "weighted" and total <= 0:
                raise ValueError("a weighted ensemble needs positive weights")
        elif self.method is not None:
            raise ValueError("only an ensemble has a method")
        return self

    @classmethod
    def parse(cls, data: Any) -> TrafficPolicy:
        """A policy from JSON-like data, or an :class:`InvalidInputError` naming the field."""
        try:
            return cls.model_validate(data)
        except InvalidInputError:
            raise
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            prefix = f"traffic policy {where}" if where else "traffic policy"
            raise InvalidInputError(f"{prefix}: {message}") from None

    @property
    def models(self) -> list[str]:
        """Every version the policy answers with: variants, then shadows (see also
        :attr:`fallback_model`)."""
        return [v.model for v in self.variants] + list(self.shadows)

    # -- routing -------------------------------------------------------------------

    def assign(self, key: str | None = None, draw: float | None = None) -> Variant:
        """The variant answering one request.

        ``ab`` hashes ``key`` (required); ``split`` uses ``draw``, a uniform number in
        ``[0, 1)`` the caller supplies (so tests can fix it); ``single`` and
        ``ensemble`` answer with their first variant (an ensemble's members all answer).
        """
        if self.kind == "ab":
            if key is None or key == "":
                assert self.sticky is not None
                where = (
                    f"header {self.sticky.header!r}"
                    if self.sticky.header
                    else f"column {self.sticky.column!r}"
                )
                raise InvalidInputError(
                    f"this endpoint assigns variants by {where}; send it with every request"
                )
            return self._by_position(bucket(key) / _BUCKETS)
        if self.kind == "split":
            if draw is None or not 0 <= draw < 1:
                raise ValueError("a split policy needs a draw in [0, 1)")
            return self._by_position(draw)
        return self.variants[0]

    def _by_position(self, position: float) -> Variant:
        edge = 0.0
        for variant in self.variants:
            edge += variant.weight / 100
            if position < edge:
                return variant
        return next(v for v in reversed(self.variants) if v.weight > 0)


def bucket(key: str) -> int:
    """A stable bucket in ``[0, 10000)`` for a request key: the same everywhere, always
    (SHA-256, not Python's per-process ``hash``)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS


# -- ensembles ---------------------------------------------------------------------


def combine(
    method: EnsembleMethod,
    predictions: Sequence[np.ndarray[Any, Any]],
    probabilities: Sequence[np.ndarray[Any, Any] | None],
    classes: Sequence[Any] | None,
    weights: Sequence[float] | None = None,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    """The ensemble's answer from its members' (in member order): labels or values, and
    probabilities for classifiers.

    - ``mean`` / ``weighted``: the (weighted) mean of the members' probabilities, the
      label their argmax; for regressors, the (weighted) mean of the values.
    - ``vote``: each row's most frequent label; a tie goes to the label of the earliest
      member among the tied. Probabilities are the members' mean, for information.
    """
    if not predictions:
        raise ValueError("an ensemble has members")
    factors = np.ones(len(predictions)) if method != "weighted" else np.asarray(weights, float)
    if method == "weighted" and (len(factors) != len(predictions) or factors.sum() <= 0):
        raise ValueError("a weighted ensemble needs one positive weight per member")
    factors = factors / factors.sum()
    classifier = classes is not None and all(p is not None for p in probabilities)
    if method == "vote" and classes is not None and not classifier:
        return _vote(predictions), None  # labels alone: nothing to average
    if not classifier:
        if method == "vote":
            raise InvalidInputError("a vote needs class labels; use mean or weighted")
        values = np.stack([np.asarray(p, dtype=np.float64) for p in predictions])
        return np.tensordot(factors, values, axes=1), None
    assert classes is not None
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in probabilities])
    mean = np.tensordot(factors, stacked, axes=1)
    labels = np.asarray(classes)
    if method != "vote":
        return labels.take(np.argmax(mean, axis=1)), mean
    return _vote(predictions), mean


def _vote(predictions: Sequence[np.ndarray[Any, Any]]) -> np.ndarray[Any, Any]:
    """Each row's most frequent label; a tie goes to the earliest member among the tied."""
    votes = np.stack([np.asarray(p) for p in predictions])  # (members, rows)
    chosen = []
    for row in votes.T:
        values, counts = np.unique(row, return_counts=True)
        tied = set(values[counts == counts.max()].tolist())
        chosen.append(next(v for v in row.tolist() if v in tied))
    return np.asarray(chosen, dtype=votes.dtype)
