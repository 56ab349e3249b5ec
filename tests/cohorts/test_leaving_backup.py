"""Leaving while owing a peer review (#16, bad input): through the real services layer on
SQLite and PostgreSQL, the review moves to the backup pool in the leave itself when the
round's packets are kept by the service: who may take it (the same rule as ``review
reassign``), its packet and due date, what the leaver's report and the notifications say,
no backup, a pair the round held before, two members leaving at once, leaving twice. The
whole path on a real nbgrader course through the service: ``tests/exchange/
test_leaving_backup_service.py``."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from nbcohort.cohorts.config import PrivacySettings
from nbcohort.cohorts.models import (
    Activity,
    Allocation,
    Cohort,
    Member,
    Notification,
    ReviewRound,
    ReviewSubmission,
    utcnow,
)
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.leaving import leave
from nbcohort.cohorts.services.leaving_reviews import FOLDER_PACKETS
from nbcohort.cohorts.services.notifications import list_notifications
from nbcohort.cohorts.store import Store
from tests.helpers.community import SYSTEM, race

A = "project-1"
NO_FACILITATORS = PrivacySettings(backup_facilitators=False)


def _round(
    store: Store,
    cohort: Cohort,
    people: dict[str, Member],
    pairs: list[tuple[str, str, str]],
    *,
    packets: str = "exchange",
    team_rule: str = "ignore",
    due_days: float = 1,
    assignment: str = A,
) -> int:
    """An open round of ``pairs`` (reviewer, author, status); each pair's packet is named
    ``packets/<assignment>-<reviewer><author>``. Returns the round's id."""
    with store.write() as s:
        settings = {"anonymity": "double-blind", "team_rule": team_rule}
        if packets:
            settings["packets"] = packets
        rnd = ReviewRound(
            cohort_id=cohort.id,
            assignment=assignment,
            status="open",
            seed=7,
            due_at=utcnow() + timedelta(days=due_days),
            settings=settings,
        )
        s.add(rnd)
        s.flush()
        subs = {}
        for author in sorted({a for _r, a, _s in pairs}):
            subs[author] = ReviewSubmission(round_id=rnd.id, author_id=people[author].id)
            s.add(subs[author])
        s.flush()
        for reviewer, author, status in pairs:
            s.add(
                Allocation(
                    round_id=rnd.id,
                    reviewer_id=people[reviewer].id,
                    submission_id=subs[author].id,
                    packet=f"packets/{assignment}-{reviewer}{author}",
                    status=status,
                )
            )
        return rnd.id


def _live(store: Store) -> list[tuple[str, str, str, str, bool]]:
    """(reviewer, author, status, packet, reviewer active) of every allocation."""
    with store.read() as s:
        return sorted(
            (a.reviewer.username, a.submission.author.username, a.status, a.packet,
             a.reviewer.active)
            for a in s.scalars(select(Allocation))
        )  # fmt: skip


def _leave(store: Store, who: Member, settings: PrivacySettings | None = None) -> dict:
    with store.write() as s:
        member = s.get_one(Member, who.id)
        return leave(s, Actor.of(member), member, settings=settings).as_dict()


