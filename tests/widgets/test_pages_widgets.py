"""The pages' widgets against a real service: the cohort activity page and the leader
one-pager for a small cohort (every number withheld), a cohort of one, the seeded demo
cohort (charts drawn, numbers equal the metrics module's), offline, and a member who left."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime

import ipywidgets as w
import pytest
from sqlalchemy import select

from nbcohort.cohorts.metrics import compute_metrics, load_frames
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services.auth import mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.widgets import _connection
from nbcohort.widgets.dashboard import DashboardPage, dashboard_page
from nbcohort.widgets.display.sections import Refused, activity_sections
from nbcohort.widgets.pages import CohortPage, LeaderPage, cohort_page, leader_page
from tests.helpers.community import SYSTEM
from tests.helpers.demo_pages import seed_pages

# One service and database per module and leg; a cohort of its own per test.
from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
    serve_cohort,
    serve_db_url,
    serve_module_service,
    serve_module_world,
    serve_service,
    serve_store,
)


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)


def _html(widget) -> str:
    return html.unescape("".join(x.value for x in _walk(widget) if isinstance(x, w.HTML)))


def _charts(widget) -> list[str]:
    """The charts drawn on the page: each one SVG inside its figure."""
    return re.findall(r'<div class="nbc-chart"[^>]*><svg.*?</svg>', _html(widget), re.S)


@pytest.fixture
def as_token(monkeypatch, service):
    def use(token):
        _connection.reset()
        monkeypatch.setenv("NBCOHORT_URL", service.url)
        monkeypatch.setenv("NBCOHORT_TOKEN", token)

    yield use
    _connection.reset()


def test_offline_and_headless_pages_are_one_calm_line(monkeypatch):
    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    started = time.monotonic()
    for make in (cohort_page, leader_page):
        page = make()
        assert isinstance(page, w.HTML) and "community offline" in page.value
    assert time.monotonic() - started < 5
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    _connection.reset()
    assert "while nbgrader runs" in cohort_page().value


def _no_nan(text: str) -> None:
    assert not re.search(r"\bNaN\b|\bNone\b|\binf\b|undefined", text), text


def test_a_small_cohort_reads_in_words_with_no_empty_chart(as_token, tokens, service):
    as_token(tokens["ana"])  # three counted members: fewer than min_group, all withheld
    page = cohort_page()
    assert isinstance(page, CohortPage)
    text = _html(page)
    _no_nan(text)
    assert _charts(page) == []
    for words in ("Nothing in the cohort's rhythm this week.", "No thread had a new post",
                  "No artifact has been shared yet.", "No clinic is planned.",
                  "You have no peer reviews to write.", "no week to chart yet"):  # fmt: skip
        assert words in text
    assert "withheld" in text or "fewer than" in text
    leader = leader_page()
    assert isinstance(leader, LeaderPage)
    _no_nan(_html(leader))
    assert _charts(leader) == []


def test_a_cohort_of_one(as_token, service, store, cohort):
    with store.write() as s:
        solo = create_cohort(s, SYSTEM, f"solo-{cohort.id}", "Just me")
        me = add_member(s, SYSTEM, solo, name="Solo Learner", email="solo@example.org",
                        role="learner")  # fmt: skip
        token = mint_token(s, SYSTEM, me, "t")
    as_token(token)
    page = cohort_page()
    assert isinstance(page, CohortPage)
    text = _html(page)
    _no_nan(text)
    assert "Seen as Solo Learner (learner)" in text and _charts(page) == []


def test_the_demo_cohort_draws_its_trend_with_the_metrics_numbers(as_token, service, store):
    demo = seed_pages(store)
    as_token(demo.tokens["learner"])
    page = cohort_page()
    assert isinstance(page, CohortPage)
    charts = _charts(page)
    assert len(charts) == 2
    assert all('class="mark-rect' in c for c in charts)  # bars drawn, in the kernel
    assert "<script" not in _html(page) and not re.search(r'(href|src)="http', "".join(charts))
    now = datetime.now(UTC).timestamp()
    with store.read() as s:
        cohort = s.scalar(select(Cohort).where(Cohort.slug == demo.slug))
        frames = load_frames(s, cohort, now=now, days=28)
    metrics = {m.id: m for m in compute_metrics(frames, days=28, now=now)}
    text = _html(page)
    assert metrics["active_contributors"].summary in text
    assert metrics["contributor_funnel"].summary in text
    for point in metrics["active_contributors"].series or ():
        if point.value is not None:
            assert f"<td>{point.value:g}</td>" in text


def test_sections_show_optional_capabilities_only_with_data():
    data = {
        "threads": Refused("the service is busy"),
        "badges": [{"title": "First answer", "member": {"name": "<b>Ana</b>"}}],
        "pilots": [],
        "spotlight": {"spotlight": [{"name": "Ana's dashboard", "summary": "reused by 4"}]},
    }
    sections = {s.key: s for s in activity_sections(data)}
    assert "Not available: the service is busy" in sections["threads"].html
    assert "&lt;b&gt;Ana&lt;/b&gt;" in sections["badges"].html
    assert "Ana&#x27;s dashboard" in sections["spotlight"].html
    assert "pilots" not in sections and "pulse" not in sections and "rhythm" not in sections


def test_the_dashboard_is_refused_to_a_learner_by_the_service(as_token, tokens, service):
    as_token(tokens["ana"])
    page = dashboard_page()
    assert isinstance(page, DashboardPage)
    text = _html(page)
    assert "Not available: " in text and "Members at risk" not in text
    assert isinstance(page.tables, Refused)
    # Nothing else of the dashboard either: no metric, no pulse survey.
    assert "Every metric" not in text and "Pulse surveys" not in text and page.metrics is None
    as_token(tokens["fay"])
    staff = dashboard_page()
    assert isinstance(staff, DashboardPage) and isinstance(staff.tables, dict)
    text = _html(staff)
    for heading in ("Members at risk", "Unanswered questions", "Moderation queue",
                    "Reviews owed", "Every metric", "How it is computed"):  # fmt: skip
        assert heading in text
    assert 'download="metrics.csv"' in text and 'download="at_risk.csv"' in text
    _no_nan(text)


def test_the_dashboard_shows_pulse_results_and_withholds_small_ones(as_token, tokens, service,
                                                                     store, cohort):  # fmt: skip
    from datetime import timedelta

    from nbcohort.cohorts.models import Cohort, PulseSurvey, utcnow
    from nbcohort.cohorts.services.auth import Actor
    from nbcohort.cohorts.services.members import add_member
    from nbcohort.cohorts.services.pulse import answer_survey, open_survey
    from tests.helpers.community import SYSTEM

    now = utcnow()
    questions = ["I feel heard", "Pace is right", "I use it"]
    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        big, small = (
            open_survey(s, c, key, title=title, questions=questions,
                        free_text="Else?", opens_at=now - timedelta(days=days + 2),
                        closes_at=now + timedelta(days=1), min_answers=5).id
            for key, title, days in (("w1", "Week one", 7), ("w2", "Week two <b>2</b>", 0))
        )  # fmt: skip
        for i in range(6):
            m = add_member(s, SYSTEM, c, name=f"Learner {i}", email=f"l{i}@example.org")
            s.flush()
            answer_survey(
                s, Actor.of(m), c, big, [4, 2 + i % 2, 3], "More **examples**" if i else ""
            )
            if i < 2:
                answer_survey(s, Actor.of(m), c, small, [1, 1, 1], "")
        for sid in (big, small):
            s.get_one(PulseSurvey, sid).closes_at = now - timedelta(seconds=1)
    as_token(tokens["fay"])
    page = dashboard_page()
    text = _html(page)
    raw = "".join(x.value for x in _walk(page) if isinstance(x, w.HTML))
    assert "Pulse surveys (2)" in text and 'download="pulse.csv"' in text
    assert "<td>I feel heard</td><td>4.0</td>" in text and "<td>2.5</td>" in text
    assert "fewer than 5 members answered" in text
    assert "Week two &lt;b&gt;2" in raw and "Week two <b>" not in raw  # a title is text
    assert "More <strong>examples</strong>" in raw  # comments, sanitized, for staff
    _no_nan(text)
