"""Ideas to pilots through the real services layer on SQLite and PostgreSQL: marking (the
author or a champion), endorsing once each (the database decides, also at once), escalation
at the cohort file's threshold, declining with a reason the author sees, pilots with an
owner, a goal, a measure and a review date, their updates and outcome, and the pilot-owner
badge the pilot's log entry earns."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.models import (
    Activity,
    BadgeAward,
    Cohort,
    Idea,
    IdeaEndorsement,
    Member,
    Notification,
    Pilot,
    utcnow,
)
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.badges import award_badges
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.ideas import (
    decline_idea,
    endorse_idea,
    ideas_in_thread,
    list_ideas,
    mark_idea,
)
from nbcohort.cohorts.services.members import add_member, set_active
from nbcohort.cohorts.services.pilots import list_pilots, make_pilot, update_pilot
from nbcohort.cohorts.services.posts import create_post
from nbcohort.cohorts.store import Store
from tests.helpers.community import SYSTEM
from tests.helpers.rhythm import apply_text, cohort_toml

ANCHOR = "module-1/reading-files"


def as_(member: Member) -> Actor:
    return Actor.of(member)


def threshold(store: Store, n: int) -> None:
    """Apply a cohort file whose ``[ideas] endorsements`` is ``n`` to spring-26."""
    apply_text(store, cohort_toml(extra=f"[ideas]\nendorsements = {n}\n", steps=False), utcnow())


def co(s: object, cohort: Cohort) -> Cohort:
    """The cohort as stored now (the fixture's object predates the cohort file)."""
    return s.get_one(Cohort, cohort.id)  # type: ignore[attr-defined]


def write(store: Store, fn):  # type: ignore[no-untyped-def]
    with store.write() as s:
        return fn(s)


def post(store: Store, who: Member, cohort: Cohort, body: str = "an idea: a shared checklist"):
    with store.write() as s:
        return create_post(s, as_(s.merge(who)), co(s, cohort), ANCHOR, body).id


@pytest.fixture
def idea(store: Store, cohort: Cohort, people: dict[str, Member]) -> int:
    threshold(store, 2)
    post_id = post(store, people["ana"], cohort)
    return write(store, lambda s: mark_idea(s, as_(people["ana"]), post_id))["id"]


def test_the_author_marks_an_idea_and_marking_again_changes_nothing(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    post_id = post(store, people["ana"], cohort)
    first = write(store, lambda s: mark_idea(s, as_(people["ana"]), post_id))
    again = write(store, lambda s: mark_idea(s, as_(people["ana"]), post_id))
    assert first == again
    assert first["state"] == "open" and first["endorsements"] == 0
    assert first["can_endorse"] is False  # one's own
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Idea)) == 1
        assert s.scalar(select(func.count()).where(Activity.verb == "idea.mark")) == 1


def test_a_champion_marks_someone_elses_post_a_learner_may_not(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    post_id = post(store, people["ana"], cohort)
    with pytest.raises(Forbidden, match="only its author or a champion") as err:
        write(store, lambda s: mark_idea(s, as_(people["ben"]), post_id))
    assert err.value.field == "post_id"
    with pytest.raises(Forbidden, match=r"may not do 'idea\.mark'"):
        write(store, lambda s: mark_idea(s, as_(people["sam"]), post_id))
    made = write(store, lambda s: mark_idea(s, as_(people["chi"]), post_id))
    assert made["author"]["username"] == "ana"


def test_endorsing_own_idea_twice_and_after_decision_are_refused(
    store: Store, people: dict[str, Member], idea: int
) -> None:
    with pytest.raises(Invalid, match="cannot endorse your own idea") as err:
        write(store, lambda s: endorse_idea(s, as_(people["ana"]), idea))
    assert err.value.field == "idea_id"
    got = write(store, lambda s: endorse_idea(s, as_(people["ben"]), idea))
    assert got["endorsements"] == 1 and got["endorsed"] and not got["can_endorse"]
    with pytest.raises(Conflict, match=f"already endorsed idea {idea}"):
        write(store, lambda s: endorse_idea(s, as_(people["ben"]), idea))
    with pytest.raises(Forbidden):  # sponsors read, they do not endorse
        write(store, lambda s: endorse_idea(s, as_(people["sam"]), idea))
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(IdeaEndorsement)) == 1


