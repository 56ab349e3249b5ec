"""The Voila pages in a real browser: the cohort activity page and the leader one-pager render
under the Jupyter server (``/voila/render/community/...``) over the seeded demo cohort, with
every request to anything but the local server blocked. The charts draw (their JavaScript
ships with the page), their numbers equal the metrics module's, a hostile artifact title
runs no script, and a learner sees no other member's reads or grades."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.metrics import compute_metrics, load_frames
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.pages import copy_pages
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.graduation import graduate
from tests.browser.conftest import ARTIFACTS, CHROMIUM, JupyterServer
from tests.helpers.demo_pages import seed_pages
from tests.helpers.graduation import demo_cohort_file_applied

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="browser leg: Debian's chromium is not installed"),
]

# Nothing of a page may leave the loopback: nbcohort's Voila template (Voila's "lab" less its
# CDN stylesheets, jupyter_config.py) and the pages' own SVG charts need no other host. Every
# page's test asserts that no request was even tried elsewhere.
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def _offline(page) -> list[str]:
    """Let the page reach 127.0.0.1 only; return the list of what it tried elsewhere."""
    blocked: list[str] = []

    def route(r) -> None:
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return blocked


def _metrics(store, slug: str) -> dict[str, dict]:
    """The metrics module's numbers on the same data, as the pages' default window asks."""
    now = datetime.now(UTC).timestamp()
    with store.read() as s:
        cohort = s.scalar(select(Cohort).where(Cohort.slug == slug))
        frames = load_frames(s, cohort, now=now, days=28)
    return {m.id: m.as_dict(breakdown=False) for m in compute_metrics(frames, days=28, now=now)}


def _open(browser, lab: JupyterServer, name: str):
    page = browser.new_page(viewport={"width": 1280, "height": 4000})
    blocked = _offline(page)
    started = time.monotonic()
    page.goto(f"{lab.url}/voila/render/community/{name}.ipynb?token={lab.token}", timeout=120_000)
    return page, blocked, started


def _drawn(page, count: int) -> None:
    """Wait until ``count`` charts have drawn their bars (Vega's SVG marks)."""
    page.wait_for_function(
        "n => [...document.querySelectorAll('.nbc-chart')].filter("
        "c => c.querySelectorAll('svg .mark-rect path').length > 0).length >= n",
        arg=count,
        timeout=120_000,
    )


@pytest.fixture
def demo(store, service):
    return seed_pages(store)


def test_cohort_page_draws_offline_and_matches_the_metrics(tmp_path, store, service, demo, browser):
    learner = CohortClient(service.url, demo.tokens["learner"], timeout=10)
    learner.share("hostile.py", b"print(1)\n", HOSTILE, tags=["pandas"])
    home = tmp_path / "home"
    copy_pages(home / "community")
    lab = JupyterServer(tmp_path, home, service.url, demo.tokens["learner"]).wait()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        page, blocked, _ = _open(browser, lab, "cohort")
        page.get_by_role("heading", name="Active threads").wait_for(timeout=120_000)
        _drawn(page, 2)
        text = page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "page-cohort.png"), full_page=True)
        pwned = page.evaluate("window.__pwned === undefined ? null : window.__pwned")
        tables = page.eval_on_selector_all(
            "table.nbc-table",
            "ts => ts.map(t => [...t.rows].map(r => [...r.cells].map(c => c.textContent)))",
        )
    finally:
        lab.stop()
    assert blocked == []
    assert pwned is None  # neither the onerror nor the script ran
    assert HOSTILE in text  # the title is shown as text
    for heading in ("This week's prompt and routine", "New artifacts", "Next clinic", "Our charter",
                    "Your peer reviews", "The cohort's trend"):  # fmt: skip
        assert heading in text
    metrics = _metrics(store, demo.slug)
    weeks = {p["week"]: p for p in metrics["active_contributors"]["series"]}
    contributors = next(t for t in tables if t[0][0] == "week starting" and len(t[0]) == 3)
    for week, value, of in contributors[1:]:
        point = weeks[week.split(" ")[0]]
        assert float(value) == point["value"]
        assert of == f"{point['numerator']:g} / {point['denominator']:g}"
    funnel = {p["week"]: p["detail"] for p in metrics["contributor_funnel"]["series"]}
    stages = next(t for t in tables if t[0][1:] == ["reader", "reactor", "contributor", "champion"])
    for week, *counts in stages[1:]:
        detail = funnel[week.split(" ")[0]]
        assert [float(c) for c in counts] == [
            detail[s] for s in ("reader", "reactor", "contributor", "champion")
        ]
    # A learner's page names no one but the viewer and the authors of shared artifacts: no
    # other member's reads, reviews or grades.
    with store.read() as s:
        names = s.scalars(select(Member.name)).all()
    authors = {a["author"]["name"] for a in learner.artifacts()}
    shown = {n for n in names if re.search(rf"\b{re.escape(n)}\b", text)}
    assert shown <= authors | {demo.names["learner"]}
    assert "grade" not in text.lower() and "score" not in text.lower()


