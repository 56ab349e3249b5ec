"""Leavers and ideas to pilots, through the real services layer on SQLite and PostgreSQL: a
leaver's words leave the pilots under the "remove" rule (the default title, the
notifications that carried it, their updates, the outcome they wrote); staff learn of an
active pilot whose owner left; leavers get no more idea notifications and no place in the
sponsors' nudges; pilot fields refuse control and direction-changing characters; and
``[ideas] enabled = false`` turns marking and endorsing off."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from nbcohort.cohorts.models import Cohort, Member, Notification, Post
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Forbidden, Invalid
from nbcohort.cohorts.services.ideas import decline_idea, endorse_idea, mark_idea
from nbcohort.cohorts.services.leaving import leave
from nbcohort.cohorts.services.leaving_pilots import REMOVED_TITLE
from nbcohort.cohorts.services.notifications import list_notifications
from nbcohort.cohorts.services.nudges import leader_nudges
from nbcohort.cohorts.services.pilots import list_pilots, make_pilot, pilot_detail, update_pilot
from nbcohort.cohorts.services.posts import create_post, edit_post
from nbcohort.cohorts.store import Store
from tests.helpers.rhythm import apply_text, cohort_toml

ANCHOR = "module-1/reading-files"
SECRET = "SECRET plan: my manager's name is Zanzibar and the budget is 1234"


def a(s, member: Member) -> Actor:  # type: ignore[no-untyped-def]
    return Actor.of(s.get_one(Member, member.id))


def co(s, cohort: Cohort) -> Cohort:  # type: ignore[no-untyped-def]
    return s.get_one(Cohort, cohort.id)


def args(owner: Member, **over: object) -> dict[str, object]:
    review = (date.today() + timedelta(days=30)).isoformat()
    return {"owner_id": owner.id, "goal": "g", "measure": "m", "review_on": review, **over}


def idea_of(store: Store, cohort: Cohort, author: Member, body: str = SECRET) -> int:
    with store.write() as s:
        post = create_post(s, a(s, author), co(s, cohort), ANCHOR, body)
        s.flush()
        return int(mark_idea(s, a(s, author), post.id)["id"])


def test_a_leaver_who_asked_to_remove_their_posts_leaves_no_words_in_pilots(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    ana_idea = idea_of(store, cohort, people["ana"])
    ben_idea = idea_of(store, cohort, people["ben"], "Ben's idea: pair reviews")
    with store.write() as s:
        fay = a(s, people["fay"])
        mine = make_pilot(s, fay, co(s, cohort), ana_idea, **args(people["ben"]))["id"]
        owned = make_pilot(s, fay, co(s, cohort), ben_idea, **args(people["ana"]))["id"]
        update_pilot(s, a(s, people["ana"]), co(s, cohort), owned, note="SECRET progress")
    with store.write() as s:
        report = leave(
            s, a(s, people["ivo"]), s.get_one(Member, people["ana"].id),
            reason="asked by email", posts="remove",
        )  # fmt: skip
    assert report.pilots_orphaned == [owned]
    with store.read() as s:
        ben = a(s, people["ben"])
        shown = repr(list_pilots(s, ben, co(s, cohort)))
        shown += repr(pilot_detail(s, ben, co(s, cohort), owned))
        shown += repr(list_notifications(s, ben, co(s, cohort), unread_only=False))
        stored = [n.data for n in s.scalars(select(Notification))]
        fay_notes = list_notifications(s, a(s, people["fay"]), co(s, cohort))
    assert "SECRET" not in shown and "Zanzibar" not in shown, shown
    assert "SECRET" not in repr(stored)
    assert REMOVED_TITLE in shown
    assert "Ben's idea" in shown  # a pilot from someone else's post keeps its title
    with store.read() as s:
        assert pilot_detail(s, a(s, people["ben"]), co(s, cohort), mine)["title"] == REMOVED_TITLE
    orphaned = [n for n in fay_notes if n["kind"] == "pilot_orphaned"]
    assert [n["data"]["pilot_id"] for n in orphaned] == [owned]
    assert "left the cohort" in orphaned[0]["headline"]


def test_a_default_title_goes_even_when_the_post_was_edited_since(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    """The pilot's making logs that its title was the post's start: the author's later edit
    of the post does not keep their old words in the title."""
    idea = idea_of(store, cohort, people["ana"])
    with store.write() as s:
        made = make_pilot(s, a(s, people["fay"]), co(s, cohort), idea, **args(people["ben"]))
        post_id = s.scalar(select(Post.id).where(Post.body_md == SECRET))
        edit_post(s, a(s, people["ana"]), post_id, "Edited: nothing secret here")
    with store.write() as s:
        leave(s, a(s, people["ivo"]), s.get_one(Member, people["ana"].id),
              reason="asked", posts="remove")  # fmt: skip
    with store.read() as s:
        title = pilot_detail(s, a(s, people["ben"]), co(s, cohort), made["id"])["title"]
    assert title == REMOVED_TITLE and "SECRET" not in title


def test_a_closing_update_by_the_leaver_loses_its_outcome_and_a_typed_title_stays(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    idea = idea_of(store, cohort, people["ana"])
    with store.write() as s:
        made = make_pilot(
            s, a(s, people["fay"]), co(s, cohort), idea, **args(people["ana"], title="Checklist")
        )
        update_pilot(
            s, a(s, people["ana"]), co(s, cohort), made["id"],
            note="SECRET note", status="done", outcome="SECRET outcome",
        )  # fmt: skip
    with store.write() as s:
        leave(s, a(s, people["ana"]), s.get_one(Member, people["ana"].id))  # charter: keep
    with store.read() as s:
        kept = pilot_detail(s, a(s, people["ben"]), co(s, cohort), made["id"])
    assert "SECRET outcome" in kept["outcome"]  # the keep rule keeps their words
    idea = idea_of(store, cohort, people["ben"], "SECRET from ben")
    with store.write() as s:
        made = make_pilot(
            s, a(s, people["fay"]), co(s, cohort), idea, **args(people["ben"], title="Typed")
        )
        update_pilot(
            s, a(s, people["ben"]), co(s, cohort), made["id"],
            note="SECRET note", status="stopped", outcome="SECRET outcome",
        )  # fmt: skip
    with store.write() as s:
        leave(
            s, a(s, people["ivo"]), s.get_one(Member, people["ben"].id),
            reason="asked", posts="remove",
        )  # fmt: skip
    with store.read() as s:
        gone = pilot_detail(s, a(s, people["chi"]), co(s, cohort), made["id"])
    assert gone["title"] == "Typed" and "SECRET" not in repr(gone), gone


@pytest.mark.parametrize("field", ["title", "goal", "measure"])
@pytest.mark.parametrize("bad", ["\x1b[2J", "\u202e", "a\nb"])
def test_pilot_fields_refuse_control_and_direction_characters(
    store: Store, cohort: Cohort, people: dict[str, Member], field: str, bad: str
) -> None:
    idea = idea_of(store, cohort, people["ana"], "an idea")
    with store.write() as s, pytest.raises(Invalid, match=rf"^{field} cannot hold") as info:
        make_pilot(
            s, a(s, people["fay"]), co(s, cohort), idea, **args(people["ben"], **{field: bad})
        )
    assert info.value.field == field


def test_an_outcome_refuses_an_escape_and_a_default_title_drops_it(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    idea = idea_of(store, cohort, people["ana"], "\x1b[31mred\u202e idea")
    with store.write() as s:
        made = make_pilot(s, a(s, people["fay"]), co(s, cohort), idea, **args(people["ben"]))
    assert made["title"] == "[31mred idea"
    with store.write() as s, pytest.raises(Invalid, match=r"^outcome cannot hold") as info:
        update_pilot(
            s, a(s, people["ben"]), co(s, cohort), made["id"],
            note="x", status="done", outcome="ok\x1b]0;pwned\x07",
        )  # fmt: skip
    assert info.value.field == "outcome"


def test_ideas_turned_off_refuse_marking_and_endorsing(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    idea = idea_of(store, cohort, people["ana"], "an idea")
    apply_text(
        store, cohort_toml(extra="[ideas]\nenabled = false\n", steps=False), datetime.now(UTC)
    )
    with store.write() as s:
        post = create_post(s, a(s, people["ben"]), co(s, cohort), ANCHOR, "another")
    with store.write() as s, pytest.raises(Forbidden, match="ideas are turned off"):
        mark_idea(s, a(s, people["ben"]), post.id)
    with store.write() as s, pytest.raises(Forbidden, match="ideas are turned off"):
        endorse_idea(s, a(s, people["ben"]), idea)


def test_a_leaver_is_not_notified_and_not_in_the_nudges(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    declined = idea_of(store, cohort, people["ana"], "Why does my idea fail?")
    piloted = idea_of(store, cohort, people["ana"], "another idea")
    with store.write() as s:
        s.execute(update(Post).values(created_at=datetime.now(UTC) - timedelta(days=3)))
        leave(s, a(s, people["ana"]), s.get_one(Member, people["ana"].id))  # charter: keep
    with store.write() as s:
        fay = a(s, people["fay"])
        decline_idea(s, fay, declined, "covered")
        make_pilot(s, fay, co(s, cohort), piloted, **args(people["ben"]))
    with store.read() as s:
        told = list(s.scalars(select(Notification.kind).where(
            Notification.member_id == people["ana"].id)))  # fmt: skip
        nudges = leader_nudges(s, a(s, people["sam"]), co(s, cohort))
    assert told == []
    assert nudges["unanswered"] == []