def test_the_threshold_escalates_once_and_notifies_the_facilitators(
    store: Store, people: dict[str, Member], cohort: Cohort, idea: int
) -> None:
    write(store, lambda s: endorse_idea(s, as_(people["ben"]), idea))
    with store.read() as s:
        assert s.get_one(Idea, idea).state == "open"
        assert not list_ideas(s, as_(people["fay"]), co(s, cohort), "escalated")
    got = write(store, lambda s: endorse_idea(s, as_(people["chi"]), idea))
    assert got["state"] == "escalated" and got["endorsements"] == 2
    write(store, lambda s: endorse_idea(s, as_(people["ivo"]), idea))  # past it: no second
    with store.read() as s:
        notes = s.execute(select(Notification.member_id, Notification.kind)).all()
        escalated = [m for m, k in notes if k == "idea_escalated"]
        assert escalated == [people["fay"].id]  # the facilitator, once
        listed = list_ideas(s, as_(people["fay"]), co(s, cohort), "escalated")
        assert [i["id"] for i in listed] == [idea] and listed[0]["can_decide"]
        assert s.scalar(select(func.count()).where(Activity.verb == "idea.escalate")) == 1


def test_concurrent_double_endorsement_is_one_row(
    store: Store, people: dict[str, Member], idea: int
) -> None:
    """Two requests of one member at once: the unique key lets one through."""
    other = Store.open(store.url)
    results: list[object] = []
    barrier = threading.Barrier(2)

    def go(st: Store) -> None:
        barrier.wait()
        try:
            with st.write() as s:
                results.append(endorse_idea(s, as_(people["ben"]), idea)["endorsements"])
        except Conflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=go, args=(st,)) for st in (store, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    other.close()
    assert sorted(map(type, results), key=str) == sorted([int, Conflict], key=str)
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(IdeaEndorsement)) == 1


def test_the_database_refuses_a_second_endorsement_row(
    store: Store, people: dict[str, Member], idea: int
) -> None:
    from sqlalchemy.exc import IntegrityError

    write(store, lambda s: endorse_idea(s, as_(people["ben"]), idea))

    def again(s: object) -> None:
        s.add(IdeaEndorsement(idea_id=idea, member_id=people["ben"].id))  # type: ignore[attr-defined]
        s.flush()  # type: ignore[attr-defined]

    with pytest.raises(IntegrityError):
        write(store, again)


