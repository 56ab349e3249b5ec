"""The learner's JupyterLab as the demo starts it greets no one with JupyterLab's question about
Jupyter news or nbgrader's instructor tools (Create Assignment, formgrader, course list). The
same server without the learner's config, as an instructor's, shows all of them: that is what
shows the checks can see them."""

from __future__ import annotations

import time

import nbformat
import pytest
import requests

from tests.browser.conftest import ARTIFACTS, CHROMIUM, JupyterServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="browser leg: Debian's chromium is not installed"),
]

NEWS = "Would you like to get notified about official Jupyter news?"


def greeting(browser, server: JupyterServer, who: str, wait_for_news: float) -> dict:
    """What JupyterLab shows on opening a notebook: the news question (waited for up to
    ``wait_for_news`` seconds once the notebook is open), the Nbgrader menu, the side panels."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{server.url}/lab/tree/work.ipynb?token={server.token}", timeout=60_000)
    page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
    started = time.monotonic()
    try:
        page.get_by_text(NEWS).wait_for(timeout=wait_for_news * 1000)
        news = time.monotonic() - started
    except Exception:
        news = None
    menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    items: list[str] = []
    if "Nbgrader" in menus:
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        items = [t.strip() for t in page.locator(".lm-Menu-itemLabel").all_inner_texts()]
        items = [t for t in items if t]
        page.keyboard.press("Escape")
    panels = [
        t.get_attribute("title") or ""
        for t in page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab").all()
    ]
    page.screenshot(path=str(ARTIFACTS / f"jupyterlab-greets-{who}.png"))
    page.close()
    formgrader = requests.get(f"{server.url}/formgrader?token={server.token}", timeout=10)
    return {"news": news, "menu": items, "panels": panels, "formgrader": formgrader.status_code}


def test_the_learners_lab_has_no_news_question_and_no_instructor_tools(tmp_path, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    home = tmp_path / "home"
    home.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, home / "work.ipynb")
    servers = {
        who: JupyterServer(tmp_path / who, home, "http://127.0.0.1:9", "", learner=who == "learner")
        for who in ("instructor", "learner")
    }
    try:
        for server in servers.values():
            server.wait()
        instructor = greeting(browser, servers["instructor"], "instructor", wait_for_news=20)
        assert instructor["news"] is not None
        assert {"Formgrader", "Course List"} <= set(instructor["menu"])
        assert any("Create Assignment" in p for p in instructor["panels"])
        assert instructor["formgrader"] == 200

        learner = greeting(browser, servers["learner"], "learner", instructor["news"] + 3)
        assert learner["news"] is None
        assert learner["menu"] == ["Assignment List"]  # a learner's own nbgrader tool stays
        assert not any("Create Assignment" in p for p in learner["panels"])
        assert learner["formgrader"] == 404
    finally:
        for server in servers.values():
            server.stop()
