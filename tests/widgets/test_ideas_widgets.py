"""Ideas, pilots and nudges in the notebook, against a real service: "Mark as idea" and
"Endorse (n)" in the discussion widget's post actions, the pilots() widget where a
facilitator makes an escalated idea a pilot (or declines it), nudges() for sponsors, and the
sponsor label beside a sponsor's reply."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import utcnow
from nbcohort.widgets import _connection, discussion, nudges, pilots
from nbcohort.widgets._pilot_row import PilotRow
from nbcohort.widgets._post import PostCard
from nbcohort.widgets.discussion import Discussion
from nbcohort.widgets.nudges import Nudges
from nbcohort.widgets.pilots import Pilots, _IdeaRow
from tests.helpers.rhythm import apply_text, cohort_toml

# One service and database per module and leg; a cohort of its own per test.
from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
    serve_cohort,
    serve_db_url,
    serve_module_service,
    serve_module_world,
    serve_service,
    serve_store,
)

ANCHOR = "module-1/reading-files"


def click(panel_owner: PostCard, label: str) -> None:
    """Press the post action whose label starts with ``label``."""
    for b in panel_owner.expand().actions.children:
        if b.description.startswith(label):
            b.click()
            return
    raise AssertionError(f"no {label!r} in {panel_owner.action_labels()}")


def first_card(d: Discussion) -> PostCard:
    card = d.posts.children[0]
    assert isinstance(card, PostCard)
    return card


def test_mark_endorse_and_make_a_pilot_through_the_widgets(
    as_member, service, tokens, store, cohort, people
):
    text = cohort_toml(slug=cohort.slug, extra="[ideas]\nendorsements = 2\n", steps=False)
    apply_text(store, text, utcnow())
    as_member("ana")
    d = discussion(ANCHOR, expanded=True)
    assert isinstance(d, Discussion)
    d.composer.text.value = "Idea: a cleaning checklist per team"
    d.composer.send_button.click()
    card = first_card(d)
    assert "Mark as idea" in card.action_labels()
    click(card, "Mark as idea")
    assert "💡" in card.body.value and "0 of 2 endorsements" in card.body.value
    assert not any(lbl.startswith("Endorse") for lbl in card.action_labels())  # own idea
    for who in ("ben", "chi"):
        as_member(who)
        theirs = first_card(discussion(ANCHOR, expanded=True))
        assert "Mark as idea" not in theirs.action_labels() or who == "chi"
        click(theirs, "Endorse")
        assert "(you endorsed it)" in theirs.body.value
        assert any(lbl.startswith("✓ Endorsed") for lbl in theirs.action_labels())
    assert "with the facilitators" in theirs.body.value
    as_member("ana")
    assert isinstance(pilots(), Pilots) and not pilots().decide.children  # not staff
    as_member("fay")
    p = pilots()
    assert isinstance(p, Pilots)
    rows = [r for r in p.decide.children if isinstance(r, _IdeaRow)]
    assert len(rows) == 1
    row = rows[0]
    row.make.click()
    row.create()  # nothing chosen: the service names the owner
    assert "needs an owner" in row.note.value
    row.owner_pick.value = people["ben"].id
    row.goal.value, row.measure.value = "Fewer broken imports", "Import errors per week"
    row.review_on.value = "2001-01-01"
    row.create()
    assert "in the past" in row.note.value
    row.review_on.value = (date.today() + timedelta(days=14)).isoformat()
    row.create()
    assert "pilot made" in p.status.value
    shown = "".join(r.text.value for r in p.list.children)
    assert "checklist" in shown and "owner Ben Okafor" in shown
    assert not [r for r in p.decide.children if isinstance(r, _IdeaRow)]


def test_the_owner_posts_updates_and_closes_the_pilot_from_the_widget(
    as_member, service, tokens, store, cohort, people
):
    text = cohort_toml(slug=cohort.slug, extra="[ideas]\nendorsements = 1\n", steps=False)
    apply_text(store, text, utcnow())
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    idea = ana.mark_idea(ana.post(ANCHOR, "Idea: pair on the exports")["id"])
    CohortClient(service.url, tokens["chi"], timeout=10).endorse(idea["id"])
    fay = CohortClient(service.url, tokens["fay"], timeout=10)
    review_on = (date.today() + timedelta(days=14)).isoformat()
    pilot = fay.make_pilot(idea["id"], owner_id=people["ben"].id, goal="Fewer broken exports",
                           measure="Broken exports a week", review_on=review_on)  # fmt: skip
    as_member("ana")  # neither its owner nor staff: no form
    (row,) = pilots().list.children
    assert isinstance(row, PilotRow) and not hasattr(row, "update")
    with pytest.raises(ClientError, match="only the pilot's owner or a facilitator"):
        ana.update_pilot(pilot["id"], "I'd like to say something")
    as_member("ben")
    p = pilots()
    (row,) = p.list.children
    row.update.click()
    row.post_update()  # nothing written: the service names the note
    assert "note" in row.note.value
    row.text_box.value = "Week one: three teams paired <script>alert(1)</script>"
    row.post_update()
    assert "update posted" in p.status.value
    (row,) = p.list.children
    assert "1 update" in row.text.value
    row.update.click()
    row.text_box.value, row.state.value = "We are done", "done"
    row.post_update()  # closing without an outcome
    assert "outcome" in row.note.value
    row.outcome.value = "Broken exports fell from 5 to 1 a week"
    row.post_update()
    (row,) = p.list.children
    assert "done" in row.text.value and "fell from 5 to 1" in row.text.value
    assert not hasattr(row, "update")  # a closed pilot takes no more updates
    row.show.click()
    assert "Week one: three teams paired" in row.history.value
    assert "<script" not in row.history.value and "Ben Okafor" in row.history.value


def test_declining_from_the_widget_needs_a_reason(as_member, service, tokens, store, cohort):
    text = cohort_toml(slug=cohort.slug, extra="[ideas]\nendorsements = 1\n", steps=False)
    apply_text(store, text, utcnow())
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    idea = ana.mark_idea(ana.post(ANCHOR, "an idea")["id"])
    CohortClient(service.url, tokens["ben"], timeout=10).endorse(idea["id"])
    as_member("fay")
    p = pilots()
    assert isinstance(p, Pilots)
    row = next(r for r in p.decide.children if isinstance(r, _IdeaRow))
    row.decline.click()
    row.do_decline()
    assert "a reason is required" in row.note.value
    row.reason.value = "Out of scope"
    row.do_decline()
    assert "idea declined" in p.status.value
    as_member("ana")
    card = first_card(discussion(ANCHOR, expanded=True))
    assert "declined: Out of scope" in card.body.value


def test_nudges_for_sponsors_and_the_sponsor_label(as_member, service, tokens):
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    question = ana.post(ANCHOR, "Which encoding do our exports use?")
    as_member("sam")
    n = nudges()
    assert isinstance(n, Nudges)
    assert "Nothing waits for a leader" in n.body.value  # a question of a minute ago
    CohortClient(service.url, tokens["sam"], timeout=10).post(
        ANCHOR, "cp1252, I checked", parent_id=question["id"]
    )
    as_member("ana")
    d = discussion(ANCHOR, expanded=True)
    reply = first_card(d).replies.children[0]
    assert 'class="nbc-label">sponsor<' in reply.body.value
    assert "refused" in nudges().body.value or "may not" in nudges().body.value


def test_pilots_and_nudges_are_one_calm_line_offline_or_headless(monkeypatch):
    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:9")  # nobody listens
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    for make, kind in ((pilots, Pilots), (nudges, Nudges)):
        started = time.monotonic()
        shown = make()
        assert time.monotonic() - started < 2.5
        assert not isinstance(shown, kind) and "community offline" in shown.value
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("NBCOHORT_URL", "http://10.255.255.1:1")  # would hang if contacted
    started = time.monotonic()
    assert "while nbgrader runs" in pilots().value and "while nbgrader runs" in nudges().value
    assert time.monotonic() - started < 0.5
    _connection.reset()


def test_an_open_thread_shows_anothers_endorsement_live(as_member, service, tokens):
    """An endorsement bumps the thread's version (0012's triggers), so the kernel's watcher
    brings the new count to an open discussion without any action by the reader."""
    from tests.widgets.test_live_widgets import eventually

    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    idea = ana.mark_idea(ana.post(ANCHOR, "an idea to watch")["id"])
    as_member("ana")
    d = discussion(ANCHOR, expanded=True)
    assert isinstance(d, Discussion)
    d._view_count = 1  # a front end renders it: the watcher starts
    try:
        assert "0 of 5 endorsements" in first_card(d).body.value
        CohortClient(service.url, tokens["ben"], timeout=10).endorse(idea["id"])
        eventually(lambda: "1 of 5 endorsements" in first_card(d).body.value, 15)
    finally:
        d.close()
