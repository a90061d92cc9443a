"""Traffic policies: validation that names the field, sticky A/B assignment that is the
same in every process, weighted splits, and ensembles that combine members exactly."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from typing import Any

import numpy as np
import pytest

from shipyard.endpoints import TrafficPolicy, bucket, combine
from shipyard.errors import InvalidInputError


def _ab(weights: tuple[float, float] = (50, 50)) -> TrafficPolicy:
    return TrafficPolicy.parse(
        {
            "kind": "ab",
            "sticky": {"header": "x-customer"},
            "variants": [
                {"name": "champion", "model": "models:/churn/3", "weight": weights[0]},
                {"name": "challenger", "model": "models:/churn/4", "weight": weights[1]},
            ],
        }
    )


def test_the_same_key_reaches_the_same_variant_in_every_process() -> None:
    policy = _ab((30, 70))
    keys = [f"customer-{i}" for i in range(200)]
    here = [policy.assign(key).name for key in keys]
    assert here == [policy.assign(key).name for key in keys]
    script = (
        "from shipyard.endpoints import TrafficPolicy\n"
        "import json, sys\n"
        "p = TrafficPolicy.model_validate_json(sys.argv[1])\n"
        "print(json.dumps([p.assign(f'customer-{i}').name for i in range(200)]))\n"
    )
    for seed in ("1", "2"):  # another process, another hash seed: the same answers
        out = subprocess.run(
            [sys.executable, "-c", script, policy.model_dump_json()],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        )
        assert out.stdout.strip() == str(here).replace("'", '"')


def test_sticky_shares_follow_the_weights() -> None:
    policy = _ab((10, 90))
    counts = Counter(policy.assign(f"user-{i}").name for i in range(100_000))
    assert abs(counts["champion"] / 100_000 - 0.10) < 0.005
    assert bucket("user-1") == bucket("user-1") and 0 <= bucket("x") < 10_000


def test_a_split_follows_its_draws() -> None:
    policy = TrafficPolicy.parse(
        {
            "kind": "split",
            "variants": [
                {"name": "stable", "model": "models:/m/1", "weight": 90},
                {"name": "canary", "model": "models:/m/2", "weight": 10},
            ],
        }
    )
    rng = np.random.default_rng(0)
    counts = Counter(policy.assign(draw=float(d)).name for d in rng.random(50_000))
    assert abs(counts["canary"] / 50_000 - 0.10) < 0.01
    assert policy.assign(draw=0.0).name == "stable" and policy.assign(draw=0.95).name == "canary"
    assert policy.models == ["models:/m/1", "models:/m/2"]


def test_an_ab_request_without_its_key_is_told_what_to_send() -> None:
    with pytest.raises(InvalidInputError, match="header 'x-customer'"):
        _ab().assign(None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "single", "variants": []}, "variants: List should have at least 1 item"),
        (
            {"kind": "split", "variants": [{"name": "a", "model": "models:/m/1", "weight": 60}]},
            "weights must sum to 100; they sum to 60",
        ),
        (
            {"kind": "single", "variants": [{"name": "a", "model": "models:/m@champion"}]},
            "variants.0.model: models:/m@champion does not name one version",
        ),
        (
            {"kind": "single", "variants": [{"name": "a", "model": "nope"}]},
            "variants.0.model:",
        ),
        (
            {
                "kind": "split",
                "variants": [
                    {"name": "a", "model": "models:/m/1", "weight": 50},
                    {"name": "a", "model": "models:/m/2", "weight": 50},
                ],
            },
            "variant names must be distinct",
        ),
        (
            {
                "kind": "ab",
                "variants": [{"name": "a", "model": "models:/m/1"}],
            },
            "needs a sticky key",
        ),
        (
            {
                "kind": "ab",
                "sticky": {"header": "h", "column": "c"},
                "variants": [{"name": "a", "model": "models:/m/1"}],
            },
            "sticky: give exactly one of header or column",
        ),
        (
            {
                "kind": "single",
                "variants": [{"name": "a", "model": "models:/m/1"}],
                "shadows": ["models:/m/1"],
            },
            "both answers and shadows",
        ),
        (
            {"kind": "ensemble", "variants": [{"name": "a", "model": "models:/m/1"}]},
            "at least two members",
        ),
        (
            {
                "kind": "ensemble",
                "variants": [
                    {"name": "a", "model": "models:/m/1"},
                    {"name": "b", "model": "models:/m/2"},
                ],
            },
            "needs a method",
        ),
        (
            {"kind": "single", "variants": [{"name": "a", "model": "models:/m/1"}], "x": 1},
            "x: Extra inputs are not permitted",
        ),
        ({"kind": "canary", "variants": []}, "kind: Input should be"),
        (
            {
                "kind": "single",
                "variants": [{"name": "a", "model": "models:/m/1"}],
                "fallback": "oops",
            },
            "fallback: 'oops' is neither a pinned version",
        ),
        (
            {
                "kind": "single",
                "variants": [{"name": "a", "model": "models:/m/1"}],
                "fallback": "models:/m@champion",
            },
            "fallback: models:/m@champion does not name one version",
        ),
        (
            {"kind": "single", "variants": [{"name": "a", "model": "models:/m/1"}], "mirror": True},
            "only a split or ab policy mirrors",
        ),
    ],
)
def test_bad_policies_name_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match="traffic policy") as caught:
        TrafficPolicy.parse(data)
    assert message in str(caught.value)


def test_ensembles_combine_members_exactly() -> None:
    classes = ["no", "yes"]
    a = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]])
    b = np.array([[0.6, 0.4], [0.7, 0.3], [0.1, 0.9]])
    c = np.array([[0.2, 0.8], [0.45, 0.55], [0.3, 0.7]])
    labels = [np.asarray(classes)[p.argmax(axis=1)] for p in (a, b, c)]
    got, proba = combine("mean", labels, [a, b, c], classes)
    np.testing.assert_allclose(proba, (a + b + c) / 3, rtol=0, atol=1e-15)
    assert got.tolist() == ["no", "no", "yes"]  # row 1: mean 0.517 no, 0.483 yes
    got, proba = combine("weighted", labels, [a, b, c], classes, weights=[1, 3, 0])
    np.testing.assert_allclose(proba, (a + 3 * b) / 4, rtol=0, atol=1e-15)
    assert got.tolist() == ["no", "no", "yes"]
    got, _ = combine("vote", labels, [a, b, c], classes)
    assert got.tolist() == ["no", "yes", "yes"]  # row 0: no, no, yes -> no
    tie, _ = combine("vote", labels[:2], [a, b], classes)
    assert tie.tolist() == ["no", "yes", "yes"]  # row 1 ties yes/no: the first member's
    values, none = combine("mean", [np.array([1.0, 2.0]), np.array([3.0, 6.0])], [None, None], None)
    assert values.tolist() == [2.0, 4.0] and none is None
    with pytest.raises(InvalidInputError, match="a vote needs class labels"):
        combine("vote", [np.array([1.0])], [None], None)
