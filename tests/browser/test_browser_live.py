"""Live in JupyterLab (Playwright, Debian's Chromium): with the course notebook open, a post
another member writes through the API appears in the open thread within 5 s, and the mention
in it appears in notifications(), without any action by the reader."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat

from nbcohort.cohorts.client import CohortClient
from tests.browser.conftest import ARTIFACTS, BROWSER, JupyterServer
from tests.helpers.processes import REPO

ANCHOR = "module-1/reading-files"
NOTEBOOK = "module-1/01-loading-data.ipynb"

pytestmark = BROWSER


def _home(tmp_path: Path) -> Path:
    """The learner's copy of module 1, with one cell of their own at the top that shows the
    section's discussion opened and their notifications."""
    home = tmp_path / "home"
    shutil.copytree(REPO / "course" / "source" / "module-1", home / "module-1")
    nb = nbformat.read(home / NOTEBOOK, as_version=4)
    nb.cells.insert(
        0,
        nbformat.v4.new_code_cell(
            "from nbcohort.widgets import discussion, notifications\n"
            f"display(discussion({ANCHOR!r}, expanded=True))\n"
            "notifications()"
        ),
    )
    nbformat.write(nb, home / NOTEBOOK)
    return home


def test_a_post_by_another_member_appears_without_any_action(tmp_path, browser, service, tokens):
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    ben.post(ANCHOR, "Ben was here first")
    lab = JupyterServer(tmp_path, _home(tmp_path), service.url, tokens["ana"]).wait()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    try:
        page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}", timeout=90_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Shift+Enter")
        thread = page.locator(".nbc-discussion").first
        thread.locator(".nbc-card", has_text="Ben was here first").wait_for(timeout=60_000)
        page.get_by_text("Notifications · 0 unread").wait_for(timeout=30_000)
        time.sleep(1)  # the watcher has sent its first watch and waits
        start = time.monotonic()
        ben.post(ANCHOR, "@ana a new post, live")
        thread.locator(".nbc-card", has_text="a new post, live").wait_for(timeout=5_000)
        took = time.monotonic() - start
        page.get_by_text("1 unread (1 mention)").wait_for(timeout=5_000)
        page.screenshot(path=str(ARTIFACTS / "live-thread.png"))
        assert took < 5, took
        summary = thread.locator(".nbc-summary")
        assert "2 posts" in summary.inner_text()
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "live-failed.png"))
        raise
    finally:
        page.close()
        lab.stop()
