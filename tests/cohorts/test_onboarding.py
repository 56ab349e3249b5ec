"""The onboarding sequence on real databases: each member on their own clock, steps already
done skipped, the sequence stopped for contributors, each step notified once; and the
charter's versions and acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from nbcohort.cohorts.models import (
    Cohort,
    Member,
    Notification,
    OnboardingStep,
    clock_at,
)
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cadence_tick import run_tick
from nbcohort.cohorts.services.charter import (
    ack_charter,
    charter_view,
    new_charter,
    publish_charter,
)
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.services.onboarding import mark_step_done, onboarding_status
from nbcohort.cohorts.services.rhythm import rhythm_of
from tests.helpers.community import SYSTEM
from tests.helpers.rhythm import apply_text, cohort_toml

T0 = datetime(2027, 2, 25, 12, tzinfo=UTC)
START = datetime(2027, 3, 1, 8, tzinfo=UTC)  # 09:00 in Berlin on the first day


def member(store, cohort_id, username, at, role="learner", tz="UTC") -> Member:
    with clock_at(at), store.write() as s:
        return add_member(s, SYSTEM, s.get_one(Cohort, cohort_id), name=f"{username.title()} Roe",
                          email=f"{username}@example.org", role=role, username=username,
                          timezone=tz)  # fmt: skip


def run_days(store, start, end, step=timedelta(hours=1)):
    at = start
    while at <= end:
        with clock_at(at):
            for report in run_tick(store, ["spring-26"], now=at):
                assert report.errors == []
        at += step


def notified(store, member_id) -> list[tuple[str, datetime]]:
    with store.read() as s:
        rows = s.execute(
            select(Notification.data, Notification.created_at)
            .where(Notification.member_id == member_id, Notification.kind == "onboarding")
            .order_by(Notification.id)
        ).all()
    return [(data["step"], at) for data, at in rows]


def states(store, member_id) -> dict[str, str]:
    with store.read() as s:
        rows = s.execute(
            select(OnboardingStep.step, OnboardingStep.state).where(
                OnboardingStep.member_id == member_id
            )
        ).all()
    return dict(rows)


def test_each_member_runs_the_sequence_on_their_own_clock(store):
    cohort, _ = apply_text(store, cohort_toml(), T0)
    member(store, cohort.id, "fay", T0, role="facilitator")
    early = member(store, cohort.id, "ana", T0, tz="America/New_York")
    late = member(store, cohort.id, "lea", datetime(2027, 3, 10, 15, 20, tzinfo=UTC))
    run_days(store, T0, datetime(2027, 3, 26, tzinfo=UTC))
    got = notified(store, early.id)
    assert [step for step, _ in got] == ["welcome", "first-task", "introduce", "help-a-peer",
                                         "share", "check-in"]  # fmt: skip
    # Day 0 when the cohort starts; later days at 09:00 in Ana's own zone (New York, EST/EDT).
    assert got[0][1] == START
    assert got[1][1] == datetime(2027, 3, 3, 14, tzinfo=UTC)  # 09:00 EST
    assert got[5][1] == datetime(2027, 3, 15, 13, tzinfo=UTC)  # 09:00 EDT after 14 March
    lea = notified(store, late.id)
    assert lea[0] == ("welcome", datetime(2027, 3, 10, 16, tzinfo=UTC))  # at once (next tick)
    assert lea[1][1] == datetime(2027, 3, 12, 9, tzinfo=UTC)  # her day 2, 09:00 UTC
    assert len(lea) == 6
    assert notified(store, 1) == []  # staff are not onboarded
    with store.read() as s:
        [data] = s.scalars(select(Notification.data).where(
            Notification.member_id == early.id, Notification.data["step"].as_string() == "check-in"
        )).all()  # fmt: skip
    assert data == {"step": "check-in", "day": 14, "title": "Check-in",
                    "text": "Ana, how is it going?", "link": "", "action": "none"}  # fmt: skip


def test_steps_already_done_are_skipped_and_contributors_stop(store):
    cohort, _ = apply_text(store, cohort_toml(), T0)
    member(store, cohort.id, "fay", T0, role="facilitator")
    ana = member(store, cohort.id, "ana", T0)
    ben = member(store, cohort.id, "ben", T0)
    with clock_at(START + timedelta(hours=3)), store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        posts.create_post(s, Actor.of(ana), c, "module-1/first-look", "Surprised by dtypes")
    run_days(store, T0, START + timedelta(days=5))
    assert states(store, ana.id)["first-task"] == "skipped"  # done before it came
    assert [s for s, _ in notified(store, ana.id)] == ["welcome", "introduce"]
    # Ben posts three times (a contributor): nothing more is sent to him.
    with clock_at(START + timedelta(days=5, hours=1)), store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        for n in range(3):
            posts.create_post(s, Actor.of(ben), c, "topic/general", f"Tip {n}")
    run_days(store, START + timedelta(days=5), START + timedelta(days=16))
    assert [s for s, _ in notified(store, ben.id)] == ["welcome", "first-task", "introduce"]
    assert set(states(store, ben.id).values()) == {"sent", "stopped"}
    assert len(notified(store, ana.id)) == 5  # all but the one she had done
    with clock_at(START + timedelta(days=16)), store.read() as s:
        status = onboarding_status(s, Actor.of(ben), s.get_one(Cohort, cohort.id))
    assert status["contributor"] and status["next"] is None


def test_a_member_marks_a_step_done_and_sees_what_is_next(store):
    cohort, _ = apply_text(store, cohort_toml(), T0)
    ana = member(store, cohort.id, "ana", T0, tz="Asia/Tokyo")
    actor = Actor.of(ana)
    with clock_at(START + timedelta(days=2, hours=1)), store.read() as s:
        status = onboarding_status(s, actor, s.get_one(Cohort, cohort.id))
    assert status["active"] and status["next"]["step"] == "welcome"
    assert [x["status"] for x in status["steps"]][:3] == ["todo", "todo", "upcoming"]
    assert status["steps"][2]["due_local"] == "Fri 5 Mar 09:00 JST"
    with clock_at(START + timedelta(days=2, hours=1)), store.write() as s:
        status = mark_step_done(s, actor, s.get_one(Cohort, cohort.id), "welcome")
        assert status["steps"][0]["status"] == "done" and status["next"]["step"] == "first-task"
        with pytest.raises(NotFound):
            mark_step_done(s, actor, s.get_one(Cohort, cohort.id), "nope")


def test_the_charter_is_versioned_diffed_and_acknowledged(store):
    cohort, _ = apply_text(store, cohort_toml(), T0)
    fay = member(store, cohort.id, "fay", T0, role="facilitator")
    ana = member(store, cohort.id, "ana", T0)
    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        body = new_charter(s, c, rhythm_of(c), "Practical data analysis with pandas")
        for part in ("Purpose", "Who belongs", "Roles", "Cadence", "Norms", "pilot",
                     "Top Tip Tuesday", "Fay Roe", "safe to ask"):  # fmt: skip
            assert part in body, part
        assert 450 < len(body.split()) < 1100  # two pages
        with pytest.raises(Forbidden):
            publish_charter(s, Actor.of(ana), c, body)
        assert publish_charter(s, Actor.of(fay), c, body).version == 1
        with pytest.raises(Conflict):
            ack_charter(s, Actor.of(ana), c, 2)
        view = ack_charter(s, Actor.of(ana), c, 1)
        assert view["acked_version"] == 1 and not view["needs_ack"]
        with pytest.raises(Conflict):
            publish_charter(s, SYSTEM, c, body, "no change")
        with pytest.raises(Invalid):
            publish_charter(s, SYSTEM, c, body + "\nMore.", "")
        publish_charter(s, SYSTEM, c, body.replace("No question is too small", "Ask anything"),
                        "Norm 1 in plainer words")  # fmt: skip
        view = charter_view(s, Actor.of(ana), c)
    assert view["version"] == 2 and view["needs_ack"] and view["acked_version"] == 1
    assert view["changes"] == [{"version": 2, "note": "Norm 1 in plainer words",
                                "published_at": view["changes"][0]["published_at"]}]  # fmt: skip
    assert "-1. **No question is too small.**" in view["diff"]
    assert "+1. **Ask anything.**" in view["diff"]
    assert "<h1>" in view["html"] and "<script" not in view["html"]
    # The onboarding's charter step counts the current version only.
    with clock_at(START + timedelta(hours=1)), store.read() as s:
        status = onboarding_status(s, Actor.of(ana), s.get_one(Cohort, cohort.id))
    assert status["steps"][0]["status"] == "todo"


def test_steps_long_overdue_are_not_sent_late(store):
    """The tick was down for six days: what is more than two days overdue is not sent then."""
    cohort, _ = apply_text(store, cohort_toml(), T0)
    ana = member(store, cohort.id, "ana", T0)
    run_days(store, START, START + timedelta(hours=1))
    run_days(store, START + timedelta(days=6, hours=4), START + timedelta(days=8))
    assert [s for s, _ in notified(store, ana.id)] == ["welcome", "help-a-peer"]
    late = states(store, ana.id)
    assert late.get("first-task", "missed") == late.get("introduce", "missed") == "missed"
