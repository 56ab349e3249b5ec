"""@mentions quoted in the weekly highlights, through the real cadence tick on SQLite and
PostgreSQL: each reads as the member's display name, plainly (one who left: "former
member"), in the highlights post, its page and its email alike; no link to anyone, nothing
a hostile display name could turn into a link or a mention, and nobody notified again."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from nbcohort.cohorts.models import Cohort, Member, Notification, Post, clock_at
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services import posts, reactions
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.leaving import leave
from nbcohort.cohorts.services.members import FORMER_MEMBER, add_member
from nbcohort.cohorts.store import Store
from tests.cohorts.test_cadence import T0, people, published, tick
from tests.cohorts.test_highlights_text import tags
from tests.helpers.community import SYSTEM
from tests.helpers.rhythm import apply_text, cohort_toml

HOSTILE = "[Win](https://phish.example) @ben <b>bold</b>"


def _mentions(store: Store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).where(Notification.kind == "mention")) or 0


def test_a_mention_in_the_highlights_reads_as_the_name_and_notifies_no_one(store: Store):
    cohort, _ = apply_text(store, cohort_toml(), T0)
    who = people(store, cohort.id)  # fay, chi, ana, ben: "<Name> Doe"
    with clock_at(T0), store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        for username, name in (("eve", HOSTILE), ("gil", "Gil Doe")):
            add_member(s, SYSTEM, c, name=name, email=f"{username}@example.org",
                       role="learner", username=username)  # fmt: skip
    ana, chi = Actor.of(who["ana"]), Actor.of(who["chi"])
    with clock_at(datetime(2027, 3, 3, 10, tzinfo=UTC)), store.write() as s:
        asked = posts.create_post(
            s, ana, cohort, "module-1/first-look",
            "Thanks @ben. And @eve, cc @gil and @nobody: mail ana@example.org",
        )  # fmt: skip
        reactions.react(s, chi, asked.id, "helpful")
    with store.write() as s:  # gil leaves before the highlights go out
        leave(s, SYSTEM, s.scalars(select(Member).where(Member.username == "gil")).one(),
              reason="moved on")  # fmt: skip
    before = _mentions(store)
    tick(store, datetime(2027, 3, 5, 16, 1, tzinfo=UTC))
    [item] = published(store, "highlights")
    assert item.result["posts"] == [asked.id]
    with store.read() as s:
        post = s.get_one(Post, item.result["post_id"])
    body = post.body_md
    assert "Thanks Ben Doe." in body  # the name, plainly, where the mention was
    assert f"cc {FORMER_MEMBER} and" in body and "gil" not in body
    assert "@\u2060nobody" in body  # names no member: text that mentions nobody
    assert "ana@example.org" in body  # an address is no mention, left as it was
    assert _mentions(store) == before  # nobody notified again
    for html in (post.body_html, render_markdown(body)):  # the page; the email's HTML
        assert "data-member" not in html and "href" not in html
        assert not [t for t in tags(html) if t.startswith(("a", "b", "img"))], html
        assert "Ben Doe" in html and "Win" in html and FORMER_MEMBER in html


def test_a_name_put_in_place_never_makes_the_next_at_a_mention() -> None:
    """ "@ben@carl": once ben's name ends in ")", "@carl" could read as a mention: it cannot."""
    from nbcohort.cohorts.services.highlights import _excerpt

    quoted = _excerpt("hi @ben@carl and @ben", {"ben": "Ben (B)", "carl": "Carl"})
    html = render_markdown(quoted, {"ben": 1, "carl": 2})
    assert "data-member" not in html and html.count("Ben (B)") == 2, html
