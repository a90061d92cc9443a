"""Data drift of a current table against a reference table, column by column.

Each column shared by both tables gets one test from :mod:`shipyard.stats.drift_tests`.
The default choice follows Evidently's, by the column's kind and the size of the smaller
of the two samples (their non-missing values): Evidently looks at the reference alone,
which puts a 100-row window of unchanged data against a large reference under fixed
distance thresholds its noise crosses (20 such windows in 20 raised data-set drift);
with the smaller sample, small windows get p-value tests, and a large reference
against a large window is judged exactly as Evidently judges it:

===========================================  ====================  =====================
column                                       smaller <= 1,000      both > 1,000
===========================================  ====================  =====================
numeric, more than 5 distinct values         ``ks``, p < 0.05      ``wasserstein`` >= 0.1
categorical, boolean or numeric with at      ``ztest``, p < 0.05   ``jensenshannon`` >= 0.1
most 5 distinct values; 2 labels at most
the same, more than 2 labels                 ``chisquare``, p<0.05 ``jensenshannon`` >= 0.1
===========================================  ====================  =====================

The data set drifts when at least ``drift_share`` (default 0.5) of the tested columns
drift. Every choice can be overridden per column (``tests={"age": "psi"}``,
``thresholds={"age": 0.2}``).

Fixed distance thresholds depend on the sample size: on small windows two samples of
the same distribution are often 0.1 apart, on large ones a real but small shift never
is. ``mode="calibrated"`` turns every distance into a test with a false-alarm rate of
``alpha`` at any size: its p-value comes from a permutation null at a fixed seed (the
pooled samples re-split at random, ``permutations`` times). Categorical counts are
re-split exactly (a multivariate hypergeometric draw); numeric columns are permuted on a
random subsample of at most ``max_permutation_rows`` values per side (a permutation test
on a random subsample is still exact; only its power drops). P-value tests keep their
own p-values. In that mode a column's threshold is its p-value threshold.

Missing values (and ±infinity in numeric columns) are counted and left out.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from shipyard.errors import InvalidInputError
from shipyard.stats._columns import epoch_seconds, profile_kind
from shipyard.stats.drift_domain import DomainDrift, domain_classifier_drift
from shipyard.stats.drift_tests import DriftTest, Outcome, Sample, get_test, release_cache

Mode = Literal["fixed", "calibrated"]

#: Up to this many values in the smaller sample, a column gets a p-value test by default.
SMALL_SAMPLE = 1000
#: Numeric columns with at most this many distinct reference values are tested as categories.
FEW_VALUES = 5


class ColumnDrift(BaseModel):
    """The drift test of one column."""

    model_config = ConfigDict(frozen=True)

    column: str
    kind: str
    """``numeric``, ``categorical``, ``boolean`` or ``datetime`` (as in the reference)."""
    test: str | None
    """The registered test's key; ``None`` when the column could not be tested."""
    statistic: float | None
    p_value: float | None
    """The test's p-value (for a distance only in ``calibrated`` mode)."""
    threshold: float | None
    threshold_kind: Literal["p_value", "distance"] | None
    drift_detected: bool
    reference_count: int
    current_count: int
    reference_missing: int
    current_missing: int
    """Missing (or infinite) values, left out of the test."""
    note: str | None = None
    """Why the column was not tested, if it was not."""


class DriftReport(BaseModel):
    """Per-column drift tests and the data set's verdict."""

    model_config = ConfigDict(frozen=True)

    mode: Mode
    columns: list[ColumnDrift]
    tested_columns: int
    drifted_columns: int
    drifted_share: float
    """``drifted_columns / tested_columns`` (0 when nothing was tested)."""
    drift_share: float
    dataset_drift: bool
    """``drifted_share >= drift_share`` (and at least one column tested)."""
    only_in_reference: list[str]
    """Columns of the reference the current table lacks (not tested)."""
    only_in_current: list[str]

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def column(self, name: str) -> ColumnDrift:
        for entry in self.columns:
            if entry.column == name:
                return entry
        raise InvalidInputError(f"the report has no column {name!r}")