def test_concurrent_endorsements_reaching_the_threshold_escalate_once(
    store: Store, people: dict[str, Member], idea: int
) -> None:
    other = Store.open(store.url)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def go(st: Store, who: str) -> None:
        barrier.wait()
        try:
            with st.write() as s:
                endorse_idea(s, as_(people[who]), idea)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=go, args=(store, "ben")),
        threading.Thread(target=go, args=(other, "chi")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    other.close()
    assert errors == []
    with store.read() as s:
        assert s.get_one(Idea, idea).state == "escalated"
        kinds = s.scalars(select(Notification.kind)).all()
        assert kinds.count("idea_escalated") == 1


def test_declining_needs_a_reason_the_author_sees(
    store: Store, people: dict[str, Member], cohort: Cohort, idea: int
) -> None:
    for reason in ("", "   "):
        with pytest.raises(Invalid, match="a reason is required") as err:
            write(store, lambda s, r=reason: decline_idea(s, as_(people["fay"]), idea, r))
        assert err.value.field == "reason"
    with pytest.raises(Forbidden):
        write(store, lambda s: decline_idea(s, as_(people["chi"]), idea, "no"))
    write(store, lambda s: decline_idea(s, as_(people["fay"]), idea, "we tried this in 2025"))
    with store.read() as s:
        mine = ideas_in_thread(s, as_(people["ana"]), cohort.id, anchor=ANCHOR)
        others = ideas_in_thread(s, as_(people["ben"]), cohort.id, anchor=ANCHOR)
        note = s.scalars(select(Notification).where(Notification.kind == "idea_declined")).one()
    (seen,) = mine.values()
    assert seen["state"] == "declined" and seen["decline_reason"] == "we tried this in 2025"
    assert next(iter(others.values()))["decline_reason"] == ""
    assert note.member_id == people["ana"].id and note.data["reason"] == "we tried this in 2025"
    with pytest.raises(Conflict, match="already declined"):
        write(store, lambda s: decline_idea(s, as_(people["fay"]), idea, "again"))
    with pytest.raises(Conflict, match="takes no endorsement"):
        write(store, lambda s: endorse_idea(s, as_(people["ben"]), idea))


def pilot_args(people: dict[str, Member], **over: object) -> dict[str, object]:
    args: dict[str, object] = {
        "owner_id": people["ben"].id,
        "goal": "Fewer broken imports in team red",
        "measure": "Import errors per week in the shared notebooks",
        "review_on": (date.today() + timedelta(days=30)).isoformat(),
    }
    return {**args, **over}


def test_a_facilitator_makes_a_pilot_and_the_owner_gets_the_badge(
    store: Store, people: dict[str, Member], cohort: Cohort, idea: int
) -> None:
    made = write(
        store,
        lambda s: make_pilot(s, as_(people["fay"]), co(s, cohort), idea, **pilot_args(people)),
    )
    assert made["owner"]["username"] == "ben" and made["status"] == "active"
    assert made["title"].startswith("an idea")
    with store.read() as s:
        assert s.get_one(Idea, idea).state == "piloted"
        log = s.scalars(select(Activity).where(Activity.verb == "pilot.create")).one()
        assert log.data["owner"] == people["ben"].id
        kinds = {(n.member_id, n.kind) for n in s.scalars(select(Notification))}
    assert (people["ben"].id, "pilot_owner") in kinds
    assert (people["ana"].id, "idea_piloted") in kinds
    with store.write() as s:
        awarded = award_badges(s, co(s, cohort))
    assert awarded["pilot-owner"] == 1
    with store.read() as s:
        holders = s.scalars(select(BadgeAward.member_id).where(BadgeAward.badge == "pilot-owner"))
        assert list(holders) == [people["ben"].id]
    with pytest.raises(Conflict, match="already piloted"):
        write(
            store,
            lambda s: make_pilot(s, as_(people["fay"]), co(s, cohort), idea, **pilot_args(people)),
        )


@pytest.mark.parametrize(
    ("over", "field", "words"),
    [
        ({"owner_id": None}, "owner_id", "a pilot needs an owner"),
        ({"owner_id": 10**9}, "owner_id", "is not a member of this cohort"),
        ({"goal": "  "}, "goal", "a pilot needs a goal"),
        ({"measure": ""}, "measure", "a pilot needs a measure"),
        ({"review_on": "2020-01-01"}, "review_on", "is in the past"),
        ({"review_on": "next tuesday"}, "review_on", "must be a date as YYYY-MM-DD"),
        ({"review_on": "2026-02-30"}, "review_on", "must be a date as YYYY-MM-DD"),
        ({"review_on": "20990101"}, "review_on", "must be a date as YYYY-MM-DD"),
        ({"review_on": 20990101}, "review_on", "must be a date as YYYY-MM-DD"),
        ({"review_on": "9999-12-31"}, "review_on", "days away"),
        ({"goal": "x" * 5000}, "goal", "at most 4000 characters"),
    ],
)
def test_a_pilot_refuses_bad_input_naming_it(
    store: Store,
    people: dict[str, Member],
    cohort: Cohort,
    idea: int,
    over: dict[str, object],
    field: str,
    words: str,
) -> None:
    with pytest.raises(Invalid, match=words) as err:
        write(
            store,
            lambda s: make_pilot(
                s, as_(people["fay"]), co(s, cohort), idea, **pilot_args(people, **over)
            ),
        )
    assert err.value.field == field
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Pilot)) == 0
        assert s.get_one(Idea, idea).state == "open"


