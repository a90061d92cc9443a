"""Monitoring reports: pre-binned report data (:mod:`~shipyard.reports.data`) rendered as
one self-contained HTML page or as JSON (:mod:`~shipyard.reports.html`). Pure: no I/O,
no database."""

from shipyard.reports.data import (
    ColumnHistogram,
    ReportData,
    ReportWindow,
    TrendPoint,
    column_histograms,
)
from shipyard.reports.html import render_html, render_json

__all__ = [
    "ColumnHistogram",
    "ReportData",
    "ReportWindow",
    "TrendPoint",
    "column_histograms",
    "render_html",
    "render_json",
]
