"""The weekly spotlight and the tick's badges step, through the real services on SQLite and
PostgreSQL: the documented rule, a facilitator's edit before it goes out, and the highlights
post that carries it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from nbcohort.cohorts.badge_file import SpotlightRule
from nbcohort.cohorts.models import BadgeAward, CadenceItem, Member, Post, Spotlight, clock_at
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cadence_tick import run_tick
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.services.spotlight import (
    draft_spotlight,
    edit_spotlight,
    publish_spotlight,
    spotlight_dict,
)
from nbcohort.cohorts.store import Store
from tests.helpers.rhythm import apply_text, cohort_toml
from tests.helpers.timeline import SYSTEM, Timeline, utc

BEFORE = "2026-02-25 12:00"
RULE = SpotlightRule(size=3, min_days=2, min_contributions=2)


def week(t: Timeline, monday: str) -> list[str]:
    """Draft the spotlight of the week starting ``monday`` from that week's activity."""
    since, until = utc(f"{monday} 00:00"), utc(f"{monday} 00:00").replace(day=int(monday[-2:]) + 7)
    with t.at(f"{monday} 00:00") as s:
        row = draft_spotlight(s, s.merge(t.cohort), RULE, since, until, since.date())
        ids = list(row.member_ids)
    names = {m.id: n for n, m in t.members.items()}
    return [names[i] for i in ids]


