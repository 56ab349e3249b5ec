"""Ideas to pilots in a real browser (#16 part 3): in JupyterLab, through the widgets, a
learner marks a post as an idea, two other members endorse it, and a facilitator makes it a
pilot. Each member has their own JupyterLab (their token in their kernel's environment, as
a hub's single-user servers have); Playwright drives Debian's Chromium."""

from __future__ import annotations

from datetime import date, timedelta

import nbformat
import pytest

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.models import utcnow
from tests.browser.conftest import ARTIFACTS, CHROMIUM, JupyterServer
from tests.helpers.rhythm import apply_text, cohort_toml

ANCHOR = "module-1/reading-files"
IDEA = "Idea: a shared cleaning checklist for every team"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM, reason="browser leg: Debian's chromium is not installed"),
]


def notebook(folder, name: str, source: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}  # fmt: skip
    nb.cells = [nbformat.v4.new_code_cell(source)]
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)


@pytest.fixture
def labs(tmp_path, service, tokens, store, people):
    """A JupyterLab per member (ana, ben, chi: learners and a champion; fay: facilitator),
    each with a notebook holding the discussion and one holding pilots()."""
    apply_text(store, cohort_toml(extra="[ideas]\nendorsements = 2\n", steps=False), utcnow())
    servers = {}
    try:
        for who in ("ana", "ben", "chi", "fay"):
            home = tmp_path / f"home-{who}"
            notebook(home, "thread.ipynb", f"from nbcohort.widgets import discussion\n"
                                           f"discussion({ANCHOR!r}, expanded=True)")  # fmt: skip
            notebook(home, "pilots.ipynb", "from nbcohort.widgets import pilots\npilots()")
            servers[who] = JupyterServer(
                tmp_path / who, home, service.url, tokens[who], learner=who != "fay"
            )
        for server in servers.values():
            server.wait(120)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def run_notebook(browser, lab: JupyterServer, name: str, pages: list):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    pages.append((f"{lab.port}-{name}", page))
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}", timeout=90_000)
    page.locator(".jp-Notebook").first.wait_for(timeout=90_000)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    page.locator(".jp-Notebook .jp-Cell").first.click()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    return page


def idea_card(page):
    card = page.locator(".nbc-card", has_text=IDEA).first
    card.wait_for(timeout=90_000)
    return card


def open_actions(page) -> None:
    more = page.locator(".nbc-more").first
    more.scroll_into_view_if_needed()
    more.click()
    page.locator(".nbc-panel").first.wait_for(timeout=30_000)


def test_a_learner_marks_an_idea_two_endorse_a_facilitator_makes_it_a_pilot(
    labs, browser, service, tokens, people
):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pages = []
    try:
        page = run_notebook(browser, labs["ana"], "thread.ipynb", pages)
        page.locator(".nbc-thread").first.wait_for(timeout=90_000)
        page.locator("textarea[placeholder^='Write in Markdown']").last.fill(IDEA)
        page.get_by_role("button", name="Post", exact=True).click()
        idea_card(page)
        open_actions(page)
        page.get_by_role("button", name="Mark as idea").click()
        page.locator(".nbc-idea", has_text="0 of 2 endorsements").wait_for(timeout=30_000)

        for who, after in (("ben", "1 of 2"), ("chi", "2 of 2")):
            page = run_notebook(browser, labs[who], "thread.ipynb", pages)
            idea_card(page)
            open_actions(page)
            page.get_by_role("button", name="Endorse (").click()
            page.locator(".nbc-idea", has_text=f"{after} endorsements (you endorsed it)").wait_for(
                timeout=30_000
            )
        page.locator(".nbc-idea", has_text="with the facilitators").wait_for(timeout=30_000)

        page = run_notebook(browser, labs["fay"], "pilots.ipynb", pages)
        page.get_by_text("Ideas to decide on").wait_for(timeout=90_000)
        page.get_by_role("button", name="Make pilot").click()
        page.locator(".nbc-pilots select").select_option(label="Ben Okafor (ben)")
        page.get_by_placeholder("what it sets out to change").fill("Fewer broken imports")
        page.get_by_placeholder("how we will know").fill("Import errors per week")
        review = (date.today() + timedelta(days=21)).isoformat()
        page.get_by_placeholder("YYYY-MM-DD").fill(review)
        page.get_by_placeholder("optional").fill("Cleaning checklist")
        page.get_by_role("button", name="Create pilot").click()
        page.get_by_text("pilot made").wait_for(timeout=30_000)
        page.locator(".nbc-pilots", has_text="owner Ben Okafor").wait_for(timeout=30_000)
    finally:
        for who, p in pages:
            p.screenshot(path=str(ARTIFACTS / f"ideas-{who}.png"))
    (made,) = CohortClient(service.url, tokens["sam"], timeout=10).pilots()
    assert made["title"] == "Cleaning checklist" and made["owner"]["username"] == "ben"
    assert made["review_on"] == review and made["status"] == "active"
    (idea,) = CohortClient(service.url, tokens["ana"], timeout=10).ideas()
    assert idea["state"] == "piloted" and idea["endorsements"] == 2
    assert idea["author"]["username"] == "ana"
