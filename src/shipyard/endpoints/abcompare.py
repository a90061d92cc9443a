"""A challenger against the control on each metric: the test, the difference and its
interval, and a verdict line saying who won or how many more samples it would take."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel

from shipyard.stats.ab import Better, Comparison, compare_means, compare_rates


class MetricComparison(BaseModel):
    """A challenger against the control on one metric."""

    metric: str
    challenger: str
    control: str
    test: str | None
    """``None`` when there were too few samples to test (``verdict`` says so)."""
    unit: str
    """What a sample is: requests, or labelled rows."""
    control_value: float | None
    challenger_value: float | None
    n_control: int
    n_challenger: int
    difference: float | None = None
    """Challenger minus control."""
    ci_low: float | None = None
    ci_high: float | None = None
    statistic: float | None = None
    p_value: float | None = None
    significant: bool = False
    winner: str | None = None
    needed_per_variant: int | None = None
    more_needed: int | None = None
    verdict: str


# metric name, sample key, test kind, which is better, unit of a sample
_METRICS: list[tuple[str, str, str, Better, str]] = [
    ("error rate", "errors", "rate", "lower", "requests"),
    ("latency (ms)", "latency", "mean", "lower", "requests"),
    ("accuracy", "correct", "rate", "higher", "labelled rows"),
    ("MAE", "absolute error", "mean", "lower", "labelled rows"),
    ("conversion", "positive", "rate", "higher", "labelled rows"),
]


def compare_variants(
    control: str,
    challenger: str,
    samples: dict[str, dict[str, np.ndarray[Any, Any]]],
    alpha: float,
    power: float,
) -> list[MetricComparison]:
    """``challenger`` against ``control`` on every metric both have samples of
    (``samples[variant][key]``: 0/1 outcomes for rates, values for means)."""
    found = []
    for metric, key, kind, better, unit in _METRICS:
        if key not in samples[control]:
            continue
        a, b = samples[control][key], samples[challenger][key]
        base: dict[str, Any] = {
            "metric": metric,
            "challenger": challenger,
            "control": control,
            "unit": unit,
            "control_value": float(a.mean()) if len(a) else None,
            "challenger_value": float(b.mean()) if len(b) else None,
            "n_control": len(a),
            "n_challenger": len(b),
        }
        least = 1 if kind == "rate" else 2
        if len(a) < least or len(b) < least:
            found.append(
                MetricComparison(
                    test=None,
                    verdict=f"{metric}: too few {unit} to test (each variant needs at least "
                    f"{least}; {control} has {len(a)}, {challenger} {len(b)}); wait for more",
                    **base,
                )
            )
            continue
        if kind == "rate":
            result = compare_rates(
                int(a.sum()), len(a), int(b.sum()), len(b), alpha=alpha, power=power, better=better
            )
        else:
            result = compare_means(a, b, alpha=alpha, power=power, better=better)
        found.append(_from(result, base, kind == "rate", control, challenger))
    return found


def _from(
    result: Comparison,
    base: dict[str, Any],
    rate: bool,
    control: str,
    challenger: str,
) -> MetricComparison:
    """The comparison with a verdict line saying who won, or what it would take."""
    metric, unit = base["metric"], base["unit"]
    winner = {"a": control, "b": challenger, None: None}[result.winner]

    def show(value: float) -> str:
        return f"{value:.2%}" if rate else f"{value:.4g}"

    shift = f"{result.difference * 100:+.2f} points" if rate else f"{result.difference:+.4g}"
    level = f"{1 - result.alpha:.0%}"
    interval = f"{level} CI {show(result.ci_low)} to {show(result.ci_high)}"
    if winner is not None:
        loser = control if winner == challenger else challenger
        verdict = (
            f"{metric}: {winner} beats {loser}, {show(result.b)} ({challenger}) vs "
            f"{show(result.a)} ({control}), {shift}, {interval}, p = {result.p_value:.3g}"
        )
    elif result.significant:
        verdict = f"{metric}: significant but no difference in value (p = {result.p_value:.3g})"
    elif result.needed_per_variant is None:
        verdict = (
            f"{metric}: no winner, no difference observed between {challenger} and {control} "
            f"(p = {result.p_value:.3g}); nothing to estimate samples from yet"
        )
    elif result.more_needed:
        verdict = (
            f"{metric}: no winner yet, {shift} ({challenger} vs {control}), {interval}, "
            f"p = {result.p_value:.3g}; about {result.more_needed:,} more {unit} per variant "
            f"needed ({result.needed_per_variant:,} each) to tell a difference this size at "
            f"alpha {result.alpha:g}"
        )
    else:
        verdict = (
            f"{metric}: no winner, {shift} ({challenger} vs {control}), p = "
            f"{result.p_value:.3g}, though each variant has the "
            f"{result.needed_per_variant:,} {unit} a difference this size would need: the "
            "true difference is likely smaller"
        )
    return MetricComparison(
        test=result.test,
        difference=result.difference,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        statistic=result.statistic,
        p_value=result.p_value,
        significant=result.significant,
        winner=winner,
        needed_per_variant=result.needed_per_variant,
        more_needed=result.more_needed,
        verdict=verdict,
        **base,
    )
