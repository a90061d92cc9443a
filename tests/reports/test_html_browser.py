"""The HTML report in a real browser (Debian's chromium), with the network cut off."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import shipyard
from shipyard.reports import ReportData, TrendPoint, column_histograms, render_html

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt-get install chromium)"
)


def test_the_report_draws_every_figure_offline(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(
        {"age": rng.normal(40, 10, 5_000), "plan": rng.choice(["free", "pro"], 5_000)}
    )
    current = pd.DataFrame(
        {"age": rng.normal(45, 10, 20_000), "plan": rng.choice(["free", "pro"], 20_000)}
    )
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    trends = [
        TrendPoint(
            metric="accuracy",
            window_start=start + dt.timedelta(hours=h),
            window_end=start + dt.timedelta(hours=h + 1),
            value=0.9 - 0.01 * h,
            threshold=0.8,
            status="ok" if h < 10 else "breach",
        )
        for h in range(24)
    ]
    data = ReportData(
        title="shop <b>report</b>",
        target="shop",
        drift=shipyard.drift_report(reference, current),
        histograms=column_histograms(reference, current),
        trends=trends,
    )
    page = tmp_path / "report.html"
    page.write_text(render_html(data), encoding="utf-8")
    requested: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            tab = browser.new_page()
            tab.on("pageerror", lambda exc: errors.append(str(exc)))
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            def block(route: sync_api.Route) -> None:
                if not route.request.url.startswith("file://"):
                    requested.append(route.request.url)
                    route.abort()
                else:
                    route.continue_()

            tab.route("**/*", block)
            tab.goto(page.as_uri())
            tab.wait_for_function(
                "document.querySelectorAll('.plotly-graph-div .main-svg').length > 0"
            )
            drawn = tab.evaluate(
                "Array.from(document.querySelectorAll('.plotly-graph-div'))"
                ".filter(d => d.querySelector('.main-svg')).length"
            )
            bars = tab.locator(".plotly-graph-div .bars .point").count()
            title = tab.title()
        finally:
            browser.close()
    assert errors == [] and requested == []
    assert drawn == 3  # two histograms and one trend
    assert bars > 0
    assert title == "shop <b>report</b>"  # shown as text, not markup
