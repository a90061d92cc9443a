"""The HTML and JSON report: small at any window size, offline, escaped, exact counts."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import re

import numpy as np
import pandas as pd
import plotly.offline
import pytest

import shipyard
from shipyard.errors import InvalidInputError
from shipyard.reports import (
    ReportData,
    ReportWindow,
    TrendPoint,
    column_histograms,
    render_html,
    render_json,
)
from shipyard.reports.data import OTHER

HOSTILE = "<script>alert('shipyard')</script>"
DRIFTED = ["n0", "n1", "c0"]


def _frame(rows: int, rng: np.random.Generator, *, drifted: bool) -> pd.DataFrame:
    columns: dict[str, object] = {}
    for i in range(12):
        values = rng.normal(0.0, 1.0, rows)
        if drifted and i == 0:
            values += 0.5  # a shift of half a standard deviation
        if drifted and i == 1:
            values *= 2.0  # twice the spread
        columns[f"n{i}"] = values
    columns["n2"][rng.random(rows) < 0.05] = np.nan  # type: ignore[index]
    shares = [0.1, 0.2, 0.3, 0.4] if drifted else [0.4, 0.3, 0.2, 0.1]
    columns["c0"] = pd.Categorical(rng.choice(["a", "b", "c", "d"], rows, p=shares))
    ids = rng.integers(0, 500, rows).astype(str)  # many labels: top-N and "(other)"
    columns["c1"] = pd.Series(ids, dtype="object").where(rng.random(rows) > 0.01, None)
    columns["b0"] = rng.random(rows) < 0.3
    columns[HOSTILE] = rng.normal(0.0, 1.0, rows)
    return pd.DataFrame(columns)


@pytest.fixture(scope="module")
def big() -> tuple[pd.DataFrame, pd.DataFrame, ReportData]:
    rng = np.random.default_rng(7)
    reference = _frame(100_000, rng, drifted=False)
    current = _frame(1_000_000, rng, drifted=True)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    trends = [
        TrendPoint(
            metric=metric,
            column=column,
            window_start=start + dt.timedelta(days=d),
            window_end=start + dt.timedelta(days=d + 1),
            value=0.05 * d,
            threshold=0.5,
            status="breach" if 0.05 * d >= 0.5 else "ok",
        )
        for d in range(30)
        for metric, column in (("drift_share", None), ("missing_rate", "n2"), ("psi", HOSTILE))
    ]
    data = ReportData(
        title=f"Shop {HOSTILE}",
        target="shop",
        window=ReportWindow(start=start, end=start + dt.timedelta(days=30)),
        reference_rows=len(reference),
        current_rows=len(current),
        drift=shipyard.drift_report(reference, current),
        histograms=column_histograms(reference, current, bins=30),
        trends=trends,
    )
    return reference, current, data


def test_html_is_small_offline_and_embeds_plotly_once(
    big: tuple[pd.DataFrame, pd.DataFrame, ReportData],
) -> None:
    _, _, data = big
    page = render_html(data)
    size = len(page.encode("utf-8"))
    plotly_js = plotly.offline.get_plotlyjs()
    print(f"HTML {size:,} bytes, of which plotly.js {len(plotly_js.encode()):,}")
    assert size < 5_000_000
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)  # nothing fetched
    packed = re.findall(
        r'<script id="shipyard-plotly" type="application/octet-stream">([^<]*)</script>', page
    )
    assert len(packed) == 1  # plotly.js once, gzipped
    assert gzip.decompress(base64.b64decode(packed[0])).decode("utf-8") == plotly_js
    assert page.count('class="plotly-graph-div"') == len(data.histograms) + 3


def test_a_hundred_and_twenty_columns_stay_under_5_mb() -> None:
    rng = np.random.default_rng(5)
    names = [f"feature_{i}" for i in range(120)]
    reference = pd.DataFrame(rng.normal(0, 1, (2_000, 120)), columns=names)
    current = pd.DataFrame(rng.normal(0.1, 1, (20_000, 120)), columns=names)
    data = ReportData(
        title="wide",
        target="wide",
        drift=shipyard.drift_report(reference, current),
        histograms=column_histograms(reference, current),
    )
    size = len(render_html(data).encode("utf-8"))
    print(f"HTML of 120 columns: {size:,} bytes")
    assert size < 5_000_000


def test_drift_table_marks_the_drifted_columns(
    big: tuple[pd.DataFrame, pd.DataFrame, ReportData],
) -> None:
    _, _, data = big
    assert data.drift is not None
    assert sorted(c.column for c in data.drift.columns if c.drift_detected) == sorted(DRIFTED)
    page = render_html(data)
    table = page[page.index('<table class="drift-summary">') :]
    table = table[: table.index("</table>")]
    drift_rows = re.findall(r'<tr class="drift"><td>([^<]*)</td>', table)
    assert sorted(drift_rows) == sorted(DRIFTED)
    assert len(re.findall(r'<tr class="ok">', table)) == len(data.drift.columns) - len(DRIFTED)


def test_histogram_counts_sum_to_the_non_missing_rows(
    big: tuple[pd.DataFrame, pd.DataFrame, ReportData],
) -> None:
    reference, current, data = big
    assert [h.column for h in data.histograms] == list(current.columns)
    for h in data.histograms:
        for frame, counts, missing in (
            (reference, h.reference, h.reference_missing),
            (current, h.current, h.current_missing),
        ):
            present = int(frame[h.column].notna().sum())
            assert sum(counts) == present, h.column
            assert missing == len(frame) - present, h.column
        bins = len(h.edges) - 1 if h.edges is not None else len(h.labels or [])
        assert len(h.reference) == len(h.current) == bins
        assert bins <= 32  # O(bins): 30 plus at most two tail bins, or 20 labels + other
    ids = next(h for h in data.histograms if h.column == "c1")
    assert ids.pooled and ids.labels is not None and ids.labels[-1] == OTHER
    assert len(ids.labels) == 21
    numeric = next(h for h in data.histograms if h.column == "n1")
    assert numeric.edges is not None and len(numeric.edges) == 33  # tails either side
    assert numeric.edges[0] == pytest.approx(float(current["n1"].min()))
    assert numeric.edges[-1] == pytest.approx(float(current["n1"].max()))


def test_json_is_the_data(big: tuple[pd.DataFrame, pd.DataFrame, ReportData]) -> None:
    _, _, data = big
    payload = render_json(data)
    assert ReportData.model_validate(json.loads(json.dumps(payload))) == data
    assert payload["drift"]["drifted_columns"] == len(DRIFTED)


def test_user_text_is_escaped(big: tuple[pd.DataFrame, pd.DataFrame, ReportData]) -> None:
    _, _, data = big
    page = render_html(data)
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&#x27;shipyard&#x27;)&lt;/script&gt;" in page  # the table
    assert "<title>Shop &lt;script&gt;" in page
    assert "alert('shipyard')" not in page  # nor in the figures' JSON


def test_categories_new_in_the_current_window_are_listed() -> None:
    reference = pd.DataFrame({"plan": ["free"] * 90 + ["pro"] * 10})
    current = pd.DataFrame({"plan": ["free"] * 40 + ["team"] * 50 + [None] * 10})
    (h,) = column_histograms(reference, current, max_categories=2)
    assert h.labels == ["free", "team", OTHER]
    assert h.reference == [90, 0, 10] and h.current == [40, 50, 0]
    assert (h.reference_missing, h.current_missing) == (0, 10)


def test_constant_and_empty_numeric_columns() -> None:
    reference = pd.DataFrame({"x": [1.0] * 10, "y": [np.nan] * 10})
    current = pd.DataFrame({"x": [1.0, 2.0, np.inf], "y": [np.nan] * 3})
    x, y = column_histograms(reference, current, bins=4)
    assert x.edges is not None and x.edges[0] == 0.5 and x.edges[-1] == 2.0
    assert sum(x.reference) == 10 and sum(x.current) == 2 and x.current_missing == 1
    assert y.edges == [] and y.reference == [] and y.current_missing == 3
    assert "plotly-graph-div" in render_html(ReportData(title="t", target="e", histograms=[x, y]))


def test_unknown_columns_are_refused() -> None:
    frame = pd.DataFrame({"x": [1.0]})
    with pytest.raises(InvalidInputError, match="'z'"):
        column_histograms(frame, frame, columns=["z"])
