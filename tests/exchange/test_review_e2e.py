"""A whole review round on a real nbgrader course: 12 learners fetch, answer and submit
project-1; the instructor opens the round; everyone reviews; the round closes; peer scores
land in nbgrader's gradebook and the comments reach the learners through nbgrader feedback."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest

from nbcohort.cohorts.models import Cohort, Member, clock_at, utcnow
from nbcohort.cohorts.services import reviews
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.store import Store
from nbcohort.exchange import round_close, round_open
from tests.helpers.peer_course import ANSWER_CELLS, ASSIGNMENT, PeerCourse

NAMES = [
    "Ana Souza",
    "Ben Okafor",
    "Chi Nguyen",
    "Dara Kim",
    "Eli Cohen",
    "Fatma Yilmaz",
    "Gus Moreau",
    "Hana Sato",
    "Ines Duarte",
    "Jon Berg",
    "Kofi Mensah",
    "Lena Novak",
]
CRITERIA = ("question", "evidence", "recommendation")

pytestmark = pytest.mark.slow


@pytest.fixture
def course(tmp_path: Path, sqlite_store: Store) -> PeerCourse:
    course = PeerCourse(tmp_path, sqlite_store)
    course.add_learners(NAMES)
    return course


def review_everything(
    course: PeerCourse, quality: dict[str, int], *, skip: set[str] = frozenset()
) -> int:
    """Each learner scores each packet near its author's quality (the truth is known here
    because the packet is anonymous: we look the author up the way only a test may)."""
    rng = random.Random(5)
    done = 0
    with course.store.write() as s:
        cohort = s.get_one(Cohort, course.cohort_id)
        for username, member in course.members.items():
            if username in skip:
                continue
            actor = Actor.of(s.get_one(Member, member.id))
            inbox = reviews.review_inbox(s, actor, cohort, ASSIGNMENT)
            for item in inbox["inbox"]:
                from nbcohort.cohorts.models import Allocation

                alloc = s.get_one(Allocation, item["allocation_id"])
                author = alloc.submission.author.username
                q = quality[author]
                scores = {c: max(0, min(3, q + rng.choice((-1, 0, 0, 0, 1)))) for c in CRITERIA}
                comments = {c: f"On {c}: clear, see the cell about it." for c in CRITERIA}
                reviews.save_review(
                    s,
                    actor,
                    cohort,
                    item["allocation_id"],
                    scores=scores,
                    comments=comments,
                    overall_comment="Good work.",
                    submit=True,
                )
                done += 1
    return done


def test_a_whole_round_through_nbgrader(course: PeerCourse) -> None:
    rng = random.Random(11)
    quality = {}
    for name in NAMES:
        username = name.split()[0].lower()
        course.fetch(username)
        quality[username] = rng.randint(1, 3)
        course.answer(username, name, quality[username])
        course.submit(username)

    ctx = course.context()
    due = utcnow() + timedelta(days=7)
    report = round_open.open_round(ctx, ASSIGNMENT, due=due, seed=3)
    assert report.submissions == 12 and report.allocations == 36
    assert report.excluded == {}
    # every learner's name in Part B is reported to the instructor, not edited
    assert sorted(report.mentions) == sorted(course.members)

    # packets carry no identity: no username, no home path, no name in outputs
    packets = sorted((ctx.data_dir / "reviews").rglob("packets/*/project-1.ipynb"))
    assert len(packets) == 36
    for packet in packets:
        text = packet.read_text("utf-8")
        assert "/home/" not in text
        assert "b1-question: an answer of quality" in text

    assert review_everything(course, quality) == 36

    with clock_at(due + timedelta(hours=1)):
        closed = round_close.close(ctx, ASSIGNMENT)
    assert closed.results == 12 and closed.short == {} and closed.unreviewed == []
    assert closed.grades == {} and closed.graded == 12

    with course.store.read() as s:
        from nbcohort.cohorts.models import ReviewSubmission

        results = {
            sub.author.username: sub.result
            for sub in s.query(ReviewSubmission).filter_by(kind="peer")
        }
    with course.api.gradebook as gb:
        for username, result in results.items():
            for cell, cid in zip(ANSWER_CELLS, CRITERIA, strict=True):
                grade = gb.find_grade(cell, ASSIGNMENT, ASSIGNMENT, username)
                assert grade.manual_score == pytest.approx(result["scores"][cid])
                comment = gb.find_comment(cell, ASSIGNMENT, ASSIGNMENT, username)
                assert "Reviewer A: On" in comment.manual_comment
    # good work scores higher than weak work, through the whole pipeline
    strong = [r["total"] for u, r in results.items() if quality[u] == 3]
    weak = [r["total"] for u, r in results.items() if quality[u] == 1]
    if strong and weak:
        assert min(strong) > max(weak) - 1.5

    feedback = course.fetch_feedback("ana")
    assert feedback, "nbgrader released no feedback to ana"
    html = feedback[-1].read_text("utf-8")
    assert "On question: clear" in html

    # the author sees reviews (anonymised) and rates one; reputation shows in status
    with course.store.write() as s:
        cohort = s.get_one(Cohort, course.cohort_id)
        ana = Actor.of(s.get_one(Member, course.members["ana"].id))
        own = reviews.review_inbox(s, ana, cohort, ASSIGNMENT)["own"]
        assert own["visible"] and len(own["reviews"]) == 3
        assert {r["reviewer"] for r in own["reviews"]} == {"Reviewer A", "Reviewer B", "Reviewer C"}
        assert "explanation" in own["result"]
        reviews.rate_review(s, ana, cohort, own["reviews"][0]["id"], 5)

    # an instructor's override wins over the peers, is logged, and reaches the gradebook
    from nbcohort.cohorts.models import Activity
    from nbcohort.cohorts.services.errors import Invalid
    from nbcohort.cohorts.services.review_rounds import find_round, set_override

    with course.store.write() as s:
        cohort = s.get_one(Cohort, course.cohort_id)
        rnd = find_round(s, Actor.system(), cohort, ASSIGNMENT)
        ben = s.get_one(Member, course.members["ben"].id)
        for scores, reason, field in (
            ({"question": 2.5}, "half points", "points"),
            ({"style": 1}, "no such criterion", "criterion"),
            ({"question": 1}, " ", "reason"),
        ):
            with pytest.raises(Invalid) as refused:
                set_override(s, Actor.system(), rnd, ben, scores, reason)
            assert refused.value.field == field
        set_override(s, Actor.system(), rnd, ben, {"question": 0}, "Part B copied from ana")
    pushed = round_close.push_grades(ctx, ASSIGNMENT)
    assert pushed["failed"] == {}
    with course.api.gradebook as gb:
        assert gb.find_grade("b1-question", ASSIGNMENT, ASSIGNMENT, "ben").manual_score == 0
        comment = gb.find_comment("b1-question", ASSIGNMENT, ASSIGNMENT, "ben").manual_comment
        assert "Instructor's score: Part B copied from ana" in comment
    with course.store.read() as s:
        assert s.query(Activity).filter_by(verb="review.override").count() == 1
