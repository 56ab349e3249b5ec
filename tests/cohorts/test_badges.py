"""Badge rules over the activity log, through the real services on SQLite and PostgreSQL:
each rule awards once, backfills never award twice, revoking needs staff and a reason and
sticks, hidden badges are hidden from others, concurrent awarders never double-award."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from nbcohort.cohorts.badge_file import DEFAULT_RULES, BadgeRule
from nbcohort.cohorts.models import Activity, BadgeAward, Member
from nbcohort.cohorts.services import review_rounds, reviews
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.badge_awards import (
    list_badges,
    member_badges,
    revoke_badge,
    set_recognition_prefs,
)
from nbcohort.cohorts.services.badges import award_badges, award_if_due, longest_run
from nbcohort.cohorts.services.champions import appoint_champion
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.review_rounds import NewSubmission
from nbcohort.cohorts.store import Store
from tests.helpers.timeline import SYSTEM, Timeline, utc

BEFORE = "2026-02-25 12:00"


def awards(store: Store, cohort_id: int) -> set[tuple[str, str]]:
    with store.read() as s:
        return set(
            s.execute(
                select(Member.username, BadgeAward.badge)
                .join(Member, Member.id == BadgeAward.member_id)
                .where(Member.cohort_id == cohort_id)
            ).all()
        )


def award(t: Timeline, when: str, rules: list[BadgeRule] | None = None) -> dict[str, int]:
    with t.at(when) as s:
        return award_badges(s, s.merge(t.cohort), rules)


def test_each_rule_over_the_log_awards_its_badge_once(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben", "cyd")
    t.join(BEFORE, "fay", role="facilitator")
    question = t.post("2026-03-02 10:00", "ana", "how do I merge?")
    answer = t.post("2026-03-02 11:00", "ben", "use pd.merge", parent=question)
    t.react("2026-03-02 12:00", "ana", answer, "helpful")
    own = t.post("2026-03-02 12:30", "cyd", "my own reply", parent=question)
    t.react("2026-03-02 12:40", "cyd", own, "+1")  # cannot mark own reply helpful: +1 only
    artifact = t.share("2026-03-03 10:00", "ana")
    t.copy("2026-03-03 11:00", "ana", artifact)  # the author's own copy is no reuse
    t.practices("2026-03-03 11:30", ["merge"])
    t.apply("2026-03-03 12:00", "cyd", "merge")
    got = award(t, "2026-03-04 00:00")
    assert awards(store, t.cohort.id) == {
        ("ana", "first-post"),
        ("ben", "first-post"),
        ("cyd", "first-post"),
        ("ben", "helpful-reply"),
        ("ana", "first-artifact"),
        ("cyd", "applied"),
    }
    assert got["first-post"] == 3 and got["first-reuse"] == 0
    t.copy("2026-03-04 10:00", "ben", artifact)
    again = award(t, "2026-03-05 00:00")
    assert again == {**{k: 0 for k in again}, "first-reuse": 1}
    assert ("ana", "first-reuse") in awards(store, t.cohort.id)
    assert award(t, "2026-03-06 00:00") == {r.key: 0 for r in DEFAULT_RULES}
    with store.read() as s:  # every award is logged, once
        logged = s.scalar(
            select(func.count()).select_from(Activity).where(Activity.verb == "badge.award")
        )
    assert logged == len(awards(store, t.cohort.id)) == 7


def test_reviews_submitted_and_rated_helpful(store: Store) -> None:
    from nbcohort.cohorts.models import ReviewRound

    t = Timeline(store)
    t.join(BEFORE, "ana", "ben", "cyd")
    ids = {n: t.members[n].id for n in t.members}
    with t.at("2026-03-05 12:00") as s:
        review_rounds.create_round(
            s, SYSTEM, s.merge(t.cohort), assignment="project-2",
            criteria=[{"id": "q", "title": "Q", "levels": [{"points": 1}, {"points": 2}]}],
            settings={"required_comments": False, "results_after_own_reviews": False},
            reviewers=1, seed=1, due_at=utc("2026-03-12 12:00"), folder="",
            submissions=[NewSubmission(ids[n], f"{n}.ipynb") for n in ("ana", "ben", "cyd")],
            pairs=[(ids["ben"], 0, "peer", "p0"), (ids["cyd"], 1, "peer", "p1"),
                   (ids["ana"], 2, "peer", "p2")],
        )  # fmt: skip
    from nbcohort.cohorts.models import Allocation

    with store.read() as s:
        by_id = {v: k for k, v in ids.items()}
        alloc = {by_id[r]: a for r, a in s.execute(select(Allocation.reviewer_id, Allocation.id))}
    written = {}
    for who in ("ben", "cyd"):
        with t.at("2026-03-10 12:00") as s:
            written[who] = reviews.save_review(
                s, t.actor(s, who), s.merge(t.cohort), alloc[who], scores={"q": 2}, submit=True
            )["id"]
    with t.at("2026-03-13 12:00") as s:
        from nbcohort.cohorts.models import ReviewSubmission

        rnd = s.scalars(select(ReviewRound)).one()
        subs = s.scalars(select(ReviewSubmission.id)).all()
        review_rounds.close_round(s, SYSTEM, rnd, {i: {"q": 2.0} for i in subs})
    with t.at("2026-03-14 12:00") as s:  # ana rates ben's review 5, ben rates cyd's 2
        reviews.rate_review(s, t.actor(s, "ana"), s.merge(t.cohort), written["ben"], 5)
        reviews.rate_review(s, t.actor(s, "ben"), s.merge(t.cohort), written["cyd"], 2)
    one_helpful = BadgeRule(
        key="helpful-reviewer", title="Helpful reviewer", event="review_rated_helpful", count=1
    )
    rules = [r for r in DEFAULT_RULES if r.key != "helpful-reviewer"] + [one_helpful]
    award(t, "2026-03-15 00:00", rules)
    got = awards(store, t.cohort.id)
    assert {("ben", "first-review"), ("cyd", "first-review")} <= got
    assert ("ana", "first-review") not in got
    assert ("ben", "helpful-reviewer") in got and ("cyd", "helpful-reviewer") not in got


def test_a_four_week_streak_needs_four_weeks_running(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben")
    for day in ("2026-03-02", "2026-03-10", "2026-03-18", "2026-03-29"):  # Mon..Sun weeks
        t.post(f"{day} 12:00", "ana")
    for day in ("2026-03-02", "2026-03-10", "2026-03-24", "2026-03-31"):  # a week missed
        t.post(f"{day} 12:00", "ben")
    award(t, "2026-04-01 00:00")
    got = awards(store, t.cohort.id)
    assert ("ana", "streak-4") in got and ("ben", "streak-4") not in got


@given(st.lists(st.integers(min_value=0, max_value=60), max_size=30))
def test_longest_run_is_the_longest_run(weeks: list[int]) -> None:
    got = longest_run(weeks)
    present = set(weeks)
    assert got == max(
        (n for w in present for n in range(1, 62) if all(w + i in present for i in range(n))),
        default=0,
    )


def test_champions_get_their_badge_and_pilots_are_defined_for_later(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben")
    with t.at("2026-03-02 10:00") as s:
        appoint_champion(s, SYSTEM, s.merge(t.cohort), s.merge(t.members["ana"]))
    award(t, "2026-03-03 00:00")
    got = awards(store, t.cohort.id)
    assert ("ana", "champion") in got
    assert not any(b == "pilot-owner" for _, b in got)  # no pilots yet: nobody


def test_revoking_needs_staff_and_a_reason_and_a_backfill_does_not_undo_it(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben")
    t.join(BEFORE, "fay", role="facilitator")
    t.post("2026-03-02 10:00", "ana")
    award(t, "2026-03-02 11:00")
    ana = t.members["ana"].id
    with t.at("2026-03-02 12:00") as s:
        cohort = s.merge(t.cohort)
        with pytest.raises(Forbidden):
            revoke_badge(s, t.actor(s, "ben"), cohort, ana, "first-post", "spam")
        with pytest.raises(Forbidden):  # not even one's own
            revoke_badge(s, t.actor(s, "ana"), cohort, ana, "first-post", "oops")
        for reason in ("", "   ", None, 5, "x" * 501):
            with pytest.raises(Invalid) as bad:
                revoke_badge(s, t.actor(s, "fay"), cohort, ana, "first-post", reason)
            assert bad.value.field == "reason"
        with pytest.raises(NotFound) as missing:
            revoke_badge(s, t.actor(s, "fay"), cohort, ana, "first-artifact", "no")
        assert missing.value.field == "badge"
        revoke_badge(s, t.actor(s, "fay"), cohort, ana, "first-post", "posted for a bot")
    with t.at("2026-03-02 12:01") as s, pytest.raises(Conflict):
        revoke_badge(s, t.actor(s, "fay"), s.merge(t.cohort), ana, "first-post", "again")
    t.post("2026-03-02 13:00", "ana")
    assert award(t, "2026-03-02 14:00")["first-post"] == 0
    with store.read() as s:
        shown = list_badges(s, SYSTEM, s.merge(t.cohort))
        mine = member_badges(s, t.actor(s, "ana"), s.merge(t.cohort), ana)
        logged = s.scalars(select(Activity.data).where(Activity.verb == "badge.revoke")).all()
    assert ana not in shown
    assert mine["revoked"][0]["reason"] == "posted for a bot"
    assert logged == [{"member": ana, "badge": "first-post", "reason": "posted for a bot"}]


def test_revoking_in_another_cohort_finds_nothing(store: Store) -> None:
    t, other = Timeline(store), Timeline(store, slug="autumn")
    t.join(BEFORE, "ana")
    other.join(BEFORE, "oz", role="facilitator")
    t.post("2026-03-02 10:00", "ana")
    award(t, "2026-03-02 11:00")
    with other.at("2026-03-02 12:00") as s, pytest.raises(NotFound):
        revoke_badge(s, other.actor(s, "oz"), s.merge(t.cohort), t.members["ana"].id,
                     "first-post", "x")  # fmt: skip


def test_a_rule_added_or_changed_is_backfilled_without_awarding_twice(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben")
    for n in range(3):
        t.post(f"2026-03-02 1{n}:00", "ana")
    t.post("2026-03-02 10:30", "ben")
    three = BadgeRule(key="regular", title="Regular", event="post", count=3)
    assert award(t, "2026-03-03 00:00", [*DEFAULT_RULES, three])["regular"] == 1
    lowered = BadgeRule(key="regular", title="Regular", event="post", count=1)
    assert award(t, "2026-03-03 01:00", [*DEFAULT_RULES, lowered])["regular"] == 1  # ben now
    raised = BadgeRule(key="regular", title="Regular", event="post", count=10)
    assert award(t, "2026-03-03 02:00", [*DEFAULT_RULES, raised])["regular"] == 0
    assert {u for u, b in awards(store, t.cohort.id) if b == "regular"} == {"ana", "ben"}


def test_the_tick_step_evaluates_only_when_the_log_or_rules_changed(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana")
    t.post("2026-03-02 10:00", "ana")
    with t.at("2026-03-02 11:00") as s:
        assert award_if_due(s, s.merge(t.cohort))["first-post"] == 1
    with t.at("2026-03-02 11:01") as s:
        assert award_if_due(s, s.merge(t.cohort)) == {}  # nothing new in the log
    other = Timeline(store, slug="autumn")
    other.join(BEFORE, "oz")
    other.post("2026-03-02 11:02", "oz")
    with t.at("2026-03-02 11:03") as s:
        assert award_if_due(s, s.merge(t.cohort)) == {}  # another cohort's log is no news
    t.post("2026-03-02 12:00", "ana")
    with t.at("2026-03-02 12:01") as s:
        assert award_if_due(s, s.merge(t.cohort))["first-post"] == 0


def test_members_who_left_earn_nothing_new(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana")
    t.post("2026-03-02 10:00", "ana")
    t.leave("2026-03-02 11:00", "ana")
    award(t, "2026-03-02 12:00")
    assert awards(store, t.cohort.id) == set()


def test_hidden_badges_show_to_the_member_and_staff_only(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben")
    t.join(BEFORE, "fay", role="facilitator")
    t.post("2026-03-02 10:00", "ana")
    award(t, "2026-03-02 11:00")
    ana = t.members["ana"].id
    with t.at("2026-03-02 12:00") as s:
        with pytest.raises(Forbidden):
            set_recognition_prefs(s, t.actor(s, "ben"), s.merge(t.members["ana"]),
                                  badges_hidden=True)  # fmt: skip
        with pytest.raises(Invalid) as bad:
            set_recognition_prefs(s, t.actor(s, "ana"), s.merge(t.members["ana"]),
                                  badges_hidden="yes")  # type: ignore[arg-type]  # fmt: skip
        assert bad.value.field == "badges_hidden"
        set_recognition_prefs(s, t.actor(s, "ana"), s.merge(t.members["ana"]), badges_hidden=True)
    with store.read() as s:  # actors from the database: merging the old objects would undo it
        cohort = s.merge(t.cohort)
        who = {n: Actor.of(s.get_one(Member, m.id)) for n, m in t.members.items()}
        assert ana not in list_badges(s, who["ben"], cohort)
        assert list_badges(s, who["ana"], cohort)[ana][0]["hidden"] is True
        assert list_badges(s, who["fay"], cohort)[ana][0]["badge"] == "first-post"


def _concurrent(store: Store, cohort: Any, n: int = 3) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run() -> None:
        other = Store.open(store.url)
        try:
            barrier.wait(10)
            with other.write() as s:
                award_badges(s, s.merge(cohort))
        except BaseException as exc:
            errors.append(exc)
        finally:
            other.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return errors


def test_concurrent_awarders_never_award_twice(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "ana", "ben", "cyd")
    for who in ("ana", "ben", "cyd"):
        t.post("2026-03-02 10:00", who)
    assert _concurrent(store, t.cohort) == []
    with store.read() as s:
        rows = s.scalars(select(BadgeAward.member_id).where(BadgeAward.badge == "first-post"))
        logged = s.scalar(
            select(func.count()).select_from(Activity).where(Activity.verb == "badge.award")
        )
    assert sorted(rows) == sorted(m.id for m in t.members.values())
    assert logged == 3  # each award logged by the one awarder that made it


_EVENTS = st.lists(
    st.tuples(st.sampled_from(["ana", "ben", "cyd"]), st.sampled_from(["post", "share", "apply"])),
    max_size=12,
)
_counter = iter(range(10**6))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=_EVENTS, threshold=st.integers(min_value=1, max_value=3))
def test_awards_are_exactly_who_qualifies_and_backfill_is_idempotent(
    store: Store, events: list[tuple[str, str]], threshold: int
) -> None:
    t = Timeline(store, slug=f"h{next(_counter)}")
    t.join(BEFORE, "ana", "ben", "cyd")
    t.practices("2026-03-01 00:00", ["p0", "p1", "p2", "p3", "p4", "p5"])
    made: dict[str, int] = {}
    for n, (who, what) in enumerate(events):
        when = f"2026-03-02 10:{n:02d}"
        if what == "post":
            t.post(when, who)
        elif what == "share":
            t.share(when, who)
        else:
            t.apply(when, who, f"p{made.get(who, 0) % 6}")
        made[who] = made.get(who, 0) + (what == "apply")
    rule = BadgeRule(key="busy", title="Busy", event="post", count=threshold)
    first = award(t, "2026-03-03 00:00", [*DEFAULT_RULES, rule])
    second = award(t, "2026-03-03 01:00", [*DEFAULT_RULES, rule])
    assert set(second.values()) <= {0}
    posts = {w: sum(1 for who, what in events if who == w and what == "post") for w in made}
    expected = {w for w, n in posts.items() if n >= threshold}
    got = awards(store, t.cohort.id)
    assert {u for u, b in got if b == "busy"} == expected
    assert {u for u, b in got if b == "first-artifact"} == {w for w, x in events if x == "share"}
    assert sum(first.values()) == len(got)