def prepare(series: pd.Series[Any]) -> tuple[str, Sample]:
    """The column's kind and its sample (numbers sorted, anything else counted)."""
    kind = profile_kind(series)
    if kind == "numeric":
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return kind, Sample.numeric(values)
    if kind == "datetime":
        return kind, Sample.numeric(epoch_seconds(series))
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        counts = np.bincount(codes[codes >= 0], minlength=len(series.cat.categories))
        labels = [str(c) for c in series.cat.categories]
        return kind, Sample.from_counts(labels, counts, int(np.count_nonzero(codes < 0)))
    return kind, Sample.categorical(series)


def default_test(reference: Sample, current: Sample) -> str:
    """The default test's key for two samples (see the module's table)."""
    small = min(reference.size, current.size) <= SMALL_SAMPLE
    if reference.kind == "numeric" and reference.distinct() > FEW_VALUES:
        return "ks" if small else "wasserstein"
    if not small:
        return "jensenshannon"
    ref, cur = reference.as_counts(), current.as_counts()
    assert ref.labels is not None and cur.labels is not None
    labels = set(ref.labels.tolist()) | set(cur.labels.tolist())
    return "ztest" if len(labels) <= 2 else "chisquare"


def permutation_p_value(
    test: DriftTest,
    reference: Sample,
    current: Sample,
    *,
    permutations: int,
    max_rows: int,
    seed: int,
) -> float:
    """P-value of ``test``'s statistic under a permutation null: ``(1 + #{null >= observed})
    / (1 + permutations)``."""
    rng = np.random.default_rng(seed)
    if reference.values is not None and current.values is not None:
        ref, cur = reference.values, current.values
        if ref.size > max_rows:
            ref = np.sort(rng.choice(ref, max_rows, replace=False))
        if cur.size > max_rows:
            cur = np.sort(rng.choice(cur, max_rows, replace=False))
        observed = test.compute(Sample(values=ref), Sample(values=cur)).statistic
        pooled = np.concatenate((ref, cur))
        null = np.empty(permutations)
        for i in range(permutations):
            rng.shuffle(pooled)
            a, b = np.sort(pooled[: ref.size]), np.sort(pooled[ref.size :])
            null[i] = test.compute(Sample(values=a), Sample(values=b)).statistic
    else:
        ref_c, cur_c = reference.as_counts(), current.as_counts()
        assert ref_c.labels is not None and ref_c.counts is not None
        assert cur_c.labels is not None and cur_c.counts is not None
        labels = np.concatenate((ref_c.labels, cur_c.labels))
        codes, uniques = pd.factorize(labels)
        totals = np.zeros((2, len(uniques)), dtype=np.int64)
        np.add.at(totals[0], codes[: ref_c.labels.size], ref_c.counts)
        np.add.at(totals[1], codes[ref_c.labels.size :], cur_c.counts)
        observed = test.compute(
            Sample.from_counts(uniques, totals[0]), Sample.from_counts(uniques, totals[1])
        ).statistic
        draws = rng.multivariate_hypergeometric(
            totals.sum(axis=0), int(totals[1].sum()), size=permutations
        )
        pooled_counts = totals.sum(axis=0)
        null = np.array(
            [
                test.compute(
                    Sample.from_counts(uniques, pooled_counts - draw),
                    Sample.from_counts(uniques, draw),
                ).statistic
                for draw in draws
            ]
        )
    # a small tolerance so ties in floating point count as ties
    exceed = int(np.count_nonzero(null >= observed - 1e-12 * max(1.0, abs(observed))))
    return (1 + exceed) / (1 + permutations)


