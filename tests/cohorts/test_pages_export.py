"""``nbcohort pages export``: a page as one HTML file, opened in Chromium from file:// with
every network request refused. The charts draw, the numbers equal the metrics module's on
the same data, a hostile artifact title runs nothing, and an empty cohort reads in words.
Bad input is refused naming the option or the file, and nothing is written."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from nbcohort.cohorts.metrics import compute_metrics, load_frames
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services.artifacts import share_artifact
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import create_cohort
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.helpers.community import SYSTEM
from tests.helpers.demo_pages import seed_pages
from tests.helpers.processes import isolated_env

pytestmark = pytest.mark.slow

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
STAGES = ["reader", "reactor", "contributor", "champion"]


def export(tmp_path, db_url, *args, cohort="demo"):
    cmd = [sys.executable, "-m", "nbcohort.cohorts.cli", "pages", "export", *args,
           f"--db-url={db_url}", f"--data-dir={tmp_path / 'data'}",
           f"--cohort={cohort}"]  # fmt: skip
    return subprocess.run(cmd, env=isolated_env(tmp_path), capture_output=True, text=True)


def metrics_of(store, slug):
    now = datetime.now(UTC).timestamp()
    with store.read() as s:
        cohort = s.scalar(select(Cohort).where(Cohort.slug == slug))
        frames = load_frames(s, cohort, now=now, days=28)
    return {m.id: m.as_dict() for m in compute_metrics(frames, days=28, now=now)}


def test_bad_input_is_refused_naming_it_and_writes_nothing(tmp_path, sqlite_store):
    with sqlite_store.write() as s:
        create_cohort(s, SYSTEM, "demo", "Demo")
    url = sqlite_store.url
    cases = [
        (["--page=grades", str(tmp_path / "a.html")], "--page must be one of cohort, leader"),
        ([], "missing the HTML file to write"),
        ([str(tmp_path / "no-such-folder" / "a.html")], "the folder"),
        ([str(tmp_path)], "is a folder"),
    ]
    for args, says in cases:
        done = export(tmp_path, url, *args)
        assert done.returncode == 2, done.stderr
        assert says in done.stderr
    assert not list(tmp_path.glob("*.html")) and not list(tmp_path.glob(".*.tmp"))
    done = export(tmp_path, url, str(tmp_path / "a.html"), cohort="nope")
    assert done.returncode == 2 and "nope" in done.stderr
    assert not (tmp_path / "a.html").exists()


def _offline_page(browser, path):
    page = browser.new_page(viewport={"width": 1200, "height": 3000})
    tried: list[str] = []

    def route(r):
        if r.request.url.startswith(("file:", "data:", "blob:")):
            r.continue_()
        else:
            tried.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(path.as_uri())
    return page, tried


def _tables(page):
    return page.eval_on_selector_all(
        "table.nbc-table",
        "ts => ts.map(t => [...t.rows].map(r => [...r.cells].map(c => c.textContent)))",
    )


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM, reason="browser leg: Debian's chromium is not installed")
def test_exported_pages_open_offline_with_the_metrics_numbers(tmp_path, sqlite_store):
    from playwright.sync_api import sync_playwright

    demo = seed_pages(sqlite_store)
    with sqlite_store.write() as s:
        cohort = s.scalar(select(Cohort).where(Cohort.slug == demo.slug))
        author = s.scalar(
            select(Member).where(Member.cohort_id == cohort.id, Member.role == "learner")
        )
        share_artifact(s, Actor.of(author), cohort, filename="x.py", content=b"1",
                       title=HOSTILE, tags=["pandas"])  # fmt: skip
        create_cohort(s, SYSTEM, "empty", "Nobody yet")
    for name, slug in (
        ("cohort", "demo"),
        ("leader", "demo"),
        ("cohort", "empty"),
        ("leader", "empty"),
    ):
        done = export(
            tmp_path,
            sqlite_store.url,
            f"--page={name}",
            str(tmp_path / f"{slug}-{name}.html"),
            cohort=slug,
        )
        assert done.returncode == 0, done.stderr
    metrics = metrics_of(sqlite_store, demo.slug)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page, tried = _offline_page(browser, tmp_path / "demo-cohort.html")
        page.wait_for_function(
            "() => document.querySelectorAll('.nbc-chart svg .mark-rect path').length > 0 && "
            "[...document.querySelectorAll('.nbc-chart')].every(c => c.querySelector('svg'))",
            timeout=60_000,
        )
        text, tables = page.inner_text("body"), _tables(page)
        pwned = page.evaluate("window.__pwned === undefined ? null : window.__pwned")
        leader, tried_leader = _offline_page(browser, tmp_path / "demo-leader.html")
        leader.wait_for_selector(".nbc-chart svg .mark-rect path", timeout=60_000)
        leader_rows = leader.eval_on_selector_all(
            "table.nbc-leader tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))"
        )
        empties = []
        for name in ("cohort", "leader"):
            empty, tried_empty = _offline_page(browser, tmp_path / f"empty-{name}.html")
            empties.append(
                (empty.inner_text("body"), empty.locator(".nbc-chart").count(), tried_empty)
            )
        browser.close()
    assert tried == [] and tried_leader == []
    assert pwned is None and HOSTILE in text
    weeks = {p["week"]: p for p in metrics["active_contributors"]["series"]}
    contributors = next(t for t in tables if t[0] == ["week starting", "value", "of"])
    assert len(contributors) > 2
    for week, value, of in contributors[1:]:
        point = weeks[week.split(" ")[0]]
        assert float(value) == point["value"]
        assert of == f"{point['numerator']:g} / {point['denominator']:g}"
    funnel = {p["week"]: p["detail"] for p in metrics["contributor_funnel"]["series"]}
    stages = next(t for t in tables if t[0][1:] == STAGES)
    for week, *counts in stages[1:]:
        assert [float(c) for c in counts] == [funnel[week.split(" ")[0]][s] for s in STAGES]
    shown = {r[0]: r for r in leader_rows}
    assert shown["Active contributors"][1] == f"{metrics['active_contributors']['value']:g} %"
    assert "Posts per member per month" not in shown
    for text_empty, charts, tried_empty in empties:
        assert tried_empty == [] and charts == 0
        assert "NaN" not in text_empty and "None" not in text_empty
        assert "nothing to measure yet" in text_empty or "no outcome metrics" in text_empty.lower()