def test_an_owed_review_moves_to_a_reviewer_who_finished_with_its_packet(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    _round(store, cohort, people, [("ana", "ben", "assigned"), ("ben", "chi", "submitted"),
                                   ("chi", "ana", "submitted")])  # fmt: skip
    before = utcnow()
    report = _leave(store, people["ana"], NO_FACILITATORS)
    assert report["reviews_moved"] == {A: 1} and report["reviews_left"] == {}
    assert report["owed_reviews"] == [A]
    said = json.dumps(report)  # the leaver learns how many moved, never to whom
    assert not any(n in said for n in ("ben", "chi", "Ben", "Chi"))
    rows = _live(store)
    assert ("ana", "ben", "reassigned", f"packets/{A}-anaben", False) in rows
    # chi finished and does not review ben: the same packet is now hers
    assert ("chi", "ben", "assigned", f"packets/{A}-anaben", True) in rows
    with store.read() as s:
        mine = Allocation.reviewer_id == people["chi"].id
        moved = s.scalars(select(Allocation).where(mine, Allocation.status == "assigned")).one()
        # due: the later of the leaver's (1 day) and backup_review_days (3) from now
        assert moved.due_at is not None
        assert timedelta(days=3) <= moved.due_at - before < timedelta(days=3, minutes=5)
        chi = Actor.of(s.get_one(Member, people["chi"].id))
        notes = list_notifications(s, chi, s.get_one(Cohort, cohort.id))
        logged = s.scalars(select(Activity.verb).where(Activity.verb == "review.reassign"))
        assert logged.all() == ["review.reassign"]
    told = [n for n in notes if n["kind"] == "review_assigned"]
    assert told and told[0]["data"]["assignment"] == A
    assert "ben" not in json.dumps(told).lower()  # double-blind: no author named


def test_the_round_due_date_stands_when_later_and_facilitators_are_in_the_pool(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    _round(store, cohort, people, [("ana", "ben", "assigned"), ("ben", "ana", "assigned")],
           due_days=10)  # fmt: skip
    report = _leave(store, people["ana"])  # no one finished: fay, the facilitator, takes it
    assert report["reviews_moved"] == {A: 1}
    with store.read() as s:
        moved = s.scalars(select(Allocation).where(Allocation.status == "assigned",
                                                   Allocation.reviewer_id == people["fay"].id)
                          ).one()  # fmt: skip
        assert moved.due_at is not None and moved.due_at > utcnow() + timedelta(days=9)


def test_no_backup_keeps_the_review_and_tells_the_instructors_why(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    _round(store, cohort, people, [("ana", "ben", "assigned"), ("ben", "ana", "assigned")])
    report = _leave(store, people["ana"], NO_FACILITATORS)
    assert report["reviews_moved"] == {}
    assert "no one in the backup pool" in report["reviews_left"][A]
    assert ("ana", "ben", "assigned", f"packets/{A}-anaben", False) in _live(store)
    with store.read() as s:
        rows = s.execute(select(Member.username, Notification.data)
                         .join(Member, Member.id == Notification.member_id)
                         .where(Notification.kind == "reviews_orphaned")).all()  # fmt: skip
        ivo = Actor.of(s.get_one(Member, people["ivo"].id))
        headline = list_notifications(s, ivo, s.get_one(Cohort, cohort.id))[0]["headline"]
    assert [u for u, _d in rows] == ["ivo"]
    assert rows[0][1]["reasons"][A] == report["reviews_left"][A]
    assert "no one in the backup pool" in headline and "review reassign" in headline


def test_a_round_with_packets_in_the_course_folder_falls_back_to_the_instructors(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    _round(store, cohort, people, [("ana", "ben", "assigned"), ("chi", "ben", "submitted")],
           packets="")  # fmt: skip
    report = _leave(store, people["ana"])
    assert report["reviews_left"] == {A: FOLDER_PACKETS} and report["reviews_moved"] == {}
    assert ("ana", "ben", "assigned", f"packets/{A}-anaben", False) in _live(store)


def test_one_who_was_allocated_that_submission_before_is_not_chosen(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    """chi once had ben's submission (withdrawn when a late submitter came): the store keeps
    one allocation per reviewer and submission, and the rule says not twice."""
    _round(store, cohort, people, [("ana", "ben", "assigned"), ("chi", "ben", "withdrawn"),
                                   ("chi", "ana", "submitted")])  # fmt: skip
    report = _leave(store, people["ana"], NO_FACILITATORS)
    assert "no one in the backup pool" in report["reviews_left"][A]


def test_the_team_rule_of_the_round_is_kept(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    """Under "require", chi (team red) never reviews ana (red); ben (blue) may."""
    _round(store, cohort, people, [("fay", "ana", "assigned"), ("chi", "ben", "submitted"),
                                   ("ben", "chi", "submitted")], team_rule="require")  # fmt: skip
    report = _leave(store, people["fay"], NO_FACILITATORS)
    assert report["reviews_moved"] == {A: 1}
    assert ("ben", "ana", "assigned", f"packets/{A}-fayana", True) in _live(store)


@pytest.mark.parametrize("first", ["ana", "chi"])
def test_two_members_leaving_at_once_never_hand_a_review_to_one_who_left(
    store: Store, cohort: Cohort, people: dict[str, Member], first: str
) -> None:
    """ana owes ben's review; chi, who finished, is the only backup. Whichever leave goes
    first, no review ends with a member who left unless a report says it stayed."""
    _round(store, cohort, people, [("ana", "ben", "assigned"), ("chi", "ana", "submitted")])
    reports: dict[str, dict] = {}

    def leaving(who: str):
        def go(s):
            member = s.get_one(Member, people[who].id)
            reports[who] = leave(s, Actor.of(member), member, settings=NO_FACILITATORS).as_dict()

        return go

    second = "chi" if first == "ana" else "ana"
    assert race(store, leaving(first), leaving(second)) == []
    left = {r["member_id"] for r in reports.values()}
    stranded = [(r, a) for r, a, status, _p, active in _live(store)
                if status == "assigned" and not active]  # fmt: skip
    told = {who for who, r in reports.items() if r["reviews_left"]}
    assert {r for r, _a in stranded} <= told, (stranded, reports)
    assert left == {people["ana"].id, people["chi"].id}
    if first == "ana":  # moved to chi, who then owed it and found no one
        assert reports["ana"]["reviews_moved"] == {A: 1} and reports["chi"]["reviews_left"]
    else:  # chi gone before ana chose
        assert reports["ana"]["reviews_left"] and not reports["chi"]["owed_reviews"]


def test_leaving_twice_moves_nothing_more(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    _round(store, cohort, people, [("ana", "ben", "assigned"), ("chi", "ana", "submitted")])
    assert _leave(store, people["ana"], NO_FACILITATORS)["reviews_moved"] == {A: 1}
    rows = _live(store)
    with store.write() as s:
        again = leave(s, SYSTEM, s.get_one(Member, people["ana"].id), reason="again")
    assert again.already and again.reviews_moved == {} and again.reviews_left == {}
    assert _live(store) == rows
