"""The XSS corpus in a real browser: every payload seeded over the cohort's member text
(``tests/security/xss.py``), the widgets drawn in JupyterLab as a learner and as an instructor
and the Voila pages opened; no payload ran (none set ``window.__xss``) and each one is on the
screen as text. One service, one JupyterLab, a handful of page loads."""

from __future__ import annotations

from sqlalchemy import select

from nbcohort.cohorts.demo_ideas import seed_ideas
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.pages import copy_pages
from tests.browser.conftest import ARTIFACTS, BROWSER, JupyterServer, write_notebook
from tests.helpers.demo_pages import seed_pages
from tests.security.xss import PAYLOADS, seed_hostile

pytestmark = BROWSER

ANCHOR = "module-1/reading-files"
WIDGETS = [
    f"nbw.discussion({ANCHOR!r}, page_size=100, expanded=True)",
    "nbw.library()",
    "nbw.notifications()",
    "nbw.pilots()",
    "nbw.topics()",
    "nbw.badges()",
    "nbw.moderation()",
    "nbw.nudges()",
]
PAGES = {  # Voila page: a heading that says it has rendered
    "cohort": "Active threads",
    "dashboard": "Members at risk",
}


def _cells(token: str) -> list[str]:
    """The widgets as the member whose API token the notebook's first cell sets."""
    first = f"import os\nos.environ['NBCOHORT_TOKEN'] = {token!r}\nimport nbcohort.widgets as nbw"
    return [first, *WIDGETS]


def _ran(page) -> str | None:
    """The id of a payload that ran on ``page``, once events (focus, toggle) had their turn."""
    page.wait_for_timeout(1000)
    return page.evaluate("window.__xss === undefined ? null : String(window.__xss)")


def _lab_notebook(page, lab, name: str, cells: int) -> str:
    # A workspace of its own: the notebook opened before it is not restored beside it.
    space = name.split(".")[0]
    page.goto(f"{lab.url}/lab/workspaces/{space}/tree/{name}?token={lab.token}", timeout=90_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        "n => document.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length >= n",
        arg=cells,
        timeout=120_000,
    )
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert errors.count() == 0, errors.all_inner_texts()
    return page.locator(".jp-Notebook").inner_text()


def test_no_payload_runs_in_jupyterlab_or_voila_and_each_is_shown(
    tmp_path, store, service, browser
):
    demo = seed_pages(store)
    with store.read() as s:
        cohort_id = s.scalars(select(Cohort.id).where(Cohort.slug == demo.slug)).one()
    seed_ideas(store, cohort_id)
    seed_hostile(store, cohort_id, ANCHOR)
    home = tmp_path / "home"
    copy_pages(home / "community")
    for who in ("learner", "instructor"):
        write_notebook(home / f"{who}.ipynb", *_cells(demo.tokens[who]))
    lab = JupyterServer(tmp_path, home, service.url, demo.tokens["instructor"]).wait()
    ran, texts = {}, []
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 4000})
        for who in ("learner", "instructor"):
            texts.append(_lab_notebook(page, lab, f"{who}.ipynb", len(WIDGETS)))
            ran[f"lab as {who}"] = _ran(page)
            page.screenshot(path=str(ARTIFACTS / f"xss-lab-{who}.png"))
        for name, heading in PAGES.items():
            page.goto(f"{lab.url}/voila/render/community/{name}.ipynb?token={lab.token}",
                      timeout=120_000)  # fmt: skip
            page.get_by_role("heading", name=heading).wait_for(timeout=120_000)
            texts.append(page.locator("body").inner_text())
            ran[f"voila {name}"] = _ran(page)
            page.screenshot(path=str(ARTIFACTS / f"xss-voila-{name}.png"), full_page=True)
    finally:
        lab.stop()
    assert {where: pid for where, pid in ran.items() if pid is not None} == {}
    seen = "\n".join(texts)
    assert [pid for pid in PAYLOADS if pid not in seen] == []
    # As text, whole: the browser shows each payload as it was written.
    assert [pid for pid, payload in PAYLOADS.items() if payload not in seen] == []


def test_the_flag_is_seen_when_a_payload_runs(browser):
    """The check cannot pass vacuously: the corpus put raw into a page sets the flag."""
    page = browser.new_page()
    page.set_content("<div id=x></div>")
    page.evaluate("html => { document.getElementById('x').innerHTML = html; }",
                  "\n".join(PAYLOADS.values()))  # fmt: skip
    assert _ran(page) is not None
