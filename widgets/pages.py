"""The Voila pages' widgets: ``cohort_page()`` (the cohort activity page) and
``leader_page()`` (the leader one-pager), and the ``community_link()`` other widgets show.

A page asks the service through the member's own client, so it shows what the service lets
that member see and nothing else: a part the service refuses says so in words, it is never
hidden here as a safeguard.
"""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.config import PagesSettings, load_config
from nbcohort.widgets._community import PAGES, community_link, page_url
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._style import style
from nbcohort.widgets.display.leader import leader_html
from nbcohort.widgets.display.sections import OPTIONAL, PAGE_CSS, Refused, activity_sections

__all__ = [
    "PAGES",
    "cohort_page",
    "community_link",
    "gather_activity",
    "leader_page",
    "page_url",
]

TREND_CHARTS = ("active_contributors", "contributor_funnel")


def _warm_charts() -> None:
    from nbcohort.widgets.display.charts import warm

    warm()


def _charts_ahead() -> threading.Thread:
    """Load the charting libraries and start Vega on a thread while the page waits for the
    service (both take about a second; the metrics take longer to compute)."""
    thread = threading.Thread(target=_warm_charts, name="nbc-charts", daemon=True)
    thread.start()
    return thread


def _settings() -> PagesSettings:
    return PagesSettings(config=load_config())


def _ask(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except ClientError as exc:
        return Refused(exc.message or "community offline", exc.status or None)


def gather_activity(client: CohortClient) -> dict[str, Any]:
    """Everything the cohort activity page shows, each part as the service answered it (or
    ``Refused`` with the reason). Capabilities this client does not have are left out."""
    data: dict[str, Any] = {
        "rhythm": _ask(lambda: client.cadence(7)),
        "threads": _ask(lambda: client.threads(days=7, limit=10)),
        "artifacts": _ask(client.artifacts),
        "events": _ask(lambda: client.events(60)),
        "charter": _ask(client.charter),
        "reviews": _ask(client.my_reviews),
        "metrics": _ask(client.metrics),
    }
    for name in OPTIONAL:
        method = getattr(client, name, None)
        if callable(method):
            try:
                data[name] = _ask(method)
            except TypeError:  # a capability whose client method needs arguments: not here
                continue
    return data


def _trimmed(metric: dict[str, Any], weeks: int) -> dict[str, Any]:
    return {**metric, "series": (metric.get("series") or [])[-weeks:]}


def _empty_words(metric: dict[str, Any]) -> str:
    reason = metric.get("withheld") or metric.get("summary") or ""
    return f"{metric.get('title', '')}: no week to chart yet. {reason}".strip()


def _header(title: str, conn: Connection, metrics: Any) -> str:
    me = conn.me["member"]
    cohort = conn.me.get("cohort") or {}
    name = cohort.get("title") or cohort.get("slug") or ""
    when = ""
    if isinstance(metrics, dict) and metrics.get("computed_at"):
        at = str(metrics["computed_at"])[:16].replace("T", " ")
        when = f" · numbers as of {html.escape(at)} UTC"
    return (
        f"<style>{PAGE_CSS}</style><h1>{html.escape(title)}: {html.escape(str(name))}</h1>"
        f'<p class="nbc-meta">Seen as {html.escape(me["name"])} ({html.escape(me["role"])})'
        f"{when}</p>"
    )


def _trend(metrics: Any, weeks: int) -> list[w.Widget]:
    from nbcohort.widgets._chart import chart_block

    out: list[w.Widget] = [w.HTML("<h2>The cohort's trend</h2>")]
    if isinstance(metrics, Refused):
        return [
            *out,
            w.HTML(f'<p class="nbc-meta">Not available: {html.escape(metrics.message)}</p>'),
        ]
    found = {m["id"]: m for m in metrics.get("metrics") or []}
    shown = [found[i] for i in TREND_CHARTS if i in found]
    if not shown:
        return [*out, w.HTML('<p class="nbc-meta">No trend is shown to you.</p>')]
    for metric in shown:
        metric = _trimmed(metric, weeks)
        out.append(w.HTML(f"<p>{html.escape(str(metric.get('summary', '')))}</p>"))
        out.append(chart_block(metric, _empty_words(metric)))
    return out


class CohortPage(w.VBox):
    """The cohort activity page for the member whose token this kernel holds."""

    def __init__(self, conn: Connection, settings: PagesSettings) -> None:
        charts = _charts_ahead()
        self.data = gather_activity(conn.client)
        metrics = self.data["metrics"]
        charts.join()
        base = settings.base_url or os.environ.get("JUPYTERHUB_SERVICE_PREFIX") or "/"
        parts: list[w.Widget] = [style(), w.HTML(_header("Cohort activity", conn, metrics))]
        for section in activity_sections(self.data, base):
            parts.append(w.HTML(f"<section><h2>{section.title}</h2>{section.html}</section>"))
        parts.extend(_trend(metrics, settings.trend_weeks))
        super().__init__(parts, layout=w.Layout(width="100%"))
        self.add_class("nbc-page")


class LeaderPage(w.VBox):
    """The leader one-pager: the charter's outcome metrics, before and after, in words."""

    def __init__(self, conn: Connection, settings: PagesSettings) -> None:
        charts = _charts_ahead()
        metrics = _ask(conn.client.metrics)
        charts.join()
        from nbcohort.widgets._chart import chart_block

        parts: list[w.Widget] = [style(), w.HTML(_header("Leader one-pager", conn, metrics))]
        if isinstance(metrics, Refused):
            parts.append(
                w.HTML(f'<p class="nbc-meta">Not available: {html.escape(metrics.message)}</p>')
            )
        else:
            chosen = set(metrics.get("leader_metrics") or [])
            leader = {**metrics, "metrics": [m for m in metrics["metrics"] if m["id"] in chosen]}
            body, _changes = leader_html(leader)
            parts.append(w.HTML(f"<section><h2>Outcomes</h2>{body}</section>"))
            trend = [_trimmed(m, settings.trend_weeks) for m in leader["metrics"][:2]]
            if trend:
                parts.append(w.HTML("<h2>Trend</h2>"))
            parts.extend(chart_block(m, _empty_words(m)) for m in trend)
        self.metrics = metrics
        super().__init__(parts, layout=w.Layout(width="100%"))
        self.add_class("nbc-page")


def _page(make: Callable[[Connection, PagesSettings], w.Widget]) -> w.Widget:
    settings = _settings()
    try:
        conn = connect(CohortClient(timeout=settings.timeout, retries=0))
    except Offline as exc:
        return offline(str(exc))
    return make(conn, settings)


def cohort_page() -> w.Widget:
    """The cohort activity page: this week's prompt and routine, active threads, new
    artifacts, the next clinic, the charter, your peer reviews and the cohort's trend."""
    return _page(CohortPage)


def leader_page() -> w.Widget:
    """The leader one-pager: the outcome metrics with before and after, and a summary."""
    return _page(LeaderPage)
