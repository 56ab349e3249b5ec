"""``nbcohort pages export``: a page as one static HTML file, for people without a hub
account. It opens from disk with no server and no internet: the charts are SVG drawn when
the file is written, there is no script at all, and a Content-Security-Policy forbids any
request. The numbers are the cohort's aggregates as a sponsor would see them: no
breakdowns, nothing about one person, course links left out (they lead into a hub).
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib.resources import files
from typing import Any, Literal

import jinja2
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import MetricsSettings, PagesSettings
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services.artifacts import list_artifacts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cadence_view import cadence_for_member
from nbcohort.cohorts.services.calendar import upcoming_events
from nbcohort.cohorts.services.charter import charter_view
from nbcohort.cohorts.services.metrics import cohort_metrics
from nbcohort.cohorts.services.thread_list import active_threads
from nbcohort.widgets.display.charts import chart_figure
from nbcohort.widgets.display.leader import leader_html
from nbcohort.widgets.display.sections import PAGE_CSS, Section, activity_sections

__all__ = ["Page", "export_page", "render_page"]

Page = Literal["cohort", "leader"]
TREND = ("active_contributors", "contributor_funnel")

_TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    (files(__package__) / "export.html.j2").read_text(encoding="utf-8")
)


def _aggregate(metrics: dict[str, Any]) -> dict[str, Any]:
    """The metrics with every breakdown dropped: the export is for readers outside."""
    return {**metrics, "metrics": [{**m, "breakdown": {}} for m in metrics["metrics"]]}


def gather(
    session: Session, cohort: Cohort, page: Page, metrics_settings: MetricsSettings
) -> dict[str, Any]:
    """What ``page`` shows of ``cohort``, from the services layer as the local administrator
    sees it, reduced to the cohort's aggregates."""
    viewer = Actor(None, cohort.id, "system", timezone=cohort.timezone)
    metrics = _aggregate(cohort_metrics(session, viewer, cohort, settings=metrics_settings))
    data: dict[str, Any] = {"metrics": metrics, "title": cohort.title or cohort.slug}
    if page == "leader":
        chosen = set(metrics_settings.leader_metrics)
        data["metrics"] = {
            **metrics,
            "metrics": [m for m in metrics["metrics"] if m["id"] in chosen],
        }
        return data
    data.update(
        rhythm=cadence_for_member(session, viewer, cohort, 7),
        threads=active_threads(session, viewer, cohort, days=7, limit=10),
        artifacts=list_artifacts(session, viewer, cohort, limit=8),
        events=upcoming_events(session, viewer, cohort, 60),
        charter=charter_view(session, viewer, cohort),
    )
    return data


def _figure(metric: dict[str, Any], weeks: int) -> dict[str, str]:
    metric = {**metric, "series": (metric.get("series") or [])[-weeks:]}
    reason = metric.get("withheld") or metric.get("summary") or ""
    empty = f"{metric.get('title', '')}: no week to chart yet. {reason}".strip()
    return {"summary": str(metric.get("summary") or ""), "html": chart_figure(metric, empty)}


def render_page(page: Page, data: dict[str, Any], weeks: int = 8) -> str:
    """The page as one self-contained HTML document."""
    metrics = data["metrics"]
    if page == "leader":
        body, _ = leader_html(metrics)
        sections = [Section("outcomes", "Outcomes", body)]
        shown = metrics["metrics"][:2]
        title, trend_title = f"Leader one-pager: {data['title']}", "Trend"
    else:
        sections = activity_sections({k: v for k, v in data.items() if k != "metrics"}, None)
        found = {m["id"]: m for m in metrics["metrics"]}
        shown = [found[i] for i in TREND if i in found]
        title, trend_title = f"Cohort activity: {data['title']}", "The cohort's trend"
    return _TEMPLATE.render(
        title=title,
        exported_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        css=PAGE_CSS,
        sections=sections,
        figures=[_figure(m, weeks) for m in shown],
        trend_title=trend_title,
    )


def export_page(
    session: Session,
    cohort: Cohort,
    page: Page,
    metrics_settings: MetricsSettings | None = None,
    pages_settings: PagesSettings | None = None,
) -> str:
    """``page`` of ``cohort`` as a static HTML document."""
    data = gather(session, cohort, page, metrics_settings or MetricsSettings())
    return render_page(page, data, (pages_settings or PagesSettings()).trend_weeks)
