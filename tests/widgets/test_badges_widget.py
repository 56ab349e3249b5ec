"""Badges in the notebook, against a real service: beside authors' names in the discussion
widget, and the badges() widget where a member sees theirs and hides them."""

from __future__ import annotations

import time

from sqlalchemy import select

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services.badges import award_badges
from nbcohort.widgets import _connection, badges, discussion
from nbcohort.widgets._post import PostCard
from nbcohort.widgets.badges import Badges
from nbcohort.widgets.discussion import Discussion

ANCHOR = "module-1/reading-files"


def award(store) -> None:
    with store.write() as s:
        award_badges(s, s.scalars(select(Cohort)).one())


def cards(d: Discussion) -> dict[str, str]:
    """Author name -> the card's HTML."""
    out = {}
    for card in d.posts.children:
        assert isinstance(card, PostCard)
        out[card.post["author"]["name"]] = card.body.value
    return out


def test_badges_show_beside_names_until_their_owner_hides_them(as_member, service, tokens, store):
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    ben.post(ANCHOR, "a first post")
    award(store)
    ben.post(ANCHOR, "a second post, written after the awards")
    as_member("ana")
    d = discussion(ANCHOR, expanded=True)
    assert isinstance(d, Discussion)
    assert "🏅 First post" in cards(d)["Ben Okafor"]
    as_member("ben")
    mine = badges()
    assert isinstance(mine, Badges)
    assert "First post" in mine.list.value and "wrote a first post" in mine.list.value
    mine.hide.value = True  # as Ben ticks the box
    assert "hidden from others" in mine.list.value
    with store.read() as s:
        assert s.scalar(select(Member.badges_hidden).where(Member.username == "ben")) is True
    as_member("ana")
    assert "🏅" not in cards(discussion(ANCHOR, expanded=True))["Ben Okafor"]
    ben.close()


def test_the_badges_widget_is_one_calm_line_offline_or_headless(monkeypatch):
    _connection.reset()
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:9")  # nobody listens
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_whatever")
    started = time.monotonic()
    shown = badges()
    assert time.monotonic() - started < 2.5
    assert not isinstance(shown, Badges) and "community offline" in shown.value
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("NBCOHORT_URL", "http://10.255.255.1:1")  # would hang if contacted
    started = time.monotonic()
    assert "while nbgrader runs" in badges().value
    assert time.monotonic() - started < 0.5
