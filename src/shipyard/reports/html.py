"""Render a :class:`~shipyard.reports.data.ReportData` as one self-contained HTML file,
or as JSON-ready data.

The HTML embeds plotly.js from the installed ``plotly`` package (no CDN: it opens
offline) once, gzipped (1.5 MB, 2 MB as base64, unpacked by the browser), and one small
figure per column and per metric: figures carry only the pre-binned counts, so the file
is about 2 MB plus a few kilobytes per column and metric, whatever the number of rows.
All text that comes from data (title, target, column names, test keys, statuses) is
HTML-escaped, in the page and in the figures (plotly renders some HTML in labels).
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
from collections import defaultdict
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import plotly.offline

from shipyard.reports.data import ColumnHistogram, ReportData, TrendPoint

REFERENCE_COLOR = "#7f8c8d"
CURRENT_COLOR = "#2e86de"
ALERT_COLOR = "#e74c3c"

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
h1{margin-bottom:.2rem} .meta{color:#666;margin-top:0}
table{border-collapse:collapse;margin:1rem 0}
th,td{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drift td{background:#fdecea} .verdict{font-weight:600}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:1rem}
"""


def render_json(data: ReportData) -> dict[str, Any]:
    """The report's data, JSON-ready (``ReportData.model_validate`` reads it back)."""
    return data.model_dump(mode="json")


def _text(value: object) -> str:
    return html.escape(str(value), quote=True)


def _number(value: float | int | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.4g}"


def _figure_html(figure: go.Figure, div_id: str) -> str:
    figure.update_layout(
        template="none",
        height=340,
        margin={"l": 50, "r": 20, "t": 50, "b": 50},
        legend={"orientation": "h", "y": -0.2},
    )
    html_text: str = pio.to_html(
        figure,
        include_plotlyjs=False,
        full_html=False,
        div_id=div_id,
        default_height="340px",
        config={"displaylogo": False, "responsive": True},
    )
    return html_text


def _shares(counts: list[int]) -> list[float]:
    total = sum(counts)
    return [c / total if total else 0.0 for c in counts]


def histogram_figure(histogram: ColumnHistogram) -> go.Figure:
    """Reference and current shares per bin, side by side."""
    name = _text(histogram.column)
    figure = go.Figure()
    if histogram.edges is not None:
        edges = histogram.edges
        if histogram.kind == "datetime":
            stamps = pd.to_datetime(pd.Series(edges), unit="s", utc=True)
            ranges = [f"{stamps[i]} – {stamps[i + 1]}" for i in range(len(edges) - 1)]
        else:
            ranges = [f"{edges[i]:.4g} – {edges[i + 1]:.4g}" for i in range(len(edges) - 1)]
        x: list[str] = ranges
    else:
        x = [_text(label) for label in histogram.labels or []]
    for side, counts, color in (
        ("reference", histogram.reference, REFERENCE_COLOR),
        ("current", histogram.current, CURRENT_COLOR),
    ):
        figure.add_trace(
            go.Bar(
                x=x,
                y=_shares(counts),
                customdata=counts,
                name=side,
                marker_color=color,
                hovertemplate="%{x}<br>share %{y:.2%}<br>rows %{customdata:,}<extra>"
                + side
                + "</extra>",
            )
        )
    figure.update_layout(
        title={"text": name},
        barmode="group",
        bargap=0.1,
        yaxis={"tickformat": ".0%", "title": {"text": "share of rows"}},
        xaxis={"type": "category", "showticklabels": histogram.edges is None},
    )
    return figure


def trend_figure(metric: str, points: list[TrendPoint]) -> go.Figure:
    """One metric over windows: a line per column, its threshold dashed, points whose
    status is not ``ok`` marked."""
    figure = go.Figure()
    by_column: dict[str | None, list[TrendPoint]] = defaultdict(list)
    for point in points:
        by_column[point.column].append(point)
    for column, series in by_column.items():
        series = sorted(series, key=lambda p: p.window_end)
        label = "(data set)" if column is None else _text(column)
        x = [p.window_end for p in series]
        figure.add_trace(
            go.Scatter(
                x=x,
                y=[p.value for p in series],
                mode="lines+markers",
                name=label,
                text=[_text(p.status) for p in series],
                marker={
                    "color": [ALERT_COLOR if p.status != "ok" else CURRENT_COLOR for p in series],
                    "size": [10 if p.status != "ok" else 6 for p in series],
                },
                hovertemplate="%{x}<br>%{y:.4g}<br>%{text}<extra>" + label + "</extra>",
            )
        )
        if any(p.threshold is not None for p in series):
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=[p.threshold for p in series],
                    mode="lines",
                    line={"dash": "dash", "color": ALERT_COLOR, "width": 1},
                    name=f"{label} threshold",
                    hoverinfo="skip",
                )
            )
    figure.update_layout(title={"text": _text(metric)}, xaxis={"title": {"text": "window end"}})
    return figure


