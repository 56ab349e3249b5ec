"""A chart on a page: the metric's trend drawn as SVG where the page is built (vl-convert
runs Vega in the kernel), so the browser needs no chart library and no network, with its
numbers as a table one click away (the chart's text alternative)."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from nbcohort.widgets.display.charts import chart_figure

__all__ = ["chart_block"]


def chart_block(metric: dict[str, Any], empty: str) -> w.Widget:
    """The metric's trend chart with its table; ``empty`` in words when there is nothing to
    draw (never an empty chart)."""
    return w.HTML(chart_figure(metric, empty), layout=w.Layout(margin="0 0 12px 0"))
