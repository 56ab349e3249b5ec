"""The onboarding widget in JupyterLab (Playwright, Debian's Chromium): a learner five days
into the cohort sees her current step, does what it asks in the same notebook (acknowledges
the charter, introduces herself in the thread) and the widget moves on to the next step each
time without the cell being run again; once she is a contributor it shows the sequence
finished."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from nbcohort.cohorts.models import Cohort, Member, utcnow
from nbcohort.cohorts.services.charter import publish_charter
from tests.browser.conftest import ARTIFACTS, BROWSER, JupyterServer, write_notebook
from tests.helpers.community import SYSTEM
from tests.helpers.rhythm import apply_text, cohort_toml

pytestmark = BROWSER

STEPS = """
[onboarding]
contributor_posts = 2

[[onboarding.steps]]
key = "welcome"
day = 0
title = "Welcome to {{ cohort }}"
text = "Read the charter and acknowledge it."
action = "ack_charter"

[[onboarding.steps]]
key = "introduce"
day = 1
title = "Introduce yourself"
text = "Say who you are in the introductions thread."
action = "post_in"
anchor = "welcome/introductions"

[[onboarding.steps]]
key = "share"
day = 10
title = "Share or review an artifact"
text = "Share a notebook you made."
action = "share_or_review"
"""


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    write_notebook(
        home / "welcome.ipynb",
        "from nbcohort.widgets import onboarding\nonboarding()",
        "from nbcohort.widgets import charter\ncharter()",
        "from nbcohort.widgets import discussion\n"
        "discussion('welcome/introductions', expanded=True)",
    )
    return home


def test_the_onboarding_widget_moves_on_as_the_member_does_each_step(
    tmp_path, browser, service, tokens, store, cohort, people
):
    now = utcnow()
    start = (now - timedelta(days=6)).date().isoformat()
    apply_text(store, cohort_toml(starts_on=start, timezone="UTC", steps=False, extra=STEPS), now)
    with store.write() as s:
        publish_charter(s, SYSTEM, s.get_one(Cohort, cohort.id), "# Our charter\n\nAsk early.\n")
        s.get_one(Member, people["ana"].id).joined_at = now - timedelta(days=5)
    lab = JupyterServer(tmp_path, _home(tmp_path), service.url, tokens["ana"]).wait()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    try:
        page.goto(f"{lab.url}/lab/tree/welcome.ipynb?token={lab.token}", timeout=90_000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
        page.locator(".jp-Notebook .jp-Cell").first.click()
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        card = page.locator(".nbc-card", has_text="Getting started")
        card.get_by_text("Next: Welcome to Practical pandas, spring").wait_for(timeout=90_000)
        page.get_by_role("button", name="I have read version 1 and accept it").click()
        card.get_by_text("Next: Introduce yourself").wait_for(timeout=15_000)
        page.screenshot(path=str(ARTIFACTS / "onboarding-next-step.png"))
        steps = page.locator(".nbc-meta", has_text="day 0: Welcome to")
        assert "✔" in steps.inner_text() and "done" in steps.inner_text()

        thread = page.locator(".nbc-discussion").first
        thread.locator("textarea[placeholder^='Write in Markdown']").last.fill(
            "Hi, I am Ana: I build the monthly sales report by hand."
        )
        thread.get_by_role("button", name="Post", exact=True).click()
        card.get_by_text("Nothing to do right now; your next step comes on its day.").wait_for(
            timeout=15_000
        )
        assert "✔" in page.locator(".nbc-meta", has_text="day 1: Introduce").inner_text()

        thread.locator("textarea[placeholder^='Write in Markdown']").last.fill(
            "And I would like to stop copying pivot tables."
        )
        thread.get_by_role("button", name="Post", exact=True).click()
        card.get_by_text("You are a contributor: welcome aboard, onboarding is complete.").wait_for(
            timeout=15_000
        )
        page.screenshot(path=str(ARTIFACTS / "onboarding-finished.png"))
        assert page.get_by_role("button", name="I did this step").is_hidden()
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "onboarding-failed.png"))
        raise
    finally:
        page.close()
        lab.stop()