def _drift_section(data: ReportData) -> str:
    drift = data.drift
    if drift is None:
        return ""
    verdict = "drift" if drift.dataset_drift else "no drift"
    rows = []
    for c in drift.columns:
        rows.append(
            f'<tr class="{"drift" if c.drift_detected else "ok"}">'
            f"<td>{_text(c.column)}</td><td>{_text(c.kind)}</td>"
            f"<td>{_text(c.test or '—')}</td><td class=num>{_number(c.statistic)}</td>"
            f"<td class=num>{_number(c.p_value)}</td><td class=num>{_number(c.threshold)}</td>"
            f"<td>{'drift' if c.drift_detected else 'ok'}</td>"
            f"<td class=num>{_number(c.reference_count)}</td>"
            f"<td class=num>{_number(c.current_count)}</td>"
            f"<td class=num>{_number(c.current_missing)}</td>"
            f"<td>{_text(c.note or '')}</td></tr>"
        )
    extra = ""
    for label, names in (
        ("Only in the reference", drift.only_in_reference),
        ("Only in the current window", drift.only_in_current),
    ):
        if names:
            extra += f"<p>{label} (not tested): {_text(', '.join(names))}</p>"
    return (
        "<h2>Drift</h2>"
        f'<p class="verdict">Data set: {verdict} — {drift.drifted_columns} of '
        f"{drift.tested_columns} columns drifted ({drift.drifted_share:.0%}; the data set "
        f"drifts at {drift.drift_share:.0%}, mode {_text(drift.mode)})</p>"
        '<table class="drift-summary"><thead><tr><th>column</th><th>kind</th><th>test</th>'
        "<th>statistic</th><th>p-value</th><th>threshold</th><th>verdict</th>"
        "<th>reference values</th><th>current values</th><th>current missing</th>"
        "<th>note</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>" + extra
    )


def render_html(data: ReportData) -> str:
    """The report as one HTML page that needs no network (plotly.js is inlined once,
    gzipped)."""
    title = _text(data.title)
    meta = [f"target {_text(data.target)}"]
    if data.window is not None:
        meta.append(
            f"window {_text(data.window.start.isoformat())} – {_text(data.window.end.isoformat())}"
        )
    for label, rows in (("reference", data.reference_rows), ("current", data.current_rows)):
        if rows is not None:
            meta.append(f"{label} rows {rows:,}")
    body = [f"<h1>{title}</h1>", f'<p class="meta">{" · ".join(meta)}</p>', _drift_section(data)]
    if data.trends:
        by_metric: dict[str, list[TrendPoint]] = defaultdict(list)
        for point in data.trends:
            by_metric[point.metric].append(point)
        figures = [
            _figure_html(trend_figure(metric, points), f"shipyard-trend-{i}")
            for i, (metric, points) in enumerate(by_metric.items())
        ]
        body.append('<h2>Trends</h2><div class="grid">' + "".join(figures) + "</div>")
    if data.histograms:
        figures = [
            _figure_html(histogram_figure(h), f"shipyard-histogram-{i}")
            for i, h in enumerate(data.histograms)
        ]
        body.append(
            "<h2>Reference and current distributions</h2>"
            '<div class="grid">' + "".join(figures) + "</div>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>{_STYLE}</style>"
        f"<script>{_QUEUE}</script>"
        "</head><body>"
        + "".join(body)
        + f'<script id="shipyard-plotly" type="application/octet-stream">{_plotly_gzip()}</script>'
        + f"<script>{_LOADER}</script>"
        + "</body></html>\n"
    )


# Figures ask for ``Plotly.newPlot`` before plotly.js is there: the calls wait in a queue
# and are replayed once it has been unpacked. plotly.js looks for MathJax unless told
# not to; there is none offline.
_QUEUE = (
    "window.PlotlyConfig={MathJaxConfig:'local'};window.shipyardFigures=[];"
    "window.Plotly={newPlot:function(){window.shipyardFigures.push(arguments);}};"
)
# plotly.js travels gzipped (a third of its size) and is unpacked by the browser's own
# DecompressionStream (Chrome 80, Firefox 113, Safari 16.4 and later), offline.
_LOADER = (
    "(async function(){"
    "var packed=document.getElementById('shipyard-plotly').textContent;"
    "var bytes=Uint8Array.from(atob(packed),function(c){return c.charCodeAt(0);});"
    "var stream=new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));"
    "var code=await new Response(stream).text();"
    "var script=document.createElement('script');script.text=code;"
    "document.head.appendChild(script);"
    "window.shipyardFigures.forEach(function(a){Plotly.newPlot.apply(Plotly,a);});"
    "})().catch(function(e){document.body.insertAdjacentHTML('afterbegin',"
    '\'<p style="color:#e74c3c">The plots need a browser that can unpack gzip '
    "(DecompressionStream: Chrome 80, Firefox 113, Safari 16.4 or later): '+e+'</p>');});"
)


@functools.cache
def _plotly_gzip() -> str:
    """The installed plotly.js, gzipped and base64-encoded (computed once)."""
    packed = gzip.compress(plotly.offline.get_plotlyjs().encode("utf-8"), 9, mtime=0)
    return base64.b64encode(packed).decode("ascii")
