"""The discussion widget as a learner meets it in a course notebook, against a real service:
one summary line until opened, the thread once opened, and each post's actions behind one
button beside the post, named for that post, all still reaching the service."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.models import Flag, Post, Reaction, ReadMark, Thread
from nbcohort.widgets import discussion
from nbcohort.widgets._composer import LATE_TEXT_SECONDS
from nbcohort.widgets._post import PostCard
from nbcohort.widgets._style import when
from nbcohort.widgets.discussion import Discussion

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


@pytest.fixture
def write_as(service, tokens):
    """A member's own client, to fill the thread as others would."""
    clients: list[CohortClient] = []

    def client(username: str) -> CohortClient:
        clients.append(CohortClient(service.url, tokens[username], timeout=10))
        return clients[-1]

    yield client
    for c in clients:
        c.close()


def every_card(d: Discussion) -> list[PostCard]:
    cards = []
    for card in d.posts.children:
        cards.append(card)
        if card.replies is not None:
            cards.extend(card.replies.children)
    return cards


def press(card: PostCard, label: str) -> None:
    """Click the opened action whose button reads ``label``, as a learner does."""
    buttons = {b.description: b for b in card.expand().actions.children}
    buttons[label].click()


def cohort_posts(cohort):
    """The test cohort's posts (the module's tests share one database)."""
    return select(Post.id).join(Thread).where(Thread.cohort_id == cohort.id)


def read_marks(store, member) -> list[int]:
    with store.read() as s:
        return list(s.scalars(select(ReadMark.last_post_id).where(ReadMark.member_id == member.id)))


def test_a_long_thread_is_one_line_until_opened(as_member, write_as, store, people):
    chi = write_as("chi")
    posts = [chi.post(ANCHOR, f"tip number {i}") for i in range(34)]
    reply = write_as("ben").post(ANCHOR, "thanks, that helped", parent_id=posts[-1]["id"])
    as_member("ana")
    d = discussion(ANCHOR)
    assert isinstance(d, Discussion)
    assert d.summary in d.children and d.content not in d.children
    assert d.summary.description == (
        f"Discussion · {ANCHOR} · 35 posts · 35 unread · latest Ben Okafor, "
        f"{when(reply['created_at'])} · open"
    )
    assert d.summary.tooltip == f"Open the discussion of {ANCHOR}"
    assert d.posts.children == ()  # no card is made for a closed thread
    assert read_marks(store, people["ana"]) == []  # seeing the line is not reading the thread

    d.toggle()  # the learner opens it
    assert d.content in d.children
    assert d.summary.description.endswith(" · close")
    assert len(d.posts.children) == 30  # the newest page; the rest behind "show earlier"
    assert d.earlier.layout.display is None
    assert read_marks(store, people["ana"]) == [reply["id"]]

    d.composer.text.value = "Mine: `sep=';'` and `decimal=','` for our exports"
    mine = d.composer.submit()
    assert f"36 posts · latest you, {when(mine['created_at'])} · close" in d.summary.description
    d.toggle()  # and closes it again: one line
    assert d.content not in d.children
    assert d.summary.description.endswith(" · open")


def test_an_empty_thread_invites_the_first_post(as_member, store, cohort):
    as_member("ana")
    d = discussion(ANCHOR)
    assert d.summary.description == f"Discussion · {ANCHOR} · no posts yet: start one · open"
    d.toggle()
    d.composer.text.value = "First!"
    d.composer.submit()
    assert "1 post · latest you" in d.summary.description
    with store.read() as s:
        ours = select(Post.body_md).where(Post.id.in_(cohort_posts(cohort)))
        assert s.scalars(ours).all() == ["First!"]


def test_the_summary_counts_what_the_learner_has_not_read(as_member, write_as):
    chi = write_as("chi")
    chi.post(ANCHOR, "one")
    as_member("ana")
    discussion(ANCHOR, expanded=True)  # read up to here
    chi.post(ANCHOR, "two")
    chi.post(ANCHOR, "three")
    d = discussion(ANCHOR)
    assert " · 3 posts · 2 unread · " in d.summary.description
    d.toggle()
    assert "unread" not in d.summary.description


