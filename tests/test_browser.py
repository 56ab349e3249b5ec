"""The widgets in a real browser: JupyterLab and Voila pages, driven by Playwright in Debian's
Chromium. Asserts on page content and on what reached the service, never on pixels."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from nbcohort.cohorts.client import CohortClient
from tests.conftest import REPO, free_port, isolated_env

CHROMIUM = os.environ.get("NBCOHORT_CHROMIUM") or shutil.which("chromium") or ""
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="browser leg: Debian's chromium is not installed"),
]
ARTIFACTS = REPO / "tests" / "artifacts"
NOTEBOOK = "module-1/01-loading-data.ipynb"
ANCHOR = "module-1/reading-files"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


class JupyterServer:
    """``jupyter lab`` started as a learner's single-user server would be, with their token."""

    def __init__(self, tmp_path: Path, workspace: Path, service_url: str, member_token: str):
        self.port, self.token = free_port(), "browser-test-token"
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "jupyter.log"
        env = isolated_env(
            tmp_path,
            NBCOHORT_URL=service_url,
            NBCOHORT_TOKEN=member_token,
            JUPYTER_CONFIG_PATH=str(REPO),
        )
        args = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={self.port}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={workspace}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.open_browser=False",
        ]
        if os.geteuid() == 0:
            args.append("--allow-root")
        self.proc = subprocess.Popen(
            args, env=env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )

    def wait(self, timeout: float = 60) -> JupyterServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text())
            try:
                r = requests.get(f"{self.url}/api/status?token={self.token}", timeout=2)
                if r.status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"jupyter lab did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


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


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


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


@pytest.fixture(autouse=True)
def _one_database_leg(request):
    """The browser checks the front end; the PostgreSQL leg adds nothing there but minutes."""
    if request.node.callspec.params.get("db_url") == "postgresql":
        pytest.skip("browser tests run on the SQLite leg")
