"""The widgets in a real browser: JupyterLab and Voila pages, driven by Playwright in Debian's
Chromium. Asserts on page content and on what reached the service, never on pixels."""

from __future__ import annotations

import shutil
import time

import pytest

from nbcohort.cohorts.client import CohortClient
from tests.browser.conftest import ARTIFACTS, CHROMIUM, JupyterServer
from tests.helpers.processes import REPO

NOTEBOOK = "module-1/01-loading-data.ipynb"
ANCHOR = "module-1/reading-files"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="browser leg: Debian's chromium is not installed"),
]


@pytest.fixture
def workspace(tmp_path):
    """A learner's home: a copy of the course's module-1 notebooks and data."""
    home = tmp_path / "home"
    shutil.copytree(REPO / "course" / "source" / "module-1", home / "module-1")
    return home


@pytest.fixture
def lab(tmp_path, workspace, service, tokens):
    server = JupyterServer(tmp_path, workspace, service.url, tokens["ana"]).wait()
    yield server
    server.stop()


def wait_for_post(client: CohortClient, text: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for post in client.thread(ANCHOR)["posts"]:
            if text in post["html"]:
                return post
        time.sleep(0.5)
    raise AssertionError(f"{text!r} never reached the service")


def post_through_widget(page, text: str) -> None:
    head = page.locator(".nbc-head", has_text=ANCHOR).first
    head.wait_for(timeout=90_000)
    widget = head.locator("xpath=ancestor::div[contains(@class,'widget-vbox')][1]")
    box = widget.locator("textarea[placeholder^='Write in Markdown']").last
    box.fill(text)
    widget.locator("button", has_text="Post").last.click()


@pytest.mark.parametrize("ui", ["lab", "notebook"])
def test_course_notebook_runs_and_posts_through_the_widget(ui, lab, browser, tokens, service):
    """JupyterLab 4 and Notebook 7: run every cell of a course notebook, post a reply."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    path = f"lab/tree/{NOTEBOOK}" if ui == "lab" else f"notebooks/{NOTEBOOK}"
    page.goto(f"{lab.url}/{path}?token={lab.token}", timeout=90_000)
    page.locator(".jp-Notebook").first.wait_for(timeout=90_000)
    if ui == "lab":
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    else:
        page.get_by_text("Python 3 (ipykernel)").first.wait_for(timeout=90_000)
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    text = f"Posted from {ui} in a real browser"
    try:
        post_through_widget(page, text)
    finally:
        page.screenshot(path=str(ARTIFACTS / f"{ui}-after-run-all.png"))
    reader = CohortClient(service.url, tokens["ben"], timeout=10)
    post = wait_for_post(reader, text)
    assert post["author"]["username"] == "ana"
    page.locator(".nbc-card", has_text=text).first.wait_for(timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / f"{ui}-discussion.png"), full_page=False)


def test_voila_renders_the_notebook_with_live_widgets(lab, browser, tokens, service):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    CohortClient(service.url, tokens["ben"], timeout=10).post(ANCHOR, "Ben was here first")
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    page.goto(f"{lab.url}/voila/render/{NOTEBOOK}?token={lab.token}", timeout=120_000)
    try:
        page.locator(".nbc-card", has_text="Ben was here first").first.wait_for(timeout=120_000)
    finally:
        page.screenshot(path=str(ARTIFACTS / "voila-loaded.png"))
    text = "Posted from a Voila page"
    post_through_widget(page, text)
    post = wait_for_post(CohortClient(service.url, tokens["ben"], timeout=10), text)
    assert post["author"]["username"] == "ana"
    page.screenshot(path=str(ARTIFACTS / "voila-discussion.png"), full_page=False)