def test_each_post_has_its_actions_beside_it_under_its_own_name(as_member, write_as):
    first = write_as("chi").post(ANCHOR, "Use `encoding='latin-1'`?")
    write_as("ben").post(ANCHOR, "utf-8-sig worked for me", parent_id=first["id"])
    write_as("chi").post(ANCHOR, "Another question")
    as_member("ana")
    d = discussion(ANCHOR, expanded=True)
    cards = every_card(d)
    assert len(cards) == 3
    for card in cards:
        assert card.row.children == (card.body, card.more)  # beside the post, not under it
        assert card.more.description == ""  # a mark drawn by CSS: the name is the tooltip
        assert card.panel is None  # made only when opened
    names = [card.more.tooltip for card in cards]
    # Who, what and when, and the start of the text: Chi wrote two posts in the same minute.
    made = when(first["created_at"])
    assert names[0] == f"More actions for Chi Nguyen's post of {made}: “Use encoding='latin-1'?”"
    assert names[1].startswith("More actions for Ben Okafor's reply of ")
    assert names[2].endswith(": “Another question”")
    assert len(set(names)) == len(names)

    card = cards[0]
    card.more.click()
    assert card.panel in card.children
    assert card.more in card.row.children  # the button the focus is on stays where it was
    assert card.more.tooltip.startswith("Close actions for Chi Nguyen's post")
    assert card.action_labels() == ["helpful", "+1", "insightful", "Reply", "Flag"]
    card.more.click()
    assert card.panel not in card.children


def test_every_action_still_reaches_the_service(as_member, store, cohort, people):
    as_member("ana")
    d = discussion(ANCHOR, expanded=True)
    d.composer.text.value = "How do I skip the footer lines of an export?"
    d.composer.submit()

    as_member("ben")
    d = discussion(ANCHOR)
    assert "latest Ana Souza" in d.summary.description
    d.toggle()
    card = d.posts.children[0]
    press(card, "helpful")
    assert card.post["reactions"] == {"helpful": 1}
    assert "✓ helpful 1" in card.action_labels()  # said in words, not only in colour
    press(card, "Reply")
    assert card.reply_box is not None
    card.reply_box.text.value = "`skipfooter=2, engine='python'`"
    card.reply_box.send_button.click()
    assert len(card.replies.children) == 1
    assert "latest you" in d.summary.description
    press(card, "Flag")
    reason, confirm = card.panel.form.children
    reason.value = "off topic"
    confirm.click()
    assert "flag: done" in card.panel.note.value

    as_member("fay")  # a facilitator hides, then restores, with a logged reason
    card = discussion(ANCHOR, expanded=True).posts.children[0]
    press(card, "Hide")
    reason, confirm = card.panel.form.children
    reason.value = "asked twice"
    confirm.click()
    assert card.post["hidden"] and "Restore" in card.action_labels()
    press(card, "Restore")
    reason, confirm = card.panel.form.children
    reason.value = "it was fine"
    confirm.click()
    assert not card.post["hidden"]

    as_member("ana")  # deletes her own post, after confirming
    card = discussion(ANCHOR, expanded=True).posts.children[0]
    press(card, "Delete")
    (really,) = card.panel.form.children
    really.click()
    assert "[deleted]" in card.body.value
    assert card.more.layout.visibility == "hidden"
    with store.read() as s:
        ours = cohort_posts(cohort)
        assert s.scalars(select(Reaction.kind).where(Reaction.post_id.in_(ours))).all() == [
            "helpful"
        ]
        assert s.scalars(select(Flag.reason).where(Flag.post_id.in_(ours))).all() == ["off topic"]
        top = s.scalars(select(Post).where(Post.parent_id.is_(None), Post.id.in_(ours))).one()
        assert top.deleted and not top.hidden
        assert s.scalar(select(Post.author_id).where(Post.parent_id == top.id)) == people["ben"].id


def test_text_that_arrives_just_after_the_click_is_posted(as_member, store, cohort):
    """In JupyterLab a click on Post can reach the kernel before the box's text (ipywidgets
    holds a widget's state back while the kernel is busy): the empty box waits for it."""
    as_member("ana")
    d = discussion(ANCHOR)
    assert d.composer.submit() is None  # the click, first
    d.composer.text.value = "Late but whole"  # then the text
    with store.read() as s:
        ours = select(Post.body_md).where(Post.id.in_(cohort_posts(cohort)))
        assert s.scalars(ours).all() == ["Late but whole"]
    assert d.composer.text.value == ""

    d.composer.submit()  # nothing comes: the service's word, after the wait
    deadline = time.monotonic() + LATE_TEXT_SECONDS + 10
    while "cannot be empty" not in d.composer.status.value:
        assert time.monotonic() < deadline
        time.sleep(0.05)
