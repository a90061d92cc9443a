"""Differentially private counts: the grid, exact counting, and the noise's scale.

OpenDP samples from the operating system's random source and takes no seed, so the
scale tests are statistical with bounds that cannot flake in practice: they compare the
mean absolute noise of 40,000 draws with its exact expectation within 7 standard errors
(a false failure about once in 10^11 runs), while a wrong scale (the other epsilon's,
or a factor of 2 in the sensitivity) misses by more than 50 standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from shipyard.errors import InvalidInputError
from shipyard.stats.privacy import (
    Binning,
    categorical_cells,
    laplace_counts,
    numeric_cells,
    private_release,
)

DRAWS = 40_000


def discrete_laplace_moments(scale: float) -> tuple[float, float]:
    """E|Z| and sd|Z| of the discrete Laplace ``P(Z = z) ∝ a^|z|``, ``a = exp(-1/scale)``."""
    a = math.exp(-1 / scale)
    mean = 2 * a / (1 - a * a)
    second = 2 * a / (1 - a) ** 2  # E Z^2, the variance
    return mean, math.sqrt(second - mean * mean)


@pytest.mark.parametrize("epsilon", [0.25, 1.0])
def test_the_noise_scale_is_sensitivity_over_epsilon(epsilon: float) -> None:
    noisy, scale = laplace_counts([0] * DRAWS, epsilon, sensitivity=1)
    assert scale == pytest.approx(1 / epsilon, rel=1e-12)
    noise = np.asarray(noisy, dtype=np.float64)
    expected, spread = discrete_laplace_moments(1 / epsilon)
    error = 7 * spread / math.sqrt(DRAWS)
    assert abs(np.abs(noise).mean() - expected) < error
    assert abs(noise.mean()) < 7 * (spread**2 + expected**2) ** 0.5 / math.sqrt(DRAWS)
    assert noise.var() == pytest.approx(spread**2 + expected**2, rel=0.1)
    # Near the continuous Laplace's E|Z| = b (the integers make it smaller for small b),
    # and the scale of half the epsilon (or twice the sensitivity) is far outside.
    assert np.abs(noise).mean() == pytest.approx(1 / epsilon, rel=0.2)
    wrong, _ = discrete_laplace_moments(2 / epsilon)
    assert abs(np.abs(noise).mean() - wrong) > 50 * spread / math.sqrt(DRAWS)


def test_a_release_splits_epsilon_over_its_count_vectors() -> None:
    frame = pd.DataFrame({"x": np.zeros(10), "c": ["a"] * 10})
    spec = {"x": Binning(low=0, high=1, bins=2), "c": Binning(categories=["a", "b"])}
    release = private_release(frame, spec, 0.3)
    assert release.aggregates == 3  # rows, x and c
    assert release.scale >= 3 / 0.3
    assert release.scale == pytest.approx(3 / 0.3, rel=1e-12)
    noisy, scale = laplace_counts([0] * DRAWS, 0.3, sensitivity=3)
    expected, spread = discrete_laplace_moments(scale)
    assert abs(np.abs(np.asarray(noisy)).mean() - expected) < 7 * spread / math.sqrt(DRAWS)


def test_numeric_cells_partition_every_row() -> None:
    values = pd.Series([-math.inf, -1.0, 0.0, 5.0, 10.0, 10.5, math.inf, None, 3.0])
    cells = numeric_cells(values, len(values), [0.0, 5.0, 10.0])
    # below, [0, 5), [5, 10], above, missing
    assert cells.tolist() == [2, 2, 2, 2, 1]
    assert cells.sum() == len(values)
    assert numeric_cells(None, 7, [0.0, 1.0]).tolist() == [0, 0, 0, 7]


def test_datetimes_are_counted_in_epoch_seconds() -> None:
    stamps = pd.Series(pd.to_datetime(["1970-01-01T00:00:10", "1970-01-01T00:01:00", None]))
    assert numeric_cells(stamps, 3, [0.0, 30.0, 120.0]).tolist() == [0, 1, 1, 0, 1]


def test_categories_outside_the_domain_are_pooled_unnamed() -> None:
    values = pd.Series(["a", "b", "secret", None, "a"])
    assert categorical_cells(values, 5, ["a", "b", "c"]).tolist() == [2, 1, 0, 1, 1]
    booleans = pd.Series([True, False, True])
    assert categorical_cells(booleans, 3, ["False", "True"]).tolist() == [1, 2, 0, 0]


def test_the_released_columns_do_not_depend_on_the_data() -> None:
    spec = {"x": Binning(edges=[0, 1, 2])}
    empty = private_release(pd.DataFrame({"y": [1]}), spec, 1.0)
    assert list(empty.columns) == ["x"]
    assert len(empty.columns["x"].counts) == 2
    assert (
        "secret"
        not in private_release(
            pd.DataFrame({"c": ["secret"] * 50}), {"c": Binning(categories=["a"])}, 1.0
        ).model_dump_json()
    )


def test_quantiles_and_mean_come_from_the_noisy_histogram() -> None:
    frame = pd.DataFrame({"x": np.repeat([0.5, 1.5, 2.5, 3.5], 100_000)})
    release = private_release(frame, {"x": Binning(low=0, high=4, bins=4)}, 5.0)
    column = release.columns["x"]
    assert column.binned_mean == pytest.approx(2.0, abs=0.01)
    assert column.quantiles is not None
    assert column.quantiles["0.5"] == pytest.approx(2.0, abs=0.01)
    assert set(column.quantiles) == {
        "0.01",
        "0.05",
        "0.1",
        "0.25",
        "0.5",
        "0.75",
        "0.9",
        "0.95",
        "0.99",
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"edges": [1, 1]}, "increase strictly"),
        ({"edges": [0, math.inf]}, "finite"),
        ({"low": 0, "high": 1}, "low, high and bins together"),
        ({"low": 0, "high": 1, "bins": 0}, "between 1 and"),
        ({"categories": ["a", "a"]}, "twice"),
        ({"edges": [0, 1], "categories": ["a"]}, "give one of"),
        ({}, "give one of"),
    ],
)
def test_a_bad_grid_is_refused_saying_why(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Binning.model_validate(spec)


@pytest.mark.parametrize("epsilon", [0, -1, math.inf, math.nan, True, "1"])
def test_epsilon_must_be_a_positive_number(epsilon: object) -> None:
    with pytest.raises(InvalidInputError, match="epsilon must be"):
        private_release(pd.DataFrame({"x": [1]}), {}, epsilon)  # type: ignore[arg-type]
