"""``dashboard_page()``: the facilitator dashboard (``cohorts/pages/dashboard.ipynb``): every
metric with its trend and its formula one click away, members at risk, unanswered questions,
the moderation queue, who still owes reviews and the pulse surveys' results (with their
comments where the viewer may read them), each table with a CSV download.

The service decides who sees it: for anyone but staff it refuses the tables (403), and the
page then shows that refusal and nothing else (a learner's own numbers are on the cohort
page); for staff the metrics are what the service shows them.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.config import PagesSettings
from nbcohort.widgets._connection import Connection
from nbcohort.widgets._style import style
from nbcohort.widgets.display.tables import csv_link, html_table
from nbcohort.widgets.pages import Refused, _ask, _charts_ahead, _header, _page, _trimmed

__all__ = ["DashboardPage", "dashboard_page"]

TABLES = (
    ("at_risk", "Members at risk", ("member", "team", "role", "reasons"),
     "No member is at risk."),
    ("unanswered", "Unanswered questions", ("thread", "author", "created_at", "excerpt"),
     "Every question has an answer."),
    ("moderation", "Moderation queue", ("kind", "created_at", "anchor", "author", "open_flags",
                                        "reason", "excerpt"), "Nothing waits for moderation."),
    ("reviews_owed", "Reviews owed", ("assignment", "due_at", "reviewer", "given", "submitted"),
     "No reviews are owed in an open round."),
)  # fmt: skip
METRIC_COLUMNS = ("id", "title", "value", "unit", "numerator", "denominator", "withheld")
PULSE_COLUMNS = ("survey", "closes_at", "answers", "question", "mean", "withheld")


def _section(title: str, body: str) -> w.HTML:
    return w.HTML(f"<section><h2>{html.escape(title)}</h2>{body}</section>")


def _tables(tables: Any) -> list[w.Widget]:
    if isinstance(tables, Refused):
        return [_section("Facilitator tables", f'<p class="nbc-meta">Not available: '
                         f"{html.escape(tables.message)}</p>")]  # fmt: skip
    out = []
    for key, title, columns, empty in TABLES:
        rows = tables.get(key) or []
        body = html_table(rows, columns, f"{title} ({len(rows)})", empty)
        if rows:
            body += f'<p class="nbc-meta">{csv_link(rows, columns, f"{key}.csv")}</p>'
        out.append(_section(title, body))
    return out


def pulse_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each closed survey's questions with their mean, newest first; a survey with too few
    answers (or still open) says why it is withheld instead."""
    rows = []
    for run in reversed(results.get("surveys") or []):
        for q in run.get("questions") or [{"question": ""}]:
            rows.append(
                {
                    "survey": run["title"],
                    "closes_at": run["closes_at"][:10],
                    "answers": run.get("answers", ""),
                    "question": q["question"],
                    "mean": "" if q.get("mean") is None else q["mean"],
                    "withheld": run.get("withheld") or "",
                }
            )
    return rows


def _pulse(results: Any) -> w.Widget:
    if isinstance(results, Refused):
        return _section("Pulse surveys", f'<p class="nbc-meta">Not available: '
                        f"{html.escape(results.message)}</p>")  # fmt: skip
    rows = pulse_rows(results)
    body = html_table(rows, PULSE_COLUMNS, f"Pulse surveys ({len(results.get('surveys') or [])})",
                      "No pulse survey has run yet.")  # fmt: skip
    if rows:
        body += f'<p class="nbc-meta">{csv_link(rows, PULSE_COLUMNS, "pulse.csv")}</p>'
    comments = [
        f"<li><b>{html.escape(run['title'])}</b>: {c['html']}</li>"
        for run in results.get("surveys") or []
        for c in run.get("comments") or []
    ]
    if comments:
        body += f"<details><summary>Comments ({len(comments)})</summary><ul>"
        body += "".join(comments) + "</ul></details>"
    return _section("Pulse surveys", body)


def _metric(metric: dict[str, Any], weeks: int) -> w.Widget:
    from nbcohort.widgets.display.charts import chart_figure

    metric = _trimmed(metric, weeks)
    value = metric.get("value")
    shown = "withheld" if metric.get("withheld") else "–" if value is None else f"{value:g}"
    head = (
        f"<h3>{html.escape(str(metric['title']))}: {html.escape(shown)} "
        f'<span class="nbc-meta">{html.escape(str(metric.get("unit") or ""))}</span></h3>'
        f"<p>{html.escape(str(metric.get('summary') or ''))}</p>"
        f"<details><summary>How it is computed</summary><p>{html.escape(metric['formula'])}"
        f"</p></details>"
    )
    empty = f"No week to chart yet. {metric.get('withheld') or ''}".strip()
    return w.HTML(head + chart_figure(metric, empty))


class DashboardPage(w.VBox):
    """The facilitator dashboard for the member whose token this kernel holds."""

    def __init__(self, conn: Connection, settings: PagesSettings) -> None:
        charts = _charts_ahead()
        tables = _ask(conn.client.dashboard)
        if isinstance(tables, Refused) and tables.status == 403:
            # Not staff: the service said so, and the page ends here (a busy database or a
            # lost connection is said in its section, and staff still get the rest).
            charts.join()
            self.tables, self.metrics = tables, None
            head = _header("Facilitator dashboard", conn, None)
            super().__init__([style(), w.HTML(head), *_tables(tables)])
            self.add_class("nbc-page")
            return
        metrics = _ask(conn.client.metrics)
        pulse = _ask(conn.client.pulse_results)
        charts.join()
        parts: list[w.Widget] = [style(), w.HTML(_header("Facilitator dashboard", conn, metrics))]
        parts.extend(_tables(tables))
        parts.append(_pulse(pulse))
        parts.append(w.HTML("<h2>Every metric</h2>"))
        if isinstance(metrics, Refused):
            parts.append(w.HTML(f'<p class="nbc-meta">Not available: '
                                f"{html.escape(metrics.message)}</p>"))  # fmt: skip
        else:
            rows = metrics.get("metrics") or []
            link = csv_link(rows, METRIC_COLUMNS, "metrics.csv")
            parts.append(w.HTML(f'<p class="nbc-meta">{link}</p>'))
            parts.extend(_metric(m, settings.trend_weeks) for m in rows)
        self.tables, self.metrics = tables, metrics
        super().__init__(parts, layout=w.Layout(width="100%"))
        self.add_class("nbc-page")


def dashboard_page() -> w.Widget:
    """The facilitator dashboard; for anyone but staff the service refuses its tables."""
    return _page(DashboardPage)
