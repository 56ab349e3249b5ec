"""The pages' charts: Vega-Lite specs (Altair) of a metric's weekly trend drawn as SVG by
vl-convert (Vega itself, run in-process), and the same numbers as a table, the chart's text
alternative.

Drawn where the page is built, a chart needs nothing in the browser: no JavaScript, no CDN,
nothing for a network block or a Content-Security-Policy to stop (the Voila page and the
static export show the same SVG). A chart is made only when it has something to draw: a
metric with no week of data (an empty cohort, every week withheld for a small group) gets
``None`` and the page says why in words. Colours are the Okabe-Ito palette, told apart with
every common colour-vision deficiency.
"""

from __future__ import annotations

import html
import sys
from typing import Any

# Altair imports jsonschema, whose format checks import rfc3987_syntax when it is installed
# (Jupyter's own packages pull it in), and that module builds a grammar at import: seconds of
# a page's first render, for an "iri" format check the pages never use. Without it jsonschema
# skips that one check. Only when nothing imported it already.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

import altair as alt  # noqa: E402
import vl_convert  # noqa: E402

__all__ = [
    "FUNNEL_STAGES",
    "OKABE_ITO",
    "chart_figure",
    "chart_rows",
    "funnel_rows",
    "table_html",
    "trend_chart",
]

# Okabe & Ito (2008), "Color Universal Design": distinct for protan, deutan and tritan vision.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
FUNNEL_STAGES = ("reader", "reactor", "contributor", "champion")


def chart_rows(metric: dict[str, Any]) -> list[dict[str, Any]]:
    """The weeks of ``metric``'s trend that have a value: week, value, and whether the week
    is still going (withheld weeks are left out; the table says so)."""
    rows = []
    for point in metric.get("series") or []:
        if point.get("value") is None or point.get("withheld"):
            continue
        rows.append(
            {
                "week": point["week"],
                "value": point["value"],
                "numerator": point.get("numerator"),
                "denominator": point.get("denominator"),
                "partial": bool(point.get("partial")),
            }
        )
    return rows


def funnel_rows(metric: dict[str, Any]) -> list[dict[str, Any]]:
    """The funnel's stages per week (long form: week, stage, members) for weeks not withheld."""
    rows = []
    for point in metric.get("series") or []:
        detail = point.get("detail") or {}
        if point.get("withheld") or not detail.get("members"):
            continue
        for stage in FUNNEL_STAGES:
            if detail.get(stage) is not None:
                rows.append({"week": point["week"], "stage": stage, "members": detail[stage]})
    return rows


def trend_chart(metric: dict[str, Any]) -> alt.Chart | None:
    """A chart of ``metric``'s weekly trend (the funnel as grouped bars by stage); None when
    no week has a number to draw."""
    title = str(metric.get("title") or metric.get("id") or "")
    if metric.get("id") == "contributor_funnel":
        rows = funnel_rows(metric)
        if not rows:
            return None
        stage = alt.Color(
            "stage:N",
            title="stage",
            sort=list(FUNNEL_STAGES),
            scale=alt.Scale(domain=list(FUNNEL_STAGES), range=list(OKABE_ITO[:4])),
        )
        return (
            alt.Chart(alt.Data(values=rows), title=f"{title}: members per stage, by week")
            .mark_bar()
            .encode(
                x=alt.X("week:N", title="week starting"),
                xOffset=alt.XOffset("stage:N", sort=list(FUNNEL_STAGES)),
                y=alt.Y("members:Q", title="members"),
                color=stage,
                tooltip=["week:N", "stage:N", "members:Q"],
            )
            .properties(width=420, height=220)
        )
    rows = chart_rows(metric)
    if not rows:
        return None
    unit = str(metric.get("unit") or "")
    field, axis = "value", unit or "value"
    if metric.get("id") == "active_contributors":  # contributors per week, as a count
        field, axis, title = "numerator", "members who contributed", "Contributors"
    return (
        alt.Chart(alt.Data(values=rows), title=f"{title} per week")
        .mark_bar(color=OKABE_ITO[0])
        .encode(
            x=alt.X("week:N", title="week starting"),
            y=alt.Y(f"{field}:Q", title=axis),
            opacity=alt.Opacity("partial:N", legend=None, scale=alt.Scale(range=[1.0, 0.45])),
            tooltip=["week:N", "value:Q", "numerator:Q", "denominator:Q"],
        )
        .properties(width=420, height=220)
    )


def table_html(metric: dict[str, Any]) -> str:
    """The trend's numbers as an HTML table: every week, withheld weeks with the reason."""
    title = html.escape(str(metric.get("title") or ""))
    funnel = metric.get("id") == "contributor_funnel"
    head = ["week starting", *FUNNEL_STAGES] if funnel else ["week starting", "value", "of"]
    lines = []
    for point in metric.get("series") or []:
        week = html.escape(str(point.get("week"))) + (" (so far)" if point.get("partial") else "")
        if point.get("withheld"):
            cells = [week, f'<td colspan="{len(head) - 1}">{html.escape(point["withheld"])}']
            lines.append("<tr><td>" + "</td>".join(cells) + "</td></tr>")
            continue
        if funnel:
            detail = point.get("detail") or {}
            values = [_num(detail.get(s)) for s in FUNNEL_STAGES]
        else:
            values = [_num(point.get("value")), _of(point)]
        lines.append("<tr>" + "".join(f"<td>{v}</td>" for v in [week, *values]) + "</tr>")
    header = "".join(f'<th scope="col">{h}</th>' for h in head)
    return (
        f'<table class="nbc-table"><caption>{title}: the numbers by week</caption>'
        f"<thead><tr>{header}</tr></thead><tbody>{''.join(lines)}</tbody></table>"
    )


def _num(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:g}" if isinstance(value, int | float) else html.escape(str(value))


def _of(point: dict[str, Any]) -> str:
    n, d = point.get("numerator"), point.get("denominator")
    return f"{_num(n)} / {_num(d)}" if n is not None and d is not None else "–"


def chart_figure(metric: dict[str, Any], empty: str) -> str:
    """The metric's trend as a figure: the chart as SVG, its numbers in a table behind a
    disclosure (one click away); ``empty`` in words when there is nothing to draw."""
    chart = trend_chart(metric)
    if chart is None:
        return f'<p class="nbc-meta">{html.escape(empty)}</p>'
    title = html.escape(str(metric.get("title", "")))
    svg = vl_convert.vegalite_to_svg(chart.to_dict())
    return (
        f'<figure class="nbc-figure"><div class="nbc-chart" role="img" aria-label="{title}: a '
        f'bar chart by week; the numbers are in the table below">{svg}</div>'
        f'<figcaption><details class="nbc-numbers"><summary>The numbers behind “{title}” '
        f"(table)</summary>{table_html(metric)}</details></figcaption></figure>"
    )


def warm() -> None:
    """Start Vega's runtime now (its first chart costs about a second), so a page can do it
    while it waits for the service."""
    vl_convert.vegalite_to_svg({"mark": "point", "data": {"values": [{}]}})
