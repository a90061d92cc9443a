"""A rollout's plan: durations, steps, and the policy of each step."""

from __future__ import annotations

import pytest

from shipyard.endpoints import TrafficPolicy
from shipyard.endpoints.plan import format_duration, parse_duration, parse_steps, step_policy
from shipyard.errors import InvalidInputError


def test_durations_read_and_written() -> None:
    cases = {"500ms": 0.5, "30s": 30, "5m": 300, "1h": 3600, "90": 90, "0.25": 0.25, " 2 m ": 120}
    for text, seconds in cases.items():
        assert parse_duration(text) == pytest.approx(seconds), text
    assert parse_duration(1.5) == 1.5
    for seconds, text in [(300, "5m"), (0.2, "200ms"), (3600, "1h"), (90, "90s"), (1.5, "1.5s")]:
        assert format_duration(seconds) == text and parse_duration(text) == seconds
    for bad, message in [
        ("5x", "is not a duration"),
        ("-1s", "is not a duration"),
        ("", "is not a duration"),
        ("0", "must be a positive duration"),
        (float("inf"), "must be a positive duration"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            parse_duration(bad)


def test_steps_go_up_and_end_at_100() -> None:
    assert parse_steps("5,25,50,100") == [5, 25, 50, 100]
    assert parse_steps(" 0.5%, 10 ,100") == [0.5, 10, 100]
    assert parse_steps([1, 100]) == [1, 100]
    for bad, message in [
        ("25,5,100", "strictly up"),
        ("5,5,100", "strictly up"),
        ("5,50", "must end at 100"),
        ("100", "a step below 100"),
        ("-5,100", "not a share of traffic"),
        ("5,150", "not a share of traffic"),
        ("five,100", "not comma-separated percentages"),
        ([], "give the rollout's steps"),
    ]:
        with pytest.raises(InvalidInputError, match=message):
            parse_steps(bad)  # type: ignore[arg-type]


def test_step_policies_keep_shadows_and_fallback() -> None:
    base = TrafficPolicy.parse(
        {
            "kind": "single",
            "variants": [{"name": "m-1", "model": "models:/m/1"}],
            "shadows": ["models:/m/2", "models:/m/3"],
            "fallback": "0",
        }
    )
    canary = step_policy(base, "models:/m/2", 10, mirror=True)
    assert canary.kind == "split" and canary.mirror and canary.fallback == "0"
    assert [(v.name, v.model, v.weight) for v in canary.variants] == [
        ("m-1", "models:/m/1", 90),
        ("m-2", "models:/m/2", 10),
    ]
    assert canary.shadows == ["models:/m/3"]  # the new version answers now
    final = step_policy(base, "models:/m/2", 100, mirror=True)
    assert final.kind == "single" and not final.mirror
    assert [(v.name, v.weight) for v in final.variants] == [("m-2", 100)]
    assert final.shadows == ["models:/m/3"] and final.fallback == "0"
    named = TrafficPolicy.parse(
        {"kind": "single", "variants": [{"name": "m-2", "model": "models:/m/1"}]}
    )
    assert step_policy(named, "models:/m/2", 50, mirror=False).variants[1].name == "challenger"