def test_an_owner_who_left_or_from_another_cohort_is_refused(
    store: Store, people: dict[str, Member], cohort: Cohort, idea: int
) -> None:
    with store.write() as s:
        gone = add_member(s, SYSTEM, co(s, cohort), name="Dee", email="dee@x.org", username="dee")
        set_active(s, SYSTEM, gone, False)
        elsewhere = create_cohort(s, SYSTEM, "autumn-26", "Autumn")
        stranger = add_member(s, SYSTEM, elsewhere, name="Zed", email="z@x.org", username="zed")
        gone_id, stranger_id = gone.id, stranger.id
    with pytest.raises(Invalid, match="no longer an active member"):
        write(
            store,
            lambda s: make_pilot(
                s, as_(people["fay"]), co(s, cohort), idea, **pilot_args(people, owner_id=gone_id)
            ),
        )
    with pytest.raises(Invalid, match="not a member of this cohort"):
        write(
            store,
            lambda s: make_pilot(
                s,
                as_(people["fay"]),
                co(s, cohort),
                idea,
                **pilot_args(people, owner_id=stranger_id),
            ),
        )


def test_another_cohorts_idea_does_not_exist(
    store: Store, people: dict[str, Member], idea: int
) -> None:
    with store.write() as s:
        elsewhere = create_cohort(s, SYSTEM, "autumn-26", "Autumn")
        boss = add_member(
            s, SYSTEM, elsewhere, name="Oz", email="o@x.org", username="oz", role="facilitator"
        )
        learner = add_member(s, SYSTEM, elsewhere, name="Lu", email="l@x.org", username="lu")
        boss_actor, learner_actor = as_(boss), as_(learner)
    for fn in (
        lambda s: endorse_idea(s, learner_actor, idea),
        lambda s: decline_idea(s, boss_actor, idea, "no"),
        lambda s: make_pilot(s, boss_actor, s.merge(elsewhere), idea, **pilot_args(people)),
    ):
        with pytest.raises(NotFound, match=f"no idea {idea}"):
            write(store, fn)
    with store.read() as s:
        assert s.get_one(Idea, idea).state == "open"


def test_pilot_updates_by_owner_and_staff_and_an_outcome_closes_it(
    store: Store, people: dict[str, Member], cohort: Cohort, idea: int
) -> None:
    pid = write(
        store,
        lambda s: make_pilot(s, as_(people["fay"]), co(s, cohort), idea, **pilot_args(people)),
    )["id"]

    def upd(who: str, **kw: object):  # type: ignore[no-untyped-def]
        return write(store, lambda s: update_pilot(s, as_(people[who]), co(s, cohort), pid, **kw))

    with pytest.raises(Forbidden, match="only the pilot's owner or a facilitator"):
        upd("ana", note="hi")
    with pytest.raises(Invalid, match="a status update needs a note"):
        upd("ben", note=" ")
    with pytest.raises(Invalid, match="status must be one of"):
        upd("ben", note="x", status="paused")
    with pytest.raises(Invalid, match="a done pilot needs an outcome"):
        upd("ben", note="done", status="done")
    got = upd("ben", note="Week 1: **three** teams on board")
    assert got["updates"] == 1 and "<strong>three</strong>" in got["history"][0]["html"]
    got = upd("fay", note="Closing", status="done", outcome="Import errors halved")
    assert got["status"] == "done" and got["outcome"] == "Import errors halved"
    with pytest.raises(Conflict, match="takes no update"):
        upd("ben", note="more")
    with store.read() as s:
        (listed,) = list_pilots(s, as_(people["sam"]), co(s, cohort))
        assert listed["status"] == "done" and listed["updates"] == 2
        assert s.scalar(select(func.count()).where(Activity.verb == "pilot.update")) == 2
