"""Moderation in JupyterLab (Playwright, Debian's Chromium): a new member's first post is
held; a champion opens ``moderation()`` in a notebook, reads it and approves it; the post
then appears in the thread for everyone."""

from __future__ import annotations

from pathlib import Path

from nbcohort.cohorts.client import CohortClient
from tests.browser.conftest import ARTIFACTS, BROWSER, JupyterServer, write_notebook
from tests.helpers.moderation import set_charter

ANCHOR = "module-1/reading-files"
NOTEBOOK = "moderation.ipynb"

pytestmark = BROWSER


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    write_notebook(home / NOTEBOOK, "from nbcohort.widgets import moderation\nmoderation()")
    return home


def test_a_champion_approves_a_held_first_post_in_jupyterlab(
    tmp_path, browser, service, tokens, store, cohort
):
    set_charter(store, cohort.id, hold_first_posts=1)
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    held = ana.post(ANCHOR, "Koala: my first question, held for now")
    assert held["held"] is True
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    assert ben.thread(ANCHOR)["posts"] == []
    lab = JupyterServer(tmp_path, _home(tmp_path), service.url, tokens["chi"]).wait()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    try:
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}", timeout=90_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Shift+Enter")
        queue = page.locator(".nbc-moderation").first
        queue.get_by_text("Koala: my first question").wait_for(timeout=60_000)
        queue.get_by_text("1 held").wait_for(timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "moderation-queue.png"))
        queue.get_by_role("button", name="Approve").click()
        queue.get_by_text("Approved.").wait_for(timeout=30_000)
        queue.get_by_text("Nothing waits for moderation.").wait_for(timeout=10_000)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "moderation-failed.png"))
        raise
    finally:
        page.close()
        lab.stop()
    posts = ben.thread(ANCHOR)["posts"]
    assert [(p["author"]["username"], "Koala" in p["html"]) for p in posts] == [("ana", True)]
    assert ana.thread(ANCHOR)["held"] == []
