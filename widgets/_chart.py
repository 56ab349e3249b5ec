"""A chart on a page: the Vega-Lite chart drawn in the browser with its JavaScript bundled
(no CDN: ``altair.JupyterChart`` offline, its bundle from vl-convert), and its numbers as a
table one click away (the chart's text alternative)."""

from __future__ import annotations

import html
from typing import Any

import altair as alt
import ipywidgets as w

from nbcohort.cohorts.pages.charts import table_html, trend_chart

__all__ = ["chart_block"]

_offline = False


def _bundled() -> None:
    """Have every JupyterChart carry its own JavaScript (once per kernel)."""
    global _offline
    if not _offline:
        alt.JupyterChart.enable_offline(offline=True)
        _offline = True


def chart_block(metric: dict[str, Any], empty: str) -> w.Widget:
    """The metric's trend chart with its table behind a disclosure; ``empty`` in words when
    there is nothing to draw (never an empty chart)."""
    title = html.escape(str(metric.get("title", "")))
    table = w.HTML(
        f'<details class="nbc-numbers"><summary>The numbers behind “{title}” (table)</summary>'
        f"{table_html(metric)}</details>"
    )
    chart = trend_chart(metric)
    if chart is None:
        return w.HTML(f'<p class="nbc-meta">{html.escape(empty)}</p>')
    _bundled()
    drawn = alt.JupyterChart(chart, embed_options={"actions": False, "renderer": "svg"})
    drawn.add_class("nbc-chart")
    return w.VBox([drawn, table], layout=w.Layout(margin="0 0 12px 0"))
