"""The cadence engine on real databases (SQLite file and PostgreSQL): the plan a cohort file
makes, publishing each item exactly once (ticks at the same moment, a clock that goes back,
daylight saving around a routine's time), highlights and clinics."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.config import CadenceSettings
from nbcohort.cohorts.models import (
    Activity,
    CadenceItem,
    Event,
    Member,
    Notification,
    Post,
    Prompt,
    Thread,
    clock_at,
)
from nbcohort.cohorts.services import artifacts, posts, practices
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cadence_tick import run_tick
from nbcohort.cohorts.services.calendar import set_signup, upcoming_events
from nbcohort.cohorts.services.errors import Forbidden
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from tests.helpers.community import SYSTEM
from tests.helpers.rhythm import apply_text, cohort_toml

T0 = datetime(2027, 2, 25, 12, tzinfo=UTC)  # before the cohort starts (Mon 1 March 2027)
COURSE = {f"day-{n}": f"Course question {n}?" for n in range(1, 6)}


def people(store: Store, cohort_id: int, at: datetime = T0) -> dict[str, Member]:
    from nbcohort.cohorts.models import Cohort

    out = {}
    with clock_at(at), store.write() as s:
        cohort = s.get_one(Cohort, cohort_id)
        for username, role in [("fay", "facilitator"), ("chi", "champion"), ("ana", "learner"),
                               ("ben", "learner")]:  # fmt: skip
            out[username] = add_member(s, SYSTEM, cohort, name=f"{username.title()} Doe",
                                       email=f"{username}@example.org", role=role,
                                       username=username)  # fmt: skip
    return out


def tick(store: Store, at: datetime, **kw):
    with clock_at(at):
        return run_tick(store, ["spring-26"], now=at, **kw)


def published(store: Store, kind: str | None = None) -> list[CadenceItem]:
    with store.read() as s:
        q = select(CadenceItem).where(CadenceItem.state == "published")
        if kind:
            q = q.where(CadenceItem.kind == kind)
        return list(s.scalars(q.order_by(CadenceItem.due_at)))


def test_apply_plans_the_cohort_and_again_changes_nothing(store):
    text = cohort_toml()
    _cohort, first = apply_text(store, text, T0, COURSE)
    assert first.created and first.plan.added > 30
    with store.read() as s:
        keys = set(s.scalars(select(CadenceItem.key)))
        prompts = {p.key: p.opens_at for p in s.scalars(select(Prompt))}
        events = {e.key: e for e in s.scalars(select(Event))}
    assert {"prompt:2027-03-01", "routine:top-tip:2027-03-02", "highlights:2027-03-05",
            "clinic:2027-03", "routine:friday-wins:2027-03-05"} <= keys  # fmt: skip
    assert "highlights:2027-03-01" not in keys  # no highlights before a week has begun
    assert all(opens is None for opens in prompts.values())  # the cadence opens them
    assert events["clinic:2027-03"].starts_at == datetime(2027, 3, 18, 16, tzinfo=UTC)
    assert events["routine:top-tip"].rrule == "FREQ=WEEKLY;BYDAY=TU"
    _, again = apply_text(store, text, T0 + timedelta(hours=1), COURSE)
    assert not again.created and again.changed == []
    assert (again.plan.added, again.plan.updated, again.plan.removed) == (0, 0, 0)
    # A routine moved to another time: its planned items follow; removed: they go.
    _, moved = apply_text(store, cohort_toml(routine_time="11:00"), T0, COURSE)
    assert moved.plan.updated == 5 and moved.changed == ["rhythm"]
    with store.read() as s:
        due = s.scalar(select(CadenceItem.due_at).where(
            CadenceItem.key == "routine:top-tip:2027-03-02"))  # fmt: skip
    assert due == datetime(2027, 3, 2, 10, tzinfo=UTC)  # 11:00 in Berlin (CET)


def test_each_item_is_published_once_and_a_clock_that_goes_back_changes_nothing(store):
    cohort, _ = apply_text(store, cohort_toml(), T0, COURSE)
    who = people(store, cohort.id)
    at = datetime(2027, 2, 28, 16, 5, tzinfo=UTC)
    while at <= datetime(2027, 3, 5, 16, 5, tzinfo=UTC):  # until Friday after the highlights
        [report] = tick(store, at)
        assert report.errors == []
        at += timedelta(hours=6)
    at -= timedelta(hours=6)
    kinds = Counter(item.kind for item in published(store))
    assert kinds == {"prompt": 5, "routine": 2, "highlights": 1}  # the clinic opens on 11 March
    tick(store, at)  # again
    tick(store, at - timedelta(hours=30))  # the clock went back
    assert Counter(item.kind for item in published(store)) == kinds
    with store.read() as s:
        opened = dict(s.execute(select(Prompt.key, Prompt.opens_at)).all())
        logged = Counter(s.scalars(select(Activity.data["key"].as_string()).where(
            Activity.verb == "cadence.published")))  # fmt: skip
        tip = s.scalar(select(Post).join(Thread).where(Thread.anchor == "topic/top-tip"))
    assert opened["day-1"] == datetime(2027, 3, 1, 7, 30, tzinfo=UTC)  # 08:30 Berlin
    assert opened["day-5"] == datetime(2027, 3, 5, 7, 30, tzinfo=UTC)
    assert max(logged.values()) == 1 and len(logged) == 8
    assert tip.author_id == who["chi"].id  # the champion hosts it
    assert tip.body_md == "Top tips, week 1, hosted by Chi Doe."


def test_two_ticks_at_the_same_moment_publish_each_item_once(store):
    cohort, _ = apply_text(store, cohort_toml(), T0, COURSE)
    people(store, cohort.id)
    at = datetime(2027, 3, 20, 12, tzinfo=UTC)  # three weeks of items due at once
    stores = [Store.open(store.url) for _ in range(3)]
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def run(other: Store) -> None:
        try:
            barrier.wait(10)
            for report in tick(other, at, settings=CadenceSettings(max_lateness_hours=1000)):
                errors.extend(RuntimeError(e) for e in report.errors)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for s in stores:
        s.close()
    assert errors == []
    items = published(store)
    with store.read() as s:
        logged = Counter(s.scalars(select(Activity.data["key"].as_string()).where(
            Activity.verb == "cadence.published")))  # fmt: skip
        posts_by_key = Counter(s.scalars(select(Post.request_key).where(
            Post.request_key.like("cadence-%"))))  # fmt: skip
    assert len(items) == len(logged) > 20
    assert set(logged.values()) == {1} and set(posts_by_key.values()) == {1}
    routines = [i for i in items if i.kind in ("routine", "highlights", "clinic")]
    assert len(posts_by_key) == len(routines)


def test_a_routine_stays_at_its_local_time_across_daylight_saving(store):
    # Tuesdays 09:00 in Berlin: CET until 28 March 2027, CEST after.
    cohort, _ = apply_text(store, cohort_toml(routine_time="09:00"), T0)
    people(store, cohort.id)
    at = datetime(2027, 3, 23, 7, 59, tzinfo=UTC)
    tick(store, at)
    assert "routine:top-tip:2027-03-23" not in {i.key for i in published(store, "routine")}
    tick(store, at + timedelta(minutes=1))
    tick(store, datetime(2027, 3, 30, 6, 59, tzinfo=UTC))
    assert "routine:top-tip:2027-03-30" not in {i.key for i in published(store, "routine")}
    tick(store, datetime(2027, 3, 30, 7, 0, tzinfo=UTC))
    due = {i.key: i.due_at for i in published(store, "routine")}
    assert due["routine:top-tip:2027-03-23"] == datetime(2027, 3, 23, 8, tzinfo=UTC)
    assert due["routine:top-tip:2027-03-30"] == datetime(2027, 3, 30, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # 02:30 does not exist on Sunday 28 March 2027 (02:00 -> 03:00): 01:30 UTC, once.
        ("2027-03-28", datetime(2027, 3, 28, 1, 30, tzinfo=UTC)),
        # 02:30 happens twice on Sunday 31 October 2027 (03:00 -> 02:00): the first, once.
        ("2027-10-31", datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
    ],
)
def test_a_routine_in_the_hour_daylight_saving_skips_or_repeats(store, day, expected):
    start = datetime.fromisoformat(day).replace(tzinfo=UTC) - timedelta(days=6)
    text = cohort_toml(starts_on=start.date().isoformat(), routine_day="sunday",
                       routine_time="02:30", steps=False)  # fmt: skip
    cohort, _ = apply_text(store, text, start - timedelta(days=1))
    people(store, cohort.id, start - timedelta(days=1))
    at = datetime.fromisoformat(day).replace(tzinfo=UTC) - timedelta(hours=2)
    end = at + timedelta(hours=5)
    while at <= end:  # every ten minutes through the night, local clock going back included
        tick(store, at, settings=CadenceSettings(horizon_days=3))
        at += timedelta(minutes=10)
    sunday = [i for i in published(store, "routine") if i.key == f"routine:top-tip:{day}"]
    assert len(sunday) == 1 and sunday[0].due_at == expected
    assert sunday[0].published_at is not None
    assert expected <= sunday[0].published_at < expected + timedelta(minutes=10)
    with store.read() as s:
        n = s.scalar(select(func.count()).select_from(Post).join(Thread).where(
            Thread.anchor == "topic/top-tip"))  # fmt: skip
    assert n == 1


def test_late_routines_are_missed_but_prompts_still_open(store):
    cohort, _ = apply_text(store, cohort_toml(), T0, COURSE)
    people(store, cohort.id)
    tick(store, datetime(2027, 3, 4, 8, tzinfo=UTC))  # Tuesday's routine is 46 hours late
    with store.read() as s:
        state = dict(s.execute(select(CadenceItem.key, CadenceItem.state)).all())
    assert state["routine:top-tip:2027-03-02"] == "missed"
    assert state["prompt:2027-03-02"] == "published"


def test_nobody_to_post_as_waits_without_losing_the_item(store):
    cohort, _ = apply_text(store, cohort_toml(), T0)
    at = datetime(2027, 3, 2, 9, 5, tzinfo=UTC)
    [report] = tick(store, at)
    assert "waiting" in dict(report.steps)["publish"]
    with store.read() as s:
        assert s.scalar(select(CadenceItem.state).where(
            CadenceItem.key == "routine:top-tip:2027-03-02")) == "planned"  # fmt: skip
    people(store, cohort.id)
    tick(store, at + timedelta(minutes=1))
    assert "routine:top-tip:2027-03-02" in {i.key for i in published(store)}


def test_weekly_highlights_are_the_weeks_most_helpful_posts(store):
    cohort, _ = apply_text(store, cohort_toml(), T0)
    who = people(store, cohort.id)
    ana, ben, chi = (Actor.of(who[n]) for n in ("ana", "ben", "chi"))
    with clock_at(datetime(2027, 3, 3, 10, tzinfo=UTC)), store.write() as s:
        asked = posts.create_post(
            s, ana, cohort, "module-1/first-look", "Why **object** dtype? @ben"
        )
        quiet = posts.create_post(s, ben, cohort, "module-1/first-look", "Nobody reacts to me")
        s.flush()
        posts.create_post(s, ben, cohort, "module-1/first-look", "Try to_numeric",
                          parent_id=asked.id)  # fmt: skip
        posts.react(s, chi, asked.id, "helpful")
        posts.react(s, ana, asked.id, "helpful")  # one's own reaction does not count
        artifacts.share_artifact(s, chi, cohort, filename="tips.py", content=b"print(1)\n",
                                 title="Chi's tips")  # fmt: skip
        practices.sync_practices(s, SYSTEM, cohort, {"read-csv": "Read a CSV with options"})
        practices.mark_applied(s, ana, cohort, "read-csv", "on the ledger")
    with store.read() as s:
        before = s.scalar(select(func.count()).where(Notification.kind != "onboarding"))
    tick(store, datetime(2027, 3, 5, 16, 1, tzinfo=UTC))
    [item] = published(store, "highlights")
    assert item.result["posts"] == [asked.id] and quiet.id not in item.result["posts"]
    assert (item.result["artifacts"], item.result["applied"]) == (1, 1)
    with store.read() as s:
        post = s.get_one(Post, item.result["post_id"])
        after = s.scalar(select(func.count()).where(Notification.kind != "onboarding"))
    assert "Highlights of the week" in post.body_md and "Ana Doe" in post.body_md
    assert "1 reaction, 1 reply" in post.body_md and "Chi's tips" in post.body_md
    assert "Read a CSV with options (1)" in post.body_md
    assert after == before  # quoting "@ben" notifies nobody again


def test_the_clinic_is_an_event_with_sign_ups_and_a_question_thread(store):
    cohort, _ = apply_text(store, cohort_toml(), T0)
    who = people(store, cohort.id)
    ana = Actor.of(who["ana"])
    with clock_at(datetime(2027, 3, 2, tzinfo=UTC)), store.read() as s:
        [clinic] = [e for e in upcoming_events(s, ana, cohort, 30) if e["kind"] == "clinic"]
    assert clinic["local"] == "Thu 18 Mar 16:00 UTC" and clinic["anchor"] is None  # Ana's zone
    tokyo = Actor(ana.member_id, cohort.id, "learner", timezone="Asia/Tokyo")
    with clock_at(datetime(2027, 3, 2, tzinfo=UTC)), store.read() as s:
        seen = [e["local"] for e in upcoming_events(s, tokyo, cohort, 30) if e["kind"] == "clinic"]
    assert seen == ["Fri 19 Mar 01:00 JST"]
    with clock_at(datetime(2027, 3, 2, tzinfo=UTC)), store.write() as s:
        assert set_signup(s, ana, cohort, clinic["id"], True)["signups"] == 1
        assert set_signup(s, ana, cohort, clinic["id"], True)["signups"] == 1  # again: no-op
        routine = s.scalar(select(Event.id).where(Event.kind == "routine"))
        with pytest.raises(Forbidden):
            set_signup(s, ana, cohort, routine, True)
    tick(store, datetime(2027, 3, 11, 16, 1, tzinfo=UTC))  # a week before: the thread opens
    [item] = published(store, "clinic")
    with store.read() as s:
        event = s.get_one(Event, clinic["id"])
        intro = s.get_one(Post, item.result["post_id"])
    assert event.anchor == "topic/clinic-2027-03" == item.result["anchor"]
    assert "Thu 18 Mar 17:00 CET" in intro.body_md