def _test_column(
    name: str,
    ref_series: pd.Series[Any],
    cur_series: pd.Series[Any],
    test_key: str | None,
    threshold: float | None,
    mode: Mode,
    options: dict[str, Any],
) -> ColumnDrift:
    kind, reference = prepare(ref_series)
    cur_kind, current = prepare(cur_series)
    base: dict[str, Any] = {
        "column": name,
        "kind": kind,
        "reference_count": reference.size,
        "current_count": current.size,
        "reference_missing": reference.missing,
        "current_missing": current.missing,
    }
    empty = [side for side, s in (("reference", reference), ("current", current)) if s.size == 0]
    if empty:
        return ColumnDrift(
            **base,
            test=None,
            statistic=None,
            p_value=None,
            threshold=None,
            threshold_kind=None,
            drift_detected=False,
            note=f"no non-missing values in the {' and '.join(empty)} table",
        )
    if reference.kind != current.kind:  # e.g. numbers in one table, strings in the other
        reference, current = reference.as_counts(), current.as_counts()
    if test_key is None:
        test_key = default_test(reference, current)
    test = get_test(test_key)
    if (
        reference.kind == "numeric"
        and "categorical" in test.kinds
        and reference.distinct() <= FEW_VALUES
    ):  # a few distinct numbers are compared value by value, as categories
        reference, current = reference.as_counts(), current.as_counts()
    try:
        outcome = test.outcome(reference, current)
    except InvalidInputError as exc:
        raise InvalidInputError(f"column {name!r}: {exc}") from exc
    p_value = outcome.p_value
    if mode == "calibrated" and test.threshold_kind == "distance":
        p_value = permutation_p_value(
            test,
            reference,
            current,
            permutations=options["permutations"],
            max_rows=options["max_permutation_rows"],
            seed=options["seed"],
        )
        limit = options["alpha"] if threshold is None else threshold
        drift = p_value < limit
        kind_of_threshold: Literal["p_value", "distance"] = "p_value"
    else:
        limit = test.default_threshold if threshold is None else threshold
        if mode == "calibrated" and threshold is None:
            limit = options["alpha"]
        drift = test.detects(Outcome(outcome.statistic, p_value), limit)
        kind_of_threshold = test.threshold_kind
    return ColumnDrift(
        **base,
        test=test.key,
        statistic=outcome.statistic,
        p_value=p_value,
        threshold=limit,
        threshold_kind=kind_of_threshold,
        drift_detected=bool(drift),
    )


