"""Leaving while owing a review, on a real nbgrader course whose round was opened through the
service exchange (packets kept by the service), every member acting through the real HTTP
service, on SQLite and PostgreSQL (``shared_service``). In order: a leaver no one can back
up (the instructor is told why); a leaver whose reviews move with the leave (the backup reads
the same anonymized packet, names never cross); two members leaving at once; leaving twice;
then the backup's review reaches the author when the round closes. The rule itself, case by
case: ``tests/cohorts/test_leaving_backup.py``; a round with its packets in the course
folder: ``test_leaving_reviews.py``."""

from __future__ import annotations

import json
import re
import threading
from contextlib import closing
from typing import Any

import pytest
from sqlalchemy import select
from traitlets.config import Config

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import Allocation, Member, ReviewRound
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.leaving import leave
from nbcohort.exchange.round_close import close
from nbcohort.exchange.round_open import open_round
from tests.exchange.test_round_service_exchange import (
    _local_packets,
    _round_folder,
    _service_exchange,
    _token,
)
from tests.helpers.exchange_service import SharedService, new_slug, shared_service
from tests.helpers.peer_course import ASSIGNMENT, PeerCourse, due_in

__all__ = ["shared_service"]  # the fixture, imported for pytest

pytestmark = pytest.mark.slow

NAMES = ["Ana Souza", "Ben Okafor", "Chi Nguyen", "Dara Kim", "Eli Park", "Fay Lind"]
CRITERIA = ("question", "evidence", "recommendation")


