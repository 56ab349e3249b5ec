"""Review rounds under bad input and awkward timing, on a real nbgrader course: broken and
huge submissions, scores outside the rubric, late reviews, reviewers who leave, reopening,
two instructors opening the same round at once, and the `nbcohort review` commands."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import select

from nbcohort.cohorts.models import (
    Activity,
    Allocation,
    Cohort,
    Member,
    ReviewRound,
    clock_at,
    utcnow,
)
from nbcohort.cohorts.services import review_packets, reviews
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.members import set_active
from nbcohort.cohorts.services.review_rounds import withdraw_allocations
from nbcohort.cohorts.store import Store
from nbcohort.exchange import round_close, round_open
from nbcohort.exchange.round_context import RoundError
from nbcohort.exchange.round_update import update_round
from tests.helpers.peer_course import ASSIGNMENT, PeerCourse
from tests.helpers.processes import isolated_env

pytestmark = pytest.mark.slow
NAMES = ["Ana Souza", "Ben Okafor", "Chi Nguyen", "Dara Kim", "Eli Cohen", "Fatma Yilmaz"]


def _course(tmp_path: Path, store: Store) -> PeerCourse:
    course = PeerCourse(tmp_path, store)
    course.add_learners(NAMES, teams=0)
    for name in NAMES:
        username = name.split()[0].lower()
        course.fetch(username)
        course.answer(username, name, 2)
        course.submit(username)
    return course


@pytest.fixture
def course(tmp_path: Path, sqlite_store: Store) -> PeerCourse:
    return _course(tmp_path, sqlite_store)


@pytest.fixture
def any_course(tmp_path: Path, store: Store) -> PeerCourse:
    """The same course on SQLite and, with NBCOHORT_TEST_DB_URL, on PostgreSQL."""
    return _course(tmp_path, store)


def _actor(course: PeerCourse, username: str) -> tuple[Actor, Cohort]:
    with course.store.read() as s:
        member = s.get_one(Member, course.members[username].id)
        return Actor.of(member), s.get_one(Cohort, course.cohort_id)


def _open(course: PeerCourse, k: int = 2, days: float = 7) -> round_open.OpenReport:
    return round_open.open_round(
        course.context(), ASSIGNMENT, due=utcnow() + timedelta(days=days), reviewers=k, seed=1
    )


def _inbox(course: PeerCourse, username: str) -> dict:
    actor, cohort = _actor(course, username)
    with course.store.read() as s:
        return reviews.review_inbox(s, actor, cohort, ASSIGNMENT)


def _submit(course: PeerCourse, username: str, allocation_id: int, **scores: float) -> dict:
    actor, cohort = _actor(course, username)
    scores = scores or {"question": 2, "evidence": 2, "recommendation": 2}
    with course.store.write() as s:
        return reviews.save_review(
            s,
            actor,
            cohort,
            allocation_id,
            scores=scores,
            comments={c: "Specific and kind." for c in scores},
            submit=True,
        )


def test_broken_and_huge_submissions_are_reported_and_the_round_goes_on(course):
    course.break_submission("ana", b'{"cells": [ oops')
    huge = nbformat.read(course.home("ben") / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    code = next(c for c in huge.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 3_000_000)]
    course.break_submission("ben", nbformat.writes(huge).encode())
    course.break_submission("chi", json.dumps({"cells": "not a list"}).encode())
    report = _open(course)
    assert set(report.excluded) == {"ana", "chi"}
    assert "project-1.ipynb" in report.excluded["ana"] and "JSON" in report.excluded["ana"]
    assert "project-1.ipynb" in report.excluded["chi"]
    assert report.submissions == 4 and report.allocations == 8
    assert any("output" in note for note in report.notes["ben"])
    packet = max(
        (course.tmp / "data").rglob("packets/*/project-1.ipynb"), key=lambda p: p.stat().st_size
    )
    assert packet.stat().st_size < 1_500_000
    # the instructor sees the left-out submissions in the status
    with course.store.read() as s:
        from nbcohort.cohorts.services.review_rounds import find_round
        from nbcohort.cohorts.services.review_status import round_status

        cohort = s.get_one(Cohort, course.cohort_id)
        status = round_status(s, Actor.system(), find_round(s, Actor.system(), cohort, ASSIGNMENT))
    assert set(status["excluded"]) == {"ana", "chi"}


def test_scores_must_be_levels_and_reviews_close_at_the_due_date(any_course):
    _open(any_course, days=1)
    item = _inbox(any_course, "dara")["inbox"][0]
    actor, cohort = _actor(any_course, "dara")
    with any_course.store.write() as s, pytest.raises(Invalid) as bad:
        reviews.save_review(
            s, actor, cohort, item["allocation_id"], scores={"question": 7}, submit=False
        )
    assert bad.value.field == "scores.question" and "0, 1, 2, 3" in bad.value.message
    with any_course.store.write() as s, pytest.raises(Invalid) as missing:
        reviews.save_review(
            s, actor, cohort, item["allocation_id"], scores={"question": 2}, submit=True
        )
    assert "evidence" in missing.value.message
    with any_course.store.write() as s, pytest.raises(Invalid) as ghost:
        reviews.save_review(s, actor, cohort, item["allocation_id"], scores={"style": 1})
    assert ghost.value.field == "scores.style"
    assert _submit(any_course, "dara", item["allocation_id"])["draft"] is False
    # another learner cannot touch dara's review
    eli, _ = _actor(any_course, "eli")
    with any_course.store.write() as s, pytest.raises(Exception, match="no review"):
        reviews.save_review(s, eli, cohort, item["allocation_id"], scores={})
    with clock_at(utcnow() + timedelta(days=2)):
        with pytest.raises(Conflict, match="due"):
            _submit(any_course, "dara", item["allocation_id"])
        assert _inbox(any_course, "dara")["inbox"][0]["review"]["editable"] is False


def test_a_reviewer_who_leaves_the_roster_has_their_reviews_moved(any_course):
    _open(any_course, days=1)
    for username in ("ana", "ben", "chi", "dara", "eli"):
        for item in _inbox(any_course, username)["inbox"]:
            _submit(any_course, username, item["allocation_id"])
    with any_course.store.write() as s:
        cohort = s.get_one(Cohort, any_course.cohort_id)
        set_active(s, Actor.system(), s.get_one(Member, any_course.members["fatma"].id), False)
    report = update_round(any_course.context(), ASSIGNMENT, due=utcnow() + timedelta(days=2))
    assert len(report.moved) == 2 and all(old == "fatma" for _a, old, _n in report.moved)
    with any_course.store.read() as s:
        live = s.scalars(
            select(Allocation).where(Allocation.status.in_(["assigned", "submitted"]))
        ).all()
        per_sub: dict[int, set[int]] = {}
        for a in live:
            per_sub.setdefault(a.submission_id, set()).add(a.reviewer_id)
        assert all(len(r) == 2 for r in per_sub.values())
        assert any_course.members["fatma"].id not in {a.reviewer_id for a in live}
        for a in live:
            assert a.reviewer_id != a.submission.author_id
    # the new reviewer can open the moved packet
    new_reviewer = report.moved[0][2]
    moved = [i for i in _inbox(any_course, new_reviewer)["inbox"] if i["review"]["draft"]]
    actor, cohort = _actor(any_course, new_reviewer)
    with any_course.store.read() as s:
        files = review_packets.packet_files(s, actor, cohort, moved[0]["allocation_id"])
    assert "project-1.ipynb" in files


def test_reopen_only_a_closed_round_and_close_again(course):
    _open(course, days=1)
    ctx = course.context()
    with pytest.raises(Conflict, match="open, not closed"):
        round_close.reopen(ctx, ASSIGNMENT, due=utcnow() + timedelta(days=3))
    with pytest.raises(Conflict, match="already open"):
        _open(course)
    with pytest.raises(RoundError, match="--force"):
        round_close.close(ctx, ASSIGNMENT)
    with pytest.raises(RoundError, match="lack reviews"):
        round_close.close(ctx, ASSIGNMENT, force=True)
    report = round_close.close(ctx, ASSIGNMENT, force=True, complete_short=True)
    assert sorted(report.unreviewed) == sorted(course.members)
    with pytest.raises(Conflict, match="already closed"):
        _open(course)
    round_close.reopen(ctx, ASSIGNMENT, due=utcnow() + timedelta(days=3))
    with course.store.read() as s:
        assert s.scalar(select(ReviewRound.status)) == "open"
    round_close.close(ctx, ASSIGNMENT, force=True, complete_short=True)
    with pytest.raises(Invalid, match="passed"):
        round_close.reopen(ctx, ASSIGNMENT, due=utcnow() - timedelta(days=1))


def test_two_instructors_opening_the_same_round_at_once(any_course):
    results: list[object] = []

    def go() -> None:
        try:
            results.append(_open(any_course))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    opened = [r for r in results if isinstance(r, round_open.OpenReport)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(opened) == 1 and len(refused) == 1, results
    with any_course.store.read() as s:
        assert s.scalar(select(ReviewRound.id).where(ReviewRound.id != opened[0].round_id)) is None
        folders = list((any_course.tmp / "data" / "reviews" / any_course.cohort).iterdir())
    assert len([f for f in folders if f.is_dir()]) == 1, "the losing open left files behind"


def test_the_review_commands_as_an_instructor_runs_them(course, tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "jupyter_config.py").write_text(
        f"c.NbCohort.db_url = {course.store.engine.url.render_as_string(hide_password=False)!r}\n"
        f"c.NbCohort.data_dir = {str(tmp_path / 'data')!r}\n"
        f"c.NbCohort.default_cohort = {course.cohort!r}\n"
        f"c.CourseDirectory.root = {str(course.root)!r}\n"
        "c.CourseDirectory.course_id = 'pandas-practice'\n"
        f"c.Exchange.root = {str(tmp_path / 'exchange')!r}\n"
    )
    env = isolated_env(tmp_path, JUPYTER_CONFIG_PATH=str(conf))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "nbcohort.cohorts.cli", "review", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    bad = run("open", ASSIGNMENT, "--due=next tuesday")
    assert bad.returncode == 2 and "--due 'next tuesday'" in bad.stderr
    missing = run("open", "module-9", "--due=2099-01-01")
    assert missing.returncode == 2 and "no [assignments.module-9]" in missing.stderr
    opened = run("open", ASSIGNMENT, "--due=2099-01-01", "--reviewers=2", "--seed=4")
    assert opened.returncode == 0, opened.stderr
    assert "6 submissions, 12 packets" in opened.stdout
    status = run("status", ASSIGNMENT, "--json")
    data = json.loads(status.stdout)
    assert data["status"] == "open" and len(data["submissions"]) == 6
    assert all(s["reviews_assigned"] == 2 for s in data["submissions"])
    reminded = run("remind", ASSIGNMENT)
    assert reminded.returncode == 0 and "reminded 6 reviewer(s)" in reminded.stdout
    early = run("close", ASSIGNMENT)
    assert early.returncode == 2 and "--force" in early.stderr
    again = run("reopen", ASSIGNMENT, "--due=2099-02-01")
    assert again.returncode == 2 and "not closed" in again.stderr


def test_a_late_submission_joins_without_breaking_the_allocation(course):
    course.add_learners(["Gus Moreau"], teams=0)
    _open(course, k=2, days=1)
    course.fetch("gus")
    course.answer("gus", "Gus Moreau", 3)
    course.submit("gus")
    report = update_round(course.context(), ASSIGNMENT, due=utcnow() + timedelta(days=2))
    assert report.late == ["gus"] and report.moved == []
    with course.store.read() as s:
        live = s.scalars(
            select(Allocation).where(Allocation.status.in_(["assigned", "submitted"]))
        ).all()
        reviewers_of: dict[int, set[int]] = {}
        load: dict[int, int] = {}
        for a in live:
            reviewers_of.setdefault(a.submission.author_id, set()).add(a.reviewer_id)
            load[a.reviewer_id] = load.get(a.reviewer_id, 0) + 1
            assert a.reviewer_id != a.submission.author_id
    assert len(reviewers_of) == 7 and all(len(r) == 2 for r in reviewers_of.values())
    assert set(load.values()) == {2}, load
    gus = _inbox(course, "gus")["inbox"]
    assert len(gus) == 2 and all(i["packet"] for i in gus)
    with course.store.read() as s:  # the pairs gus broke were withdrawn through the services
        withdrawn = s.scalars(select(Allocation.id).where(Allocation.status == "withdrawn")).all()
        logged = s.scalars(
            select(Activity.object_id).where(Activity.verb == "review.withdraw")
        ).all()
    assert len(withdrawn) == 2 and sorted(logged) == sorted(withdrawn)


def test_only_unbegun_allocations_of_an_open_round_are_withdrawn_all_or_none(course):
    _open(course, k=2)
    begun = _inbox(course, "ana")["inbox"][0]["allocation_id"]
    _submit(course, "ana", begun)
    draft = _inbox(course, "ben")["inbox"][0]["allocation_id"]
    learner, cohort = _actor(course, "ben")
    with course.store.write() as s:
        reviews.save_review(s, learner, cohort, draft, scores={"question": 1}, submit=False)
    with course.store.read() as s:
        fresh = s.scalars(
            select(Allocation.id)
            .where(Allocation.status == "assigned", Allocation.id != draft)
            .order_by(Allocation.id)
        ).all()[:2]

    def withdraw(actor: Actor, ids: list[int]) -> None:
        with course.store.write() as s:
            withdraw_allocations(s, actor, s.scalars(select(ReviewRound)).one(), ids)

    with pytest.raises(Forbidden):
        withdraw(learner, fresh)
    with pytest.raises(Conflict, match=f"allocation {begun} is submitted"):
        withdraw(Actor.system(), [*fresh, begun])
    with pytest.raises(Conflict, match=f"allocation {draft} is begun"):
        withdraw(Actor.system(), [*fresh, draft])
    with pytest.raises(NotFound):
        withdraw(Actor.system(), [*fresh, 10**6])
    with course.store.read() as s:
        assert s.scalar(select(Activity).where(Activity.verb == "review.withdraw")) is None
        assert {s.get_one(Allocation, i).status for i in fresh} == {"assigned"}
    withdraw(Actor.system(), fresh)
    with course.store.read() as s:
        assert {s.get_one(Allocation, i).status for i in fresh} == {"withdrawn"}
        logged = s.scalars(select(Activity.object_id).where(Activity.verb == "review.withdraw"))
        assert sorted(logged) == sorted(fresh)
    round_close.close(course.context(), ASSIGNMENT, force=True, complete_short=True)
    with pytest.raises(Conflict, match="closed"):
        withdraw(Actor.system(), [begun])