def test_repeat_contributors_qualify_and_no_one_two_weeks_running(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben", "cyd", "dan", "hid")
    t.join(BEFORE, "sam", role="sponsor")
    with t.at(BEFORE) as s:
        s.merge(t.members["hid"]).badges_hidden = True
        t.members["hid"].badges_hidden = True
    for who, n in (("ana", 3), ("ben", 2), ("hid", 4)):
        for day in range(n):
            t.post(f"2026-03-0{2 + day} 10:00", who)
    t.post("2026-03-02 10:00", "cyd")  # once: not a repeat contributor
    t.post("2026-03-02 10:00", "dan")
    t.post("2026-03-02 11:00", "dan")  # twice, but on one day
    assert week(t, "2026-03-02") == ["ana", "ben"]  # most contributions first; hid hides
    for day in (9, 10):  # week two: ana and cyd qualify; ana was in last week's
        t.post(f"2026-03-{day:02d} 10:00", "ana")
        t.post(f"2026-03-{day:02d} 10:00", "cyd")
    assert week(t, "2026-03-09") == ["cyd"]
    for day in (16, 17):  # week three: only cyd qualifies, and was in last week's: still cyd
        t.post(f"2026-03-{day:02d} 10:00", "cyd")
    assert week(t, "2026-03-16") == ["cyd"]


def test_a_facilitator_edits_the_draft_and_bad_edits_are_refused(store: Store) -> None:
    t, other = Timeline(store), Timeline(store, slug="autumn")
    t.join(BEFORE, "ana", "ben", "gone")
    t.join(BEFORE, "fay", role="facilitator")
    t.join(BEFORE, "chi", role="champion")
    other.join(BEFORE, "oz")
    t.leave(BEFORE, "gone")
    for day in (2, 3):
        t.post(f"2026-03-0{day} 10:00", "ana")
    assert week(t, "2026-03-02") == ["ana"]
    monday = date(2026, 3, 2)
    ana, ben = t.members["ana"].id, t.members["ben"].id
    with t.at("2026-03-05 10:00") as s:
        cohort = s.merge(t.cohort)
        for who in ("ana", "chi"):
            with pytest.raises(Forbidden):
                edit_spotlight(s, t.actor(s, who), cohort, monday, [ben])
        fay = t.actor(s, "fay")
        with pytest.raises(NotFound):
            edit_spotlight(s, fay, cohort, date(2026, 3, 9), [ben])
        bad = [
            ([other.members["oz"].id], "member_ids"),
            ([t.members["gone"].id], "member_ids"),
            ([ben, ben], "member_ids"),
            (list(range(1, 12)), "member_ids"),
        ]
        for ids, field in bad:
            with pytest.raises(Invalid) as refused:
                edit_spotlight(s, fay, cohort, monday, ids)
            assert refused.value.field == field
        with pytest.raises(Invalid) as long_note:
            edit_spotlight(s, fay, cohort, monday, [ben], "x" * 501)
        assert long_note.value.field == "note"
        edit_spotlight(s, fay, cohort, monday, [ben, ana], "Thank you both!")
    assert week(t, "2026-03-02") == ["ben", "ana"]  # an edited draft is not redone
    with store.read() as s:
        learner = Actor.of(s.get_one(Member, ana))
        with pytest.raises(NotFound):  # members see it only once it has gone out
            spotlight_dict(s, learner, s.merge(t.cohort), monday)
        staff = spotlight_dict(s, Actor.of(s.get_one(Member, t.members["fay"].id)),
                               s.merge(t.cohort), monday)  # fmt: skip
    assert staff["state"] == "edited" and staff["note"] == "Thank you both!"


def test_a_facilitator_cannot_put_a_hidden_member_or_a_sponsor_in_it(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "hid")
    t.join(BEFORE, "sam", role="sponsor")
    t.join(BEFORE, "fay", role="facilitator")
    with t.at(BEFORE) as s:
        s.merge(t.members["hid"]).badges_hidden = True
    for day in (2, 3):
        t.post(f"2026-03-0{day} 10:00", "ana")
    assert week(t, "2026-03-02") == ["ana"]
    monday, ana = date(2026, 3, 2), t.members["ana"].id
    with t.at("2026-03-05 10:00") as s:
        cohort, fay = s.merge(t.cohort), t.actor(s, "fay")
        for who in ("hid", "sam"):
            with pytest.raises(Invalid, match="may not be in the spotlight") as refused:
                edit_spotlight(s, fay, cohort, monday, [ana, t.members[who].id])
            assert refused.value.field == "member_ids"
        edit_spotlight(s, fay, cohort, monday, [ana])


def test_publishing_drops_who_left_or_hid_since_the_draft(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben", "cyd", "dee")
    t.join(BEFORE, "fay", role="facilitator")
    for who in ("ana", "ben", "cyd", "dee"):
        for day in (2, 3):
            t.post(f"2026-03-0{day} 10:00", who)
    assert week(t, "2026-03-02") == ["ana", "ben", "cyd"]  # the tick's draft (size 3)
    monday = date(2026, 3, 2)
    ids = {n: t.members[n].id for n in ("ana", "ben", "cyd", "dee")}
    with t.at("2026-03-05 10:00") as s:  # a facilitator's edit names all four
        fay = t.actor(s, "fay")
        edit_spotlight(s, fay, s.merge(t.cohort), monday, list(ids.values()), "Well done!")
    with t.at("2026-03-06 10:00") as s:  # then ben hides his badges and cyd becomes a sponsor
        s.merge(t.members["ben"]).badges_hidden = True
        s.merge(t.members["cyd"]).role = "sponsor"
    t.leave("2026-03-06 11:00", "dee")  # and dee leaves
    since, until = utc("2026-03-02 00:00"), utc("2026-03-06 16:00")  # Friday's highlights
    with t.at("2026-03-06 16:00") as s:
        lines = publish_spotlight(s, s.merge(t.cohort), RULE, since, until)
    assert lines[0].startswith("**Spotlight**: **Ana** (") and lines[1] == "Well done!"
    assert not any(n in " ".join(lines) for n in ("Ben", "Cyd", "Dee"))
    with store.read() as s:
        row = s.scalars(select(Spotlight).where(Spotlight.week == monday)).one()
    assert row.state == "published" and row.member_ids == [ids["ana"]]
    assert list(row.reasons) == [str(ids["ana"])]


T0 = datetime(2027, 2, 25, 12, tzinfo=UTC)
SPOTLIGHT = """
[badges.spotlight]
min_days = 2
min_contributions = 2
"""


def test_the_tick_awards_badges_drafts_the_spotlight_and_the_highlights_carry_it(
    store: Store,
) -> None:
    cohort, _ = apply_text(store, cohort_toml(extra=SPOTLIGHT), T0)
    with clock_at(T0), store.write() as s:
        c = s.merge(cohort)
        who = {
            n: add_member(s, SYSTEM, c, name=f"{n.title()} Doe", email=f"{n}@example.org",
                          role=r, username=n)
            for n, r in (("fay", "facilitator"), ("ana", "learner"), ("ben", "learner"))
        }  # fmt: skip
        s.flush()
        ids = {n: m.id for n, m in who.items()}
    for day in (1, 2):
        with clock_at(datetime(2027, 3, day, 10, tzinfo=UTC)), store.write() as s:
            for n in ("ana", "ben"):
                actor = Actor.of(s.get_one(Member, ids[n]))
                posts.create_post(s, actor, s.merge(cohort), "module-1/first-look", f"day {day}")
    at = datetime(2027, 3, 3, 12, tzinfo=UTC)
    with clock_at(at):
        [report] = run_tick(store, ["spring-26"], now=at)
    assert not report.errors, report.errors
    with store.read() as s:
        badges = set(s.execute(select(BadgeAward.member_id, BadgeAward.badge)))
        draft = s.scalars(select(Spotlight)).one()
    assert {(ids["ana"], "first-post"), (ids["ben"], "first-post")} <= badges
    assert draft.state == "draft" and sorted(draft.member_ids) == sorted([ids["ana"], ids["ben"]])
    with clock_at(at), store.write() as s:
        fay = Actor.of(s.get_one(Member, ids["fay"]))
        edit_spotlight(s, fay, s.merge(cohort), draft.week, [ids["ben"]], "Ben kept us going.")
    at = datetime(2027, 3, 5, 16, 1, tzinfo=UTC)
    with clock_at(at):
        run_tick(store, ["spring-26"], now=at)
    with store.read() as s:
        done = (CadenceItem.kind == "highlights", CadenceItem.state == "published")
        item = s.scalars(select(CadenceItem).where(*done)).one()
        body = s.get_one(Post, item.result["post_id"]).body_md
        sent = s.scalars(select(Spotlight).where(Spotlight.week == draft.week)).one()
        following = s.scalars(select(Spotlight).where(Spotlight.week != draft.week)).one()
    assert "**Spotlight**: **Ben Doe**" in body and "Ana Doe (" not in body
    assert "Ben kept us going." in body
    assert sent.state == "published" and sent.published_at is not None
    assert following.state == "draft"  # the next week's, drafted by the same tick
    with clock_at(at), store.write() as s:
        fay = Actor.of(s.get_one(Member, ids["fay"]))
        with pytest.raises(Conflict):
            edit_spotlight(s, fay, s.merge(cohort), sent.week, [ids["ana"]])


def test_a_champion_hosts_a_routine_and_a_new_plan_keeps_the_host(store: Store) -> None:
    from nbcohort.cohorts.services.champion_actions import host_routine

    cohort, _ = apply_text(store, cohort_toml(), T0)
    with clock_at(T0), store.write() as s:
        c = s.merge(cohort)
        for n, r in (("fay", "facilitator"), ("cyd", "champion")):
            add_member(s, SYSTEM, c, name=f"{n.title()} Doe", email=f"{n}@example.org",
                       role=r, username=n)  # fmt: skip
    key = "routine:friday-wins:2027-03-05"
    with clock_at(T0), store.write() as s:
        cyd = Actor.of(s.scalars(select(Member).where(Member.username == "cyd")).one())
        assert host_routine(s, cyd, s.merge(cohort), key)["host"] == "cyd"
    apply_text(store, cohort_toml(), T0 + timedelta(hours=1))  # the plan is synced again
    with store.read() as s:
        payload = s.scalar(select(CadenceItem.payload).where(CadenceItem.key == key))
    assert payload["host"] == "cyd"
    at = datetime(2027, 3, 5, 11, 1, tzinfo=UTC)  # Friday 12:01 in Berlin
    with clock_at(at):
        run_tick(store, ["spring-26"], now=at)
    with store.read() as s:
        item = s.scalars(select(CadenceItem).where(CadenceItem.key == key)).one()
        author = s.get_one(Post, item.result["post_id"]).author.username
    assert item.state == "published" and author == "cyd"