def test_leader_page_for_a_sponsor(tmp_path, store, service, demo, browser):
    home = tmp_path / "home"
    copy_pages(home / "community")
    lab = JupyterServer(tmp_path, home, service.url, demo.tokens["sponsor"]).wait()
    try:
        page, blocked, _ = _open(browser, lab, "leader")
        page.get_by_role("heading", name="Outcomes").wait_for(timeout=120_000)
        _drawn(page, 1)
        text = page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "page-leader.png"), full_page=True)
        rows = page.eval_on_selector_all(
            "table.nbc-leader tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))"
        )
    finally:
        lab.stop()
    assert blocked == []
    assert "Since the cohort" in text or "too new" in text
    metrics = _metrics(store, demo.slug)
    shown = {r[0]: r for r in rows}
    active = metrics["active_contributors"]
    assert shown["Active contributors"][1] == f"{active['value']:g} %"
    assert set(shown) <= {m["title"] for m in metrics.values()}
    assert "Posts per member per month" not in text  # not one of the charter's outcomes


def test_dashboard_for_an_instructor(tmp_path, store, service, demo, browser):
    home = tmp_path / "home"
    copy_pages(home / "community")
    lab = JupyterServer(tmp_path, home, service.url, demo.tokens["instructor"]).wait()
    try:
        page, blocked, _ = _open(browser, lab, "dashboard")
        page.get_by_role("heading", name="Members at risk").wait_for(timeout=120_000)
        _drawn(page, 3)
        text = page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "page-dashboard.png"), full_page=True)
        downloads = page.eval_on_selector_all("a[download]", "as => as.map(a => a.download)")
    finally:
        lab.stop()
    assert blocked == []
    assert "metrics.csv" in downloads
    metrics = _metrics(store, demo.slug)
    for metric in metrics.values():
        assert metric["title"] in text


def test_community_page_for_an_alumnus_after_graduation(tmp_path, store, service, demo, browser):
    """The demo cohort graduates; an alumna's community page shows its cohorts, library,
    topics and events, with a hostile topic title and artifact title shown as text."""
    with store.read() as s:
        cohort_id = s.scalars(select(Cohort.id).where(Cohort.slug == demo.slug)).one()
    demo_cohort_file_applied(store, cohort_id)
    with store.write() as s:
        graduate(s, Actor.system(), s.get_one(Cohort, cohort_id))
    alumna = CohortClient(service.url, demo.tokens["learner"], timeout=10)
    assert alumna.me()["member"]["role"] == "alumni"
    alumna.share("hostile.py", b"print(1)\n", HOSTILE, tags=["pandas"])
    alumna.start_topic("after-the-course", HOSTILE[:100], "What are you working on now?")
    home = tmp_path / "home"
    copy_pages(home / "community")
    lab = JupyterServer(tmp_path, home, service.url, demo.tokens["learner"]).wait()
    try:
        page, blocked, _ = _open(browser, lab, "community")
        page.get_by_role("heading", name="Ongoing topics").wait_for(timeout=120_000)
        text = page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "page-community.png"), full_page=True)
        pwned = page.evaluate("window.__pwned === undefined ? null : window.__pwned")
        search = page.get_by_placeholder("words in a title, file name or tag")
        search.fill("hostile")
        search.press("Enter")
        found = page.locator(".nbc-library-search li")
        found.first.wait_for(timeout=60_000)
        assert found.count() == 1 and HOSTILE[:40] in found.first.inner_text()  # as text
    finally:
        lab.stop()
    assert blocked == []
    assert pwned is None
    for heading in ("Community of practice: Pandas practitioners", "Cohorts in this community",
                    "Artifact library", "Ongoing topics", "Events"):  # fmt: skip
        assert heading in text, heading
    assert "topic/after-the-course" in text and HOSTILE[:60] in text
    assert "reused 0 times" in text and "licence" in text
    assert "grade" not in text.lower() and "score" not in text.lower()
