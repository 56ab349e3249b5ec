"""Each metric on a small cohort written through the services layer on a moving clock, with
the expected number computed by hand in the test (the arithmetic is in the comments).

The cohort lives in America/New_York unless a test says otherwise: its weeks start on
Monday at 00:00 there, i.e. 2026-03-02 05:00 UTC, then (daylight saving time from Sunday
2026-03-08) 2026-03-09 04:00 UTC, 2026-03-16 04:00 UTC, 2026-03-23 04:00 UTC, ...
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pytest

from nbcohort.cohorts.metrics import METRIC_IDS
from nbcohort.cohorts.models import OnboardingStep
from nbcohort.cohorts.store import Store
from tests.helpers.timeline import Timeline, utc

BEFORE = "2026-02-25 12:00"  # members join before the cohort starts on 2026-03-02


def series(metric: Any) -> list[tuple[str, float | None]]:
    return [(p.week, p.value) for p in metric.series]


def numbers(tree: Any) -> list[float]:
    if isinstance(tree, dict):
        return [n for v in tree.values() for n in numbers(v)]
    if isinstance(tree, list):
        return [n for v in tree for n in numbers(v)]
    return [tree] if isinstance(tree, float) else []


def test_participation_by_the_cohorts_weeks(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "a", "b", "c", "d", "e", "x")
    t.join(BEFORE, "h", role="champion")
    t.join(BEFORE, "fay", role="facilitator")
    t.join(BEFORE, "sam", role="sponsor")
    t.join("2026-03-11 12:00", "g")  # a late joiner
    pa = t.post("2026-03-03 15:00", "a")
    t.post("2026-03-03 16:00", "fay")  # staff: not counted
    t.post("2026-03-04 10:00", "x")
    t.leave("2026-03-05 12:00", "x")  # a member who left
    pb = t.post("2026-03-09 03:30", "b")  # Sunday 23:30 in New York: still week 1
    t.post("2026-03-10 03:30", "h", parent=pb)
    t.post("2026-03-10 15:00", "h", parent=pa)
    t.share("2026-03-10 16:00", "h")
    t.read("2026-03-11 09:00", "c")
    t.react("2026-03-11 10:00", "d", pa)
    m = t.metrics("2026-03-16 12:00")  # Monday of week 3, 8 hours in

    # Members of the window: a b c d e x h g = 8 (x left inside it, g joined inside it).
    # Contributors: a, x, b (posts), h (replies, artifact) = 4 -> 50 %.
    active = m["active_contributors"]
    assert (active.value, active.numerator, active.denominator) == (50.0, 4, 8)
    # Week 1 (03-02 05:00Z..03-09 04:00Z): a b c d e x h = 7 members; a, x, b -> 3/7.
    # Week 2: a b c d e h g = 7 (x gone); h -> 1/7. Week 3: 7, nobody yet -> 0/7.
    assert series(active) == [("2026-03-02", 42.9), ("2026-03-09", 14.3), ("2026-03-16", 0.0)]
    assert [p.partial for p in active.series] == [False, False, True]
    assert active.window.days == 28 and "learner, champion, alumni" in active.formula

    # Posts by counted members in the window: a, x, b, h, h = 5; 5 / 8 * 30 / 28 = 0.67.
    ppm = m["posts_per_member_month"]
    assert (ppm.value, ppm.numerator, ppm.denominator) == (0.67, 5, 8)
    # Week 1 lasts 167 hours (clocks went forward): 3 / 7 * 30 / (167 / 24) = 1.85;
    # week 2: 2 / 7 * 30 / 7 = 1.22; week 3: no post in its first 8 hours.
    assert series(ppm) == [("2026-03-02", 1.85), ("2026-03-09", 1.22), ("2026-03-16", 0.0)]

    # Readers: a x b h (contributors) + d (reacted) + c (read) = 6; reactors 5;
    # contributors 4; champion: h replied to posts of 2 other members. Only c, e and g
    # neither reacted nor contributed: 3 < 5, so how many of them read is withheld, and
    # contributors / readers with it.
    funnel = m["contributor_funnel"]
    assert funnel.value is None and (funnel.numerator, funnel.denominator) == (4, None)
    assert funnel.detail == {
        "members": 8, "reader": None, "reactor": 5, "contributor": 4, "champion": 1,
    }  # fmt: skip
    assert "Reads are withheld" in funnel.summary and "5 reacted" in funnel.summary
    week2 = funnel.series[1]
    assert week2.detail == {"members": 7, "reader": 3, "reactor": 2, "contributor": 1,
                            "champion": 1} and week2.value == 33.3  # fmt: skip


def test_newcomer_conversion(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "a", "b", "c")  # before the start: their 14 days run from 03-02 05:00Z
    t.join("2026-03-05 12:00", "d", "e")  # 14 days to 03-19 12:00Z
    t.join("2026-03-20 12:00", "f")  # 14 days to 04-03: not over at "now"
    t.post("2026-03-10 12:00", "a")  # in time
    t.post("2026-03-17 12:00", "b")  # a day late
    t.share("2026-03-06 12:00", "d")  # in time
    t.post("2026-03-19 12:30", "e")  # 30 minutes late
    t.post("2026-03-21 12:00", "f")
    m = t.metrics("2026-03-30 12:00")
    # Newcomers whose 14 days ended in the window: a b c d e; converted: a, d -> 2/5.
    got = m["newcomer_conversion"]
    assert (got.value, got.numerator, got.denominator) == (40.0, 2, 5)
    # All five deadlines fall in the week of 03-16 (03-16 04:00Z..03-23 04:00Z).
    assert dict(series(got))["2026-03-16"] == 40.0
    assert dict(series(got))["2026-03-09"] is None
    week = t.metrics("2026-03-30 12:00", days=7)["newcomer_conversion"]
    assert week.value is None and week.summary == (
        "No member's first 14 days ended in the last 7 days."
    )


def test_time_to_first_reply_and_unanswered_posts(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "a", "b", "c", "d")
    t.join(BEFORE, "fay", role="facilitator")
    t.prompts(BEFORE, {"day-1": "What did you load today?"})
    pa = t.post("2026-03-03 10:00", "a")
    t.post("2026-03-03 10:30", "a", parent=pa)  # one's own reply is no answer
    t.post("2026-03-03 12:00", "b", parent=pa)  # 2 h
    pb = t.post("2026-03-04 10:00", "b")
    t.post("2026-03-05 10:00", "fay", parent=pb)  # 24 h: staff answers count
    pc = t.post("2026-03-05 10:00", "c")
    t.post("2026-03-08 10:00", "d", parent=pc)  # 72 h: answered, but late
    t.post("2026-03-06 10:00", "d")  # never answered
    gone = t.post("2026-03-07 10:00", "c")
    t.delete("2026-03-07 11:00", "c", gone)  # deleted: no conversation
    t.answer("2026-03-03 09:00", "b", "day-1")  # a prompt answer: no conversation
    t.post("2026-03-14 10:00", "a")  # 26 h old at "now": too young to be unanswered
    m = t.metrics("2026-03-15 12:00", min_group=3)
    # Answered conversations: 2, 24, 72 h -> median 24; quartiles 13 and 48 (linear).
    reply = m["time_to_first_reply"]
    assert (reply.value, reply.denominator) == (24.0, 3)
    assert reply.detail == {"median": 24.0, "p25": 13.0, "p75": 48.0, "answered": 3,
                            "within_24_hours": 66.7}  # fmt: skip
    # At least 48 h old: pa pb pc pd; no reply within 48 h: pc (72 h), pd (none) -> 2/4.
    late = m["unanswered_posts"]
    assert (late.value, late.numerator, late.denominator) == (50.0, 2, 4)
    assert late.detail == {"still_unanswered": 1}
    # Four authors: fewer than the default five, so both are withheld.
    default = t.metrics("2026-03-15 12:00")
    for key in ("time_to_first_reply", "unanswered_posts"):
        assert default[key].value is None and default[key].numerator is None
        assert "fewer than 5 members (4)" in (default[key].withheld or "")


def test_artifact_reuse_rate_counts_reusers_from_the_table(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "a", "b", "c", "d", "e")
    t.join(BEFORE, "fay", role="facilitator")
    a1 = t.share("2026-03-03 12:00", "a")
    a2 = t.share("2026-03-04 12:00", "b")
    a3 = t.share("2026-03-10 12:00", "c")
    a4 = t.share("2026-03-11 12:00", "d")
    t.share("2026-03-12 12:00", "e", title='<script>alert("x")</script>')
    for day in ("05", "06", "07"):
        t.copy(f"2026-03-{day} 12:00", "b", a1)  # three copies: one reuse
    t.copy("2026-03-08 12:00", "a", a1)  # the author's own copy: none
    t.copy("2026-03-12 12:00", "fay", a3)  # anyone else counts
    t.copy("2026-03-17 12:00", "c", a2)
    with store.engine.begin() as conn:  # an older log repeated reuses; the table did not
        for _ in range(3):
            conn.exec_driver_sql(
                "INSERT INTO activity (cohort_id, member_id, verb, object_type, object_id, "
                f"data, at) VALUES ({t.cohort.id}, {t.members['b'].id}, 'artifact.reuse', "
                f"'artifact', {a4}, '{{}}', '2026-03-13 12:00:00')"
            )
    m = t.metrics("2026-03-18 12:00")
    got = m["artifact_reuse_rate"]
    # Five artifacts; reused by someone else: a1 (b), a3 (fay), a2 (c) -> 3/5.
    assert (got.value, got.numerator, got.denominator) == (60.0, 3, 5)
    assert got.window.days is None and got.window.label == "the cohort to date"
    # Up to the end of week 1: a1, a2 by 2 authors (withheld); week 2: a1, a3 of 5 -> 40 %.
    assert series(got) == [("2026-03-02", None), ("2026-03-09", 40.0), ("2026-03-16", 60.0)]
    assert "fewer than 5 members (2)" in (got.series[0].withheld or "")


def test_time_to_apply_and_applied_within_14_days(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "a", "b", "c", "d", "e", "f")
    t.practices("2026-02-26 12:00", ["p1", "p2"])  # released at the start, 03-02 05:00Z
    t.practices("2026-03-09 12:00", ["p1", "p2", "p3"])  # p3 released when it came
    t.join("2026-03-20 12:00", "g")  # g's clock starts when g joined
    t.apply("2026-03-04 05:00", "a", "p1")  # 2 days
    t.apply("2026-03-12 05:00", "b", "p1")  # 10
    t.apply("2026-03-22 05:00", "c", "p1")  # 20
    t.apply("2026-03-03 05:00", "d", "p2")  # 1
    t.apply("2026-03-10 12:00", "e", "p3")  # 1 (from 03-09 12:00Z)
    t.apply("2026-03-29 12:00", "f", "p3")  # 20
    t.apply("2026-03-21 12:00", "g", "p1")  # 1 (from 03-20 12:00Z)
    m = t.metrics("2026-03-30 12:00")
    # Days, sorted: 1 1 1 2 10 20 20 -> median 2, quartiles 1 and 15; 5 of 7 within 14.
    got = m["time_to_apply"]
    assert (got.value, got.denominator) == (2.0, 7)
    assert got.detail == {"median": 2.0, "p25": 1.0, "p75": 15.0, "applied": 7,
                          "within_14_days": 71.4}  # fmt: skip
    assert all(v["withheld"] for v in got.breakdown.values())  # 4, 1 and 2 members
    # Pairs whose 14 days are over: a..f x p1 p2 (to 03-16), p3 (to 03-23) = 18; g's are not.
    # In time: a p1, b p1, d p2, e p3 -> 4/18.
    share = m["applied_within_14_days"]
    assert (share.value, share.numerator, share.denominator) == (22.2, 4, 18)
    assert share.breakdown["p1"]["value"] == 33.3 and share.breakdown["p3"]["of"] == 6


def test_reviews_on_time_and_helpful(store: Store) -> None:
    from nbcohort.cohorts.services import review_rounds, reviews
    from nbcohort.cohorts.services.review_rounds import NewSubmission
    from tests.helpers.timeline import SYSTEM

    t = Timeline(store)
    names = ["a", "b", "c", "d", "e", "f"]
    t.join(BEFORE, *names)
    ids = {n: t.members[n].id for n in names}
    with t.at("2026-03-05 12:00") as s:
        rnd = review_rounds.create_round(
            s, SYSTEM, s.merge(t.cohort), assignment="project-1",
            criteria=[{"id": "q", "title": "Q", "levels": [{"points": 1}, {"points": 2}]}],
            settings={"required_comments": False, "results_after_own_reviews": False},
            reviewers=1, seed=1, due_at=utc("2026-03-12 12:00"), folder="",
            submissions=[NewSubmission(ids[n], f"{n}.ipynb") for n in "abcde"],
            # a reviews b's work, b c's, c d's, d e's, e a's; f reviews a's too
            pairs=[(ids[r], i, "peer", f"p{k}") for k, (r, i) in
                   enumerate([("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 0), ("f", 0)])],
        )  # fmt: skip
        s.flush()
        round_id = rnd.id
    alloc: dict[str, int] = {}
    with store.read() as s:
        from sqlalchemy import select

        from nbcohort.cohorts.models import Allocation, ReviewSubmission

        for reviewer_id, allocation_id in s.execute(select(Allocation.reviewer_id, Allocation.id)):
            alloc[next(n for n, i in ids.items() if i == reviewer_id)] = allocation_id
        subs = {a: i for i, a in s.execute(select(ReviewSubmission.id, ReviewSubmission.author_id))}
    submitted: dict[str, int] = {}
    for who, when in [("a", "2026-03-10 12:00"), ("b", "2026-03-12 11:00"),
                      ("c", "2026-03-12 11:59"), ("e", "2026-03-11 12:00")]:  # fmt: skip
        with t.at(when) as s:
            got = reviews.save_review(
                s, t.actor(s, who), s.merge(t.cohort), alloc[who], scores={"q": 2}, submit=True
            )
            submitted[who] = got["id"]
    with t.at("2026-03-13 12:00") as s:  # d and f never reviewed
        from nbcohort.cohorts.models import ReviewRound

        review_rounds.close_round(
            s, SYSTEM, s.get_one(ReviewRound, round_id), {i: {"q": 2.0} for i in subs.values()}
        )
    ratings = [("b", "a", 5, "2026-03-14 12:00"), ("c", "b", 4, "2026-03-14 13:00"),
               ("d", "c", 2, "2026-03-15 12:00"), ("a", "e", 3, "2026-03-15 13:00"),
               ("a", "e", 4, "2026-03-16 12:00")]  # a changes their mind: 4 counts  # fmt: skip
    for author, reviewer, score, when in ratings:
        with t.at(when) as s:
            reviews.rate_review(
                s, t.actor(s, author), s.merge(t.cohort), submitted[reviewer], score
            )
    m = t.metrics("2026-03-20 12:00", min_group=3)
    # Six peer reviews due 03-12 12:00Z; on time: a b c e -> 4/6, all due in week 2.
    timely = m["review_timeliness"]
    assert (timely.value, timely.numerator, timely.denominator) == (66.7, 4, 6)
    assert dict(series(timely))["2026-03-09"] == 66.7
    # Latest ratings: a's 5, b's 4, c's 2, e's 4 -> mean 15/4; 3 of 4 rated 4 or 5.
    helpful = m["review_helpfulness"]
    assert (helpful.value, helpful.denominator) == (3.75, 4)
    assert helpful.detail == {"helpful_share": 75.0}
    # Week 2 (to 03-16 04:00Z): a's, b's, c's -> 11/3; week 3: e's alone -> withheld.
    assert series(helpful)[1:] == [("2026-03-09", 3.67), ("2026-03-16", None)]
    assert t.metrics("2026-03-20 12:00")["review_helpfulness"].withheld  # 4 < 5


def test_onboarding_completion(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "a", "b", "c", "d", "e", "f")
    t.join(BEFORE, "fay", role="facilitator")
    steps = [("welcome", n, s) for n, s in zip("abcdef", ["done"] * 3 + ["skipped"] + ["sent"] * 2,
             strict=True)] + [("intro-post", "a", "done"), ("intro-post", "b", "sent"),
             ("intro-post", "c", "sent"), ("welcome", "fay", "sent")]  # fmt: skip
    with t.at("2026-03-03 12:00") as s:
        for step, who, state in steps:
            s.add(OnboardingStep(member_id=t.members[who].id, step=step, state=state))
    got = t.metrics("2026-03-10 12:00")["onboarding_completion"]
    # Counted rows: 6 welcome (4 done or skipped) + 3 intro-post (1 done) -> 5/9.
    assert (got.value, got.numerator, got.denominator) == (55.6, 5, 9)
    assert got.breakdown["welcome"] == {"withheld": None, "done": 4, "of": 6, "value": 66.7}
    assert got.breakdown["intro-post"]["withheld"] and "value" not in got.breakdown["intro-post"]
    assert got.series is None


def test_prompt_answer_rate(store: Store) -> None:
    t = Timeline(store, tz="UTC")
    t.join(BEFORE, "a", "b", "c", "d", "e")
    t.join(BEFORE, "fay", role="facilitator")
    t.prompts("2026-02-27 12:00", {"day-1": "one?", "day-2": "two?", "day-20": "later?",
                                   "extra": "no date?"})  # fmt: skip
    t.join("2026-03-02 12:00", "f")  # after day-1 opened (03-02 00:00Z), before day-2
    for who in ("a", "b", "c"):
        t.answer("2026-03-02 13:00", who, "day-1")
    t.answer("2026-03-02 13:00", "fay", "day-1")  # staff: not counted
    gone = t.answer("2026-03-02 14:00", "d", "day-1")
    t.delete("2026-03-02 15:00", "d", gone)  # a deleted answer: not an answer
    for who in ("a", "f"):
        t.answer("2026-03-03 13:00", who, "day-2")
    t.answer("2026-03-04 13:00", "e", "extra")  # opened when it came: 02-27 12:00Z
    got = t.metrics("2026-03-10 12:00")["prompt_answer_rate"]
    # day-1: 3 of a..e; day-2: 2 of a..f; extra: 1 of a..e; day-20 not open -> 6/16.
    assert (got.value, got.numerator, got.denominator) == (37.5, 6, 16)
    assert got.detail == {"prompts": 3}
    # Week of 03-02: day-1 and day-2 -> 5/11; week of 03-09: none opened.
    assert series(got) == [("2026-03-02", 45.5), ("2026-03-09", None)]


def test_a_read_count_never_tells_which_of_a_few_quiet_members_read(store: Store) -> None:
    """Four of five learners post; whether the fifth reads must not show in the funnel (it
    did: readers went from 4 to 5). With five quiet members it shows, in aggregate."""
    t = Timeline(store)
    t.join(BEFORE, "a", "b", "c", "d", "e")
    for who in "abcd":
        t.post("2026-03-03 15:00", who)
    before = t.metrics("2026-03-04 12:00")["contributor_funnel"]
    t.read("2026-03-04 13:00", "e")
    after = t.metrics("2026-03-04 14:00")["contributor_funnel"]
    for funnel in (before, after):
        assert funnel.detail["reader"] is None and funnel.value is None
        assert funnel.detail["contributor"] == 4
        assert all(p.detail.get("reader") is None for p in funnel.series if p.detail)
    t.join(BEFORE, "f", "g", "h", "i")  # five quiet members: e f g h i
    shown = t.metrics("2026-03-04 14:00")["contributor_funnel"]
    assert shown.detail["reader"] == 5 and shown.value == 80.0


def test_times_written_in_other_zones_land_in_the_right_week(store: Store) -> None:
    t = Timeline(store)
    t.join(BEFORE, "a", "b", "c", "d", "e")
    canonical = "2026-03-03 12:00:00" + ("" if store.is_sqlite else "+00")
    reads = {  # week 2 starts at 2026-03-09 04:00Z (midnight in New York)
        "a": "2026-03-09 01:30:00+02:00",  # 03-08 23:30Z: week 1
        "b": "2026-03-09T03:59:00Z",  # week 1
        "c": "2026-03-09T04:00:00+00:00",  # week 2
        "d": "2026-03-08T23:30:00-05:00",  # 03-09 04:30Z: week 2
        "e": canonical,  # week 1
    }
    with store.engine.begin() as conn:
        for who, at in reads.items():
            conn.exec_driver_sql(
                "INSERT INTO activity (cohort_id, member_id, verb, object_type, data, at) "
                f"VALUES ({t.cohort.id}, {t.members[who].id}, 'thread.read', 'thread', '{{}}', "
                f"'{at}')"
            )
        if store.is_sqlite:  # a time nobody can read is left out, not a failure
            conn.exec_driver_sql(
                "INSERT INTO activity (cohort_id, member_id, verb, object_type, data, at) "
                f"VALUES ({t.cohort.id}, {t.members['a'].id}, 'thread.read', '', '{{}}', 'soon')"
            )
    funnel = t.metrics("2026-03-12 12:00")["contributor_funnel"]
    readers = {p.week: p.detail.get("reader") for p in funnel.series}
    assert readers == {"2026-03-02": 3, "2026-03-09": 2}
    assert funnel.detail["reader"] == 5


def test_an_empty_cohort_and_a_cohort_of_one_say_so_in_words(store: Store) -> None:
    t = Timeline(store, starts=None)
    empty = t.metrics("2026-03-10 12:00")
    assert list(empty) == list(METRIC_IDS)
    for metric in empty.values():
        shown = metric.as_dict()
        assert shown["value"] is None and shown["withheld"] is None, metric.id
        assert metric.summary and "nan" not in metric.summary.lower(), metric.id
        assert all(math.isfinite(n) for n in numbers(shown)), metric.id
    assert empty["active_contributors"].summary == (
        "No members in the last 28 days: nothing to measure yet."
    )
    t.join("2026-03-01 12:00", "solo")
    t.post("2026-03-02 12:00", "solo")
    one = t.metrics("2026-03-10 12:00")
    active = one["active_contributors"]
    assert active.value is None and active.numerator is None and active.denominator is None
    assert active.withheld and "fewer than 5 members (1)" in active.withheld
    assert active.summary.startswith("Active contributors is withheld: it is about fewer than")
    assert all(p.value is None for p in active.series)
    assert [p.withheld is not None for p in active.series][-2:] == [True, True]


def test_the_small_group_rule_is_never_below_three(store: Store) -> None:
    from traitlets import TraitError

    from nbcohort.cohorts.config import MetricsSettings

    t = Timeline(store, starts=date(2026, 3, 2))
    t.join(BEFORE, "a", "b", "c")
    t.post("2026-03-03 12:00", "a")
    assert t.metrics("2026-03-10 12:00", min_group=3)["active_contributors"].value == 33.3
    with pytest.raises(ValueError, match="never below 3"):
        t.metrics("2026-03-10 12:00", min_group=2)
    with pytest.raises(TraitError):
        MetricsSettings(min_group=2)