@pytest.fixture(scope="module")
def world(shared_service: SharedService, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Six learners submit through the service; a round opens with 2 reviewers each."""
    tmp = tmp_path_factory.mktemp("leavers")
    slug = new_slug("leavers")
    course = PeerCourse(tmp, shared_service.store, cohort=slug,
                        exchange=_service_exchange(shared_service, slug))  # type: ignore[arg-type]  # fmt: skip
    course.add_learners(NAMES, teams=0)
    tokens = {u: _token(course, u) for u in course.members}
    for username, token in tokens.items():
        course.learner_configs[username] = Config({"ServiceExchange": {"token": token}})
    for name in NAMES:
        username = name.split()[0].lower()
        course.fetch(username)
        course.answer(username, name, 2)
        course.submit(username)
    ctx = course.context()
    open_round(ctx, ASSIGNMENT, due=due_in(7), reviewers=2, seed=5)  # type: ignore[arg-type]
    built = {aid: (r, a, p) for aid, (r, a, p, _st) in _allocations(course).items()}
    return {"course": course, "ctx": ctx, "tokens": tokens, "url": shared_service.service.url,
            "packets": _local_packets(_round_folder(course), built)}  # fmt: skip


def _allocations(course: PeerCourse) -> dict[int, tuple[str, str, str, str]]:
    """allocation id -> (reviewer, author, packet, status) of the round's peer reviews."""
    with course.store.read() as s:
        rnd = s.scalars(select(ReviewRound).where(ReviewRound.cohort_id == course.cohort_id)).one()
        return {
            a.id: (a.reviewer.username, a.submission.author.username, a.packet, a.status)
            for a in s.scalars(
                select(Allocation).where(Allocation.round_id == rnd.id, Allocation.kind == "peer")
            )
        }


def _client(world: dict, username: str) -> CohortClient:
    return CohortClient(world["url"], world["tokens"][username], timeout=30)


def _active(course: PeerCourse) -> set[str]:
    with course.store.read() as s:
        return set(
            s.scalars(
                select(Member.username).where(
                    Member.cohort_id == course.cohort_id, Member.active.is_(True)
                )
            )
        )


def _submit_all(world: dict, username: str, note: str = "Good work.") -> None:
    """``username`` submits every review still open in their inbox, through the service."""
    with closing(_client(world, username)) as client:
        for item in client.review_inbox(ASSIGNMENT)["inbox"]:
            if item["review"]["draft"] is not False and item["kind"] == "peer":
                client.save_review(
                    ASSIGNMENT,
                    item["allocation_id"],
                    scores={c: 2.0 for c in CRITERIA},
                    comments={c: f"{note} ({c})" for c in CRITERIA},
                    overall_comment=note,
                    submit=True,
                )


def _names(username: str, text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(username)}(?!\w)", text) is not None


def _stranded(course: PeerCourse) -> set[str]:
    """Reviewers who left and still hold an unsubmitted review."""
    active = _active(course)
    return {r for r, _a, _p, st in _allocations(course).values() if st == "assigned"} - active


def test_a_leaver_no_one_can_back_up_stays_and_the_instructor_is_told_why(world: dict) -> None:
    """No one has finished and there is no facilitator yet: fay's reviews stay with her."""
    course = world["course"]
    with closing(_client(world, "fay")) as client:
        report = client.leave("moving on")
    assert report["reviews_moved"] == {}
    assert "no one in the backup pool" in report["reviews_left"][ASSIGNMENT]
    assert _stranded(course) == {"fay"}
    with closing(_client(world, "ivo")) as client:
        told = [n for n in client.notifications() if n["kind"] == "reviews_orphaned"]
    assert len(told) == 1 and "no one in the backup pool" in told[0]["headline"]
    assert "review reassign" in told[0]["headline"]


def test_a_leavers_reviews_move_and_the_backup_reads_the_same_anonymous_packet(
    world: dict,
) -> None:
    course = world["course"]
    course.add_learners(["Gus Hale", "Hal Ito"], teams=0, role="facilitator")
    for username in ("gus", "hal"):
        world["tokens"][username] = _token(course, username)
    for username in ("ben", "chi"):
        _submit_all(world, username)
    before = _allocations(course)
    owed = {aid: row for aid, row in before.items() if row[0] == "dara" and row[3] == "assigned"}
    assert len(owed) == 2
    with closing(_client(world, "dara")) as client:
        report = client.leave()
    assert report["reviews_moved"] == {ASSIGNMENT: 2} and report["reviews_left"] == {}
    said = json.dumps(report)  # the leaver learns counts only, no one's name
    assert not [u for u in course.members if _names(u, said)], said
    after = _allocations(course)
    assert {after[aid][3] for aid in owed} == {"reassigned"}
    new = {aid: row for aid, row in after.items() if aid not in before}
    assert sorted(row[2] for row in new.values()) == sorted(row[2] for row in owed.values())
    world["moved"] = {}
    for aid, (reviewer, author, packet, status) in new.items():
        assert status == "assigned" and reviewer not in ("dara", "fay", author)
        assert (reviewer, author) not in {(r, a) for r, a, _p, _s in before.values()}
        old = next(o for o, row in owed.items() if row[2] == packet)
        with closing(_client(world, reviewer)) as client:
            files = client.review_packet(ASSIGNMENT, aid)  # the packet the service keeps
            inbox = client.review_inbox(ASSIGNMENT)["inbox"]
            notes = client.notifications()
        assert files == world["packets"][old]  # the same anonymized files dara had
        assert f"/home/{author}/" not in files[f"{ASSIGNMENT}.ipynb"].decode()
        item = next(i for i in inbox if i["allocation_id"] == aid)
        assert item["author"] is None  # double-blind
        assigned = [n for n in notes if n["kind"] == "review_assigned"]
        assert assigned and not _names(author, json.dumps(assigned))
        world["moved"][aid] = (reviewer, author)
    with closing(_client(world, "dara")) as client, pytest.raises(ClientError) as again:
        client.leave()  # leaving twice: her token went with the first
    assert again.value.status == 401


def test_leaving_twice_through_the_services_moves_nothing(world: dict) -> None:
    course = world["course"]
    before = _allocations(course)
    with course.store.write() as s:
        member = s.get_one(Member, course.members["dara"].id)
        report = leave(s, Actor.system(), member, reason="again")
    assert report.already and report.reviews_moved == {} and report.reviews_left == {}
    assert _allocations(course) == before


def test_two_members_leaving_at_once_leave_no_review_with_one_who_left(world: dict) -> None:
    """A finished reviewer (a backup) and a learner who owes reviews leave at the same time,
    whatever the order, the reviews the learner owed end with someone still here, or the
    report says why not."""
    course = world["course"]
    authors = {a for _r, a in world["moved"].values()}
    backups = {r for r, _a in world["moved"].values()}
    rows = _allocations(course).values()
    # prefer leavers who wrote none of the moved reviews' submissions (their authors read
    # the backups' reviews in the last test)
    finished = sorted({"ben", "chi"} - backups, key=lambda u: (u in authors, u))
    owing = sorted({r for r, _a, _p, st in rows if st == "assigned"} & _active(course)
                   - backups - {"gus", "hal"}, key=lambda u: (u in authors, u))  # fmt: skip
    assert finished and owing, (finished, owing)
    pair = (finished[0], owing[0])
    assert authors - set(pair), "an author of a moved review stays to read it"
    reports: dict[str, Any] = {}

    def go(username: str) -> None:
        with closing(_client(world, username)) as client:
            reports[username] = client.leave()

    threads = [threading.Thread(target=go, args=(u,)) for u in pair]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(reports) == set(pair), reports
    told = {u for u, r in reports.items() if r["reviews_left"]}
    assert _stranded(course) <= {"fay"} | told, (reports, _stranded(course))
    assert reports[owing[0]]["owed_reviews"] == [ASSIGNMENT]


def test_the_backups_review_reaches_the_author_when_the_round_closes(world: dict) -> None:
    course = world["course"]
    active = _active(course)
    for aid, (reviewer, _author) in world["moved"].items():
        if reviewer in active:
            with closing(_client(world, reviewer)) as client:
                client.save_review(
                    ASSIGNMENT, aid, scores={c: 3.0 for c in CRITERIA},
                    comments={c: "see cell 3" for c in CRITERIA},
                    overall_comment=f"backup-note-{aid}", submit=True,
                )  # fmt: skip
    for username in sorted(active - {"ivo"}):
        _submit_all(world, username)
    close(world["ctx"], ASSIGNMENT, force=True, complete_short=True)
    names = {m.name for m in course.members.values()} | set(course.members)
    seen = 0
    for aid, (reviewer, author) in world["moved"].items():
        if author not in active or reviewer not in active:
            continue
        with closing(_client(world, author)) as client:
            own = client.review_inbox(ASSIGNMENT)["own"]
        assert own["visible"], own
        mine = [r for r in own["reviews"] if f"backup-note-{aid}" in r["overall_html"]]
        assert len(mine) == 1, own["reviews"]
        assert mine[0]["reviewer"] not in names  # "Reviewer 1", never a name
        assert not _names(reviewer, json.dumps(own))
        seen += 1
    assert seen, world["moved"]
