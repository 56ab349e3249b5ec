"""The peer-review widget in a real browser: a reviewer opens a Voila page running
``peer_review("project-1")`` over an open round served by ``nbcohort serve``, scores one
peer packet with the level buttons, comments, submits, and the store holds that review."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from sqlalchemy import select

from nbcohort.cohorts.models import Review
from tests.browser.conftest import ARTIFACTS, CHROMIUM, JupyterServer
from tests.helpers.review_service import CRITERIA

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM, reason="browser leg: Debian's chromium is not installed"),
]


def _review_notebook(folder: Path) -> str:
    """A learner's notebook with one cell that shows the widget (the round is on SQLite)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            'from nbcohort.widgets import peer_review\npeer_review("project-1")'
        )
    ]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / "review.ipynb")
    return "review.ipynb"


def test_reviewer_scores_and_submits_a_peer_packet_in_a_voila_page(tmp_path, live, browser):
    run = live("open")
    home = tmp_path / "home-ana"
    notebook = _review_notebook(home)
    lab = JupyterServer(tmp_path, home, run.service.url, run.dbs.tokens["ana"]).wait()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    try:
        page.goto(f"{lab.url}/voila/render/{notebook}?token={lab.token}", timeout=60_000)
        page.get_by_text("0 of 3 submitted").first.wait_for(timeout=60_000)
        row = page.locator(".widget-vbox", has=page.get_by_text("Peer packet 1")).last
        row.get_by_role("button", name="Review ▸").click()
        groups = page.locator(".widget-toggle-buttons >> visible=true")
        groups.nth(len(CRITERIA) - 1).wait_for(timeout=10_000)
        assert groups.count() == len(CRITERIA)
        boxes = page.locator("textarea[placeholder^='What works'] >> visible=true")
        chosen: dict[str, float] = {}
        for i, cid in enumerate(CRITERIA):
            level = groups.nth(i).locator("button").nth(1 + i)  # levels 0..3: pick 1, 2, 3
            chosen[cid] = float(level.inner_text().split("·")[0])
            level.click()
            boxes.nth(i).fill(f"Browser comment on {cid}.")
        page.locator("button >> visible=true", has_text="Submit").click()
        page.get_by_text("1 of 3 submitted").first.wait_for(timeout=20_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "voila-peer-review.png"))
        lab.stop()
    assert chosen == {"question": 1.0, "evidence": 2.0, "recommendation": 3.0}
    peers = run.allocations("ana", "peer")
    with run.store.read() as s:
        review = s.scalar(select(Review).where(Review.allocation_id == peers[0].id))
    assert review is not None and review.draft is False
    assert {k: float(v) for k, v in review.scores.items()} == chosen
    assert review.comments == {c: f"Browser comment on {c}." for c in CRITERIA}
