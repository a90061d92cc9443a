"""A rollout's plan: its steps, its interval, and the traffic policy of each step.

- Durations: ``500ms``, ``30s``, ``5m``, ``1h``, or a plain number of seconds.
- Steps: the new version's share of traffic at each step, in percent, strictly ascending
  in ``(0, 100]``. They must end at ``100`` (nothing is appended: a plan that stops
  below 100 is refused, since holding a share is a traffic split, not a rollout) and
  have at least one step below ``100`` (a step the new version is judged at).
- Step policies: a step below 100 is a ``split`` of the serving version (the champion)
  and the new one (the challenger); the step at 100 is ``single`` [challenger]. Both keep
  the starting policy's shadows and fallback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from shipyard.endpoints.policy import TrafficPolicy, Variant
from shipyard.errors import InvalidInputError
from shipyard.registry.uri import ModelURI

_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    None: 1.0,
}


def parse_duration(value: str | float, what: str = "interval") -> float:
    """Seconds from ``500ms``, ``30s``, ``5m``, ``1h``, ``1d``, ``1w`` or a plain number of
    seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise InvalidInputError(
                f"{what} {value!r} is not a duration; give a number with ms, s, m, h, d or w, "
                "e.g. 500ms, 30s, 5m, 1h, 1d (a plain number is seconds)"
            )
        number, unit = match.groups()
        seconds = float(number) * _UNIT_SECONDS[unit]
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidInputError(f"{what} {value!r} must be a positive duration, e.g. 5m")
    return seconds


def format_duration(seconds: float) -> str:
    """The shortest exact form :func:`parse_duration` reads back: ``5m``, ``200ms``."""
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{seconds / size:g}{unit}"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}s"


def parse_steps(value: str | Sequence[float]) -> list[float]:
    """Traffic shares of the new version, from ``"5,25,50,100"`` or a list of numbers."""
    example = "e.g. 5,25,50,100"
    if isinstance(value, str):
        parts = [p.strip().removesuffix("%") for p in value.split(",")]
        try:
            steps = [float(p) for p in parts]
        except ValueError:
            raise InvalidInputError(
                f"steps {value!r} are not comma-separated percentages; {example}"
            ) from None
    else:
        steps = [float(v) for v in value]
    if not steps:
        raise InvalidInputError(f"give the rollout's steps as percentages, {example}")
    for share in steps:
        if not math.isfinite(share) or not 0 < share <= 100:
            raise InvalidInputError(
                f"step {share:g}% is not a share of traffic in (0, 100]; {example}"
            )
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise InvalidInputError(f"steps must go strictly up, {example}; got {_text(steps)}")
    if steps[-1] != 100:
        raise InvalidInputError(
            f"steps must end at 100, {example}; got {_text(steps)} (to hold a share, "
            "split the traffic with: shipyard endpoints update ENDPOINT --split …)"
        )
    if len(steps) == 1:
        raise InvalidInputError(
            f"a rollout needs a step below 100 to judge the new version at, {example}; "
            "to switch at once, use: shipyard endpoints update ENDPOINT --model URI"
        )
    return steps


def _text(steps: Sequence[float]) -> str:
    return ",".join(f"{s:g}" for s in steps)


def challenger_name(base: TrafficPolicy, uri: str) -> str:
    """The new version's variant name: ``NAME-VERSION``, unless the champion has it."""
    parsed = ModelURI.parse(uri)
    name = f"{parsed.name}-{parsed.version}"[:64]
    return "challenger" if name == base.variants[0].name else name


def step_policy(base: TrafficPolicy, to: str, share: float, *, mirror: bool) -> TrafficPolicy:
    """The policy of the step giving ``share`` percent to ``to``; ``base`` is the
    ``single`` policy the rollout started from. ``mirror`` sends every request of a
    split to both versions (one answers, the other shadows), to measure agreement."""
    champion = base.variants[0]
    challenger = Variant(name=challenger_name(base, to), model=to, weight=min(share, 100.0))
    shadows = [uri for uri in base.shadows if uri != to]  # it answers now
    if share >= 100:
        return TrafficPolicy(
            kind="single", variants=[challenger], shadows=shadows, fallback=base.fallback
        )
    return TrafficPolicy(
        kind="split",
        variants=[champion.model_copy(update={"weight": 100.0 - share}), challenger],
        shadows=shadows,
        mirror=mirror,
        fallback=base.fallback,
    )