def _number(name: str, value: Any, *, whole: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        kind = "a whole number" if whole else "a number"
        raise InvalidInputError(f"{name} must be {kind}; got {value!r}")
    if whole and not float(value).is_integer():
        raise InvalidInputError(f"{name} must be a whole number; got {value!r}")
    return float(value)


def check_options(
    *,
    tests: Mapping[str, Any] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    drift_share: Any = 0.5,
    mode: Any = "fixed",
    alpha: Any = 0.05,
    permutations: Any = 199,
    max_permutation_rows: Any = 5000,
    seed: Any = 0,
) -> None:
    """Raise :class:`InvalidInputError` naming the first option of :func:`drift_report`
    that is not valid (before any work, and when a monitor stores them)."""
    if not 0 < _number("drift_share", drift_share) <= 1:
        raise InvalidInputError(f"drift_share must be in (0, 1], e.g. 0.5; got {drift_share}")
    if not 0 < _number("alpha", alpha) < 1:
        raise InvalidInputError(f"alpha must be between 0 and 1, e.g. 0.05; got {alpha}")
    if mode not in ("fixed", "calibrated"):
        raise InvalidInputError(f"mode must be 'fixed' or 'calibrated'; got {mode!r}")
    if _number("permutations", permutations, whole=True) < 1:
        raise InvalidInputError(f"permutations must be at least 1, e.g. 199; got {permutations}")
    if _number("max_permutation_rows", max_permutation_rows, whole=True) < 2:
        raise InvalidInputError(
            f"max_permutation_rows must be at least 2, e.g. 5000; got {max_permutation_rows}"
        )
    _number("seed", seed, whole=True)
    for option, mapping in (("tests", tests), ("thresholds", thresholds)):
        if mapping is not None and not isinstance(mapping, Mapping):
            raise InvalidInputError(f"{option} must map column names to values; got {mapping!r}")
    for column, key in (tests or {}).items():
        if not isinstance(key, str):
            raise InvalidInputError(f"tests: {column!r} must name a test; got {key!r}")
        get_test(key)  # an unknown key fails before any work
    for column, value in (thresholds or {}).items():
        _number(f"thresholds: {column!r}", value)


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    tests: Mapping[str, str] | None = None,
    thresholds: Mapping[str, float] | None = None,
    drift_share: float = 0.5,
    mode: Mode = "fixed",
    alpha: float = 0.05,
    permutations: int = 199,
    max_permutation_rows: int = 5000,
    seed: int = 0,
    workers: int | None = None,
) -> DriftReport:
    """Test every column shared by ``reference`` and ``current`` for drift.

    Parameters
    ----------
    columns
        Test only these columns (default: every column in both tables).
    tests, thresholds
        Per-column test key and threshold, overriding the defaults.
    drift_share
        The data set drifts when at least this share of tested columns drift.
    mode
        ``"fixed"``: Evidently-like fixed thresholds; ``"calibrated"``: permutation
        p-values for distances, every column decided at ``alpha``.
    permutations, max_permutation_rows, seed
        The permutation null of ``calibrated`` mode.
    workers
        Threads testing columns in parallel (default: up to 4, one per core).
    """
    for side, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInputError(
                f"{side} must be a pandas DataFrame, got {type(frame).__name__}"
            )
    check_options(
        tests=tests,
        thresholds=thresholds,
        drift_share=drift_share,
        mode=mode,
        alpha=alpha,
        permutations=permutations,
        max_permutation_rows=max_permutation_rows,
        seed=seed,
    )
    ref_names = [str(c) for c in reference.columns]
    cur_names = [str(c) for c in current.columns]
    for side, names in (("reference", ref_names), ("current", cur_names)):
        if len(set(names)) != len(names):
            raise InvalidInputError(f"the {side} table has duplicate column names; rename them")
    shared = [n for n in ref_names if n in set(cur_names)]
    if columns is not None:
        unknown = [c for c in columns if c not in shared]
        if unknown:
            raise InvalidInputError(
                f"column(s) {', '.join(map(repr, unknown))} are not in both tables"
            )
        shared = [n for n in shared if n in set(columns)]
    tests, thresholds = dict(tests or {}), dict(thresholds or {})
    for option, mapping in (("tests", tests), ("thresholds", thresholds)):
        unknown = [c for c in mapping if c not in shared]
        if unknown:
            raise InvalidInputError(
                f"{option} names column(s) {', '.join(map(repr, unknown))} that are not "
                "tested; name columns present in both tables"
            )
    options = {
        "alpha": alpha,
        "permutations": permutations,
        "max_permutation_rows": max_permutation_rows,
        "seed": seed,
    }
    ref_pos = {n: i for i, n in enumerate(ref_names)}
    cur_pos = {n: i for i, n in enumerate(cur_names)}

    def one(name: str) -> ColumnDrift:
        return _test_column(
            name,
            reference.iloc[:, ref_pos[name]],
            current.iloc[:, cur_pos[name]],
            tests.get(name),
            thresholds.get(name),
            mode,
            options,
        )

    threads = workers if workers is not None else min(4, os.cpu_count() or 1)
    try:
        if threads > 1 and len(shared) > 1:
            with ThreadPoolExecutor(threads) as pool:
                results = list(pool.map(one, shared))
        else:
            results = [one(name) for name in shared]
    finally:
        release_cache()
    tested = [r for r in results if r.test is not None]
    drifted = sum(r.drift_detected for r in tested)
    share = drifted / len(tested) if tested else 0.0
    return DriftReport(
        mode=mode,
        columns=results,
        tested_columns=len(tested),
        drifted_columns=drifted,
        drifted_share=share,
        drift_share=drift_share,
        dataset_drift=bool(tested) and share >= drift_share,
        only_in_reference=[n for n in ref_names if n not in set(cur_names)],
        only_in_current=[n for n in cur_names if n not in set(ref_names)],
    )


__all__ = [
    "ColumnDrift",
    "DomainDrift",
    "DriftReport",
    "default_test",
    "domain_classifier_drift",
    "drift_report",
    "permutation_p_value",
    "prepare",
]
