"""Leader nudges through the real services layer on SQLite and PostgreSQL: what a sponsor's
list holds by the cohort file's ``[nudges]`` rule (questions unanswered for 48 hours, open
ideas near the threshold, pilots due for review), who may read it, and the tick's weekly
email: queued on the nudge day after its time, once per sponsor and week, none to a sponsor
without an address; a ``[nudges]`` section with bad values refused at validate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from nbcohort.cohorts.cohort_checks import check_cohort_file
from nbcohort.cohorts.models import Cohort, Member, OutboxMessage, Post, clock_at
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cadence_tick import run_tick
from nbcohort.cohorts.services.errors import Forbidden
from nbcohort.cohorts.services.ideas import endorse_idea, mark_idea
from nbcohort.cohorts.services.nudges import leader_nudges, nudges_step
from nbcohort.cohorts.services.pilots import make_pilot
from nbcohort.cohorts.services.posts import create_post
from nbcohort.cohorts.store import Store
from tests.helpers.rhythm import apply_text, cohort_toml

# A Monday, 09:30 in Berlin (the cohort file's zone): after the default send_at of 08:00.
MONDAY = datetime(2027, 3, 8, 8, 30, tzinfo=UTC)
NUDGES = "[ideas]\nendorsements = 3\n[nudges]\nnear = 1\nreview_days = 7\n"


def cohort_of(s, cohort: Cohort) -> Cohort:  # type: ignore[no-untyped-def]
    return s.get_one(Cohort, cohort.id)


def seed(store: Store, cohort: Cohort, people: dict[str, Member]) -> dict[str, int]:
    """At MONDAY minus three days: a question and a statement nobody answered, an answered
    question, one idea one endorsement short of three and one two short, a pilot due in a
    week and one due in a month."""
    apply_text(store, cohort_toml(extra=NUDGES, steps=False), MONDAY - timedelta(days=4))
    a = {w: Actor.of(m) for w, m in people.items()}
    out: dict[str, int] = {}
    with clock_at(MONDAY - timedelta(days=3)), store.write() as s:
        c = cohort_of(s, cohort)
        out["question"] = create_post(s, a["ana"], c, "module-1/a", "Why does it fail?").id
        out["statement"] = create_post(s, a["ben"], c, "module-1/b", "I liked this part").id
        answered = create_post(s, a["ben"], c, "module-1/c", "Anyone?")
        s.flush()
        create_post(s, a["ana"], c, "module-1/c", "Yes", parent_id=answered.id)
        for key, author, endorsers in (("near", "chi", ["ana", "ben"]), ("far", "ana", ["ben"])):
            post = create_post(s, a[author], c, "module-2/ideas", f"idea {key}")
            s.flush()
            idea = mark_idea(s, a[author], post.id)["id"]
            for who in endorsers:
                endorse_idea(s, a[who], idea)
            out[key] = idea
        for key, days in (("due", 7), ("later", 30)):
            post = create_post(s, a["ben"], c, "module-2/ideas", f"pilot {key}")
            s.flush()
            idea = mark_idea(s, a["ben"], post.id)["id"]
            review = (MONDAY + timedelta(days=days)).date()
            what = {"owner_id": people["ben"].id, "goal": "g", "measure": "m", "review_on": review}
            out[f"pilot_{key}"] = make_pilot(s, a["fay"], c, idea, **what)["id"]
    return out


def test_a_sponsors_nudges_follow_the_rule(store: Store, cohort: Cohort, people) -> None:
    made = seed(store, cohort, people)
    with clock_at(MONDAY), store.read() as s:
        got = leader_nudges(s, Actor.of(people["sam"]), cohort_of(s, cohort))
        for who in ("ana", "chi", "ben"):
            with pytest.raises(Forbidden, match=r"may not do 'nudge\.read'"):
                leader_nudges(s, Actor.of(people[who]), cohort_of(s, cohort))
        assert leader_nudges(s, Actor.of(people["fay"]), cohort_of(s, cohort))["count"]
    unanswered = [q["post_id"] for q in got["unanswered"]]
    assert unanswered[0] == made["question"] and made["statement"] in unanswered
    assert len(unanswered) == 2 + 3  # the ideas' posts have no reply either
    assert [i["idea_id"] for i in got["ideas"]] == [made["near"]]  # 2 of 3, near = 1
    assert [p["id"] for p in got["pilots"]] == [made["pilot_due"]]
    assert got["week"] == "2027-03-08"
    with clock_at(MONDAY - timedelta(days=2)), store.read() as s:  # one day old: not yet
        early = leader_nudges(s, Actor.of(people["sam"]), cohort_of(s, cohort))
    assert early["unanswered"] == []


def test_the_tick_emails_each_sponsor_once_a_week(store: Store, cohort: Cohort, people) -> None:
    seed(store, cohort, people)
    with store.write() as s:  # a second sponsor without an address: the notebook only
        s.add(Member(cohort_id=cohort.id, username="pat", name="Pat", email=None, role="sponsor"))
    steps = [("nudges", nudges_step)]
    sunday = run_tick(store, ["spring-26"], now=MONDAY - timedelta(days=1), steps=steps)
    assert sunday[0].steps == [("nudges", "nothing due")]
    early = run_tick(store, ["spring-26"], now=MONDAY - timedelta(hours=2), steps=steps)
    assert early[0].steps == [("nudges", "nothing due")]  # 07:30 in Berlin: before 08:00
    first = run_tick(store, ["spring-26"], now=MONDAY, steps=steps)
    assert first[0].steps == [("nudges", "1 sponsors' nudges queued")], first
    again = run_tick(store, ["spring-26"], now=MONDAY + timedelta(hours=3), steps=steps)
    assert again[0].steps == [("nudges", "nothing due")]
    with store.read() as s:
        (mail,) = s.scalars(select(OutboxMessage))
    assert mail.to_addr == "sam@example.org" and mail.kind == "nudges"
    assert mail.dedupe_key == f"nudges:2027-03-08:{people['sam'].id}"
    assert "Why does it fail?" in mail.body_text and "pilot due" in mail.body_text
    next_week = run_tick(store, ["spring-26"], now=MONDAY + timedelta(days=7), steps=steps)
    assert next_week[0].steps == [("nudges", "1 sponsors' nudges queued")]


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("[ideas]\nendorsements = 0\n", "ideas.endorsements"),
        ("[ideas]\nendorsements = 100000\n", "ideas.endorsements"),
        ('[ideas]\nendorsements = "five"\n', "ideas.endorsements"),
        ('[nudges]\nday = "someday"\n', "nudges.day"),
        ("[nudges]\nunanswered_hours = 0\n", "nudges.unanswered_hours"),
        ("[nudges]\nsize = 1000\n", "nudges.size"),
        ("[ideas]\nthreshold = 3\n", "ideas"),
    ],
)
def test_bad_ideas_and_nudges_sections_are_refused_naming_the_key(section: str, key: str) -> None:
    spec, problems = check_cohort_file(cohort_toml(extra=section, steps=False), "spring.toml")
    assert spec is None
    said = [str(p) for p in problems]
    assert any(s.startswith("spring.toml:") and key in s for s in said), said


def test_a_cohort_without_nudges_or_ideas_sections_gets_the_defaults(
    store: Store, cohort: Cohort, people
) -> None:
    with store.write() as s:
        post = create_post(s, Actor.of(people["ana"]), cohort_of(s, cohort), "m/a", "idea")
        s.flush()
        assert mark_idea(s, Actor.of(people["ana"]), post.id)["threshold"] == 5
        s.execute(update(Post).values(created_at=datetime.now(UTC) - timedelta(days=3)))
    with store.read() as s:
        got = leader_nudges(s, Actor.of(people["sam"]), cohort_of(s, cohort))
    assert [q["post_id"] for q in got["unanswered"]] == [post.id]
    assert got["rule"] == {"unanswered_hours": 48, "near": 2, "review_days": 7, "size": 5}
    assert date.fromisoformat(got["week"]).weekday() == 0
