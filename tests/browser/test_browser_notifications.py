"""The notifications widget in JupyterLab (Playwright, Debian's Chromium): a learner sees a
mention by another member, clicks it, and JupyterLab opens the course notebook in a tab at
the discussion's cell."""

from __future__ import annotations

import shutil
from pathlib import Path

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.course import load_course
from nbcohort.cohorts.models import Cohort
from tests.browser.conftest import ARTIFACTS, BROWSER, JupyterServer, write_notebook
from tests.helpers.processes import REPO

ANCHOR = "module-1/reading-files"

pytestmark = BROWSER


def _home(tmp_path: Path) -> Path:
    """A learner's home: module-1 as nbgrader released it, and a notebook with the widget."""
    home = tmp_path / "home"
    shutil.copytree(REPO / "course" / "source" / "module-1", home / "module-1")
    write_notebook(
        home / "inbox.ipynb", "from nbcohort.widgets import notifications\nnotifications()"
    )
    return home


def test_a_mention_opens_the_notebook_at_the_discussion(tmp_path, browser, service, tokens, store,
                                                        cohort):  # fmt: skip
    sections = load_course(REPO / "course" / "course.toml").sections
    with store.write() as s:  # what `nbcohort course sync` records
        s.get_one(Cohort, cohort.id).settings = {"sections": sections}
    cell = sections[ANCHOR]["cell"]
    CohortClient(service.url, tokens["ben"], timeout=10).post(
        ANCHOR, "@ana which separator did your file use?"
    )
    lab = JupyterServer(tmp_path, _home(tmp_path), service.url, tokens["ana"]).wait()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{lab.url}/lab/tree/inbox.ipynb?token={lab.token}", timeout=90_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.keyboard.press("Shift+Enter")
        link = page.get_by_role("link", name="Ben Okafor mentioned you in “Reading a file”")
        link.wait_for(timeout=60_000)
        page.get_by_text("1 unread (1 mention)").wait_for(timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / "notifications-widget.png"))
        link.click()
        tab = page.locator(".lm-TabBar-tab.jp-mod-current", has_text="01-loading-data.ipynb")
        tab.wait_for(timeout=60_000)
        shown = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell")
        target = shown.filter(has_text=f'discussion("{ANCHOR}")').first
        target.wait_for(timeout=30_000)
        box = target.bounding_box()
        assert box is not None and 0 <= box["y"] < 1000, box  # scrolled to the discussion
        active = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active")
        assert f'discussion("{ANCHOR}")' in active.inner_text()  # that cell is the active one
        page.screenshot(path=str(ARTIFACTS / "notifications-opened.png"))
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "notifications-failed.png"))
        raise
    finally:
        page.close()
        lab.stop()
    assert cell == "m1-load-20"
