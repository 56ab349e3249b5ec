"""A member who leaves while a review round is open, on a real nbgrader course (SQLite and
PostgreSQL) whose packets are in the instructor's course folder: the leave cannot move the
reviews they owe (the instructors are told why), ``review reassign`` moves them to the backup
pool, and the round still closes with their own work graded (their username stays for
nbgrader's gradebook). A round opened through the service exchange moves them with the leave:
``test_leaving_backup_service.py``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from nbcohort.cohorts.models import Allocation, Member, Notification, ReviewSubmission, utcnow
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.leaving import leave
from nbcohort.cohorts.services.leaving_reviews import FOLDER_PACKETS
from nbcohort.cohorts.services.members import add_member
from nbcohort.exchange import round_close
from nbcohort.exchange.round_update import update_round
from tests.exchange.test_review_rounds import _inbox, _open, _submit, any_course  # noqa: F401
from tests.helpers.peer_course import ASSIGNMENT

pytestmark = pytest.mark.slow


def test_leaving_with_reviews_owed_moves_them_and_grades_stay(any_course):  # noqa: F811
    _open(any_course, days=1)
    for username in ("ana", "ben", "chi", "dara", "eli"):
        for item in _inbox(any_course, username)["inbox"]:
            _submit(any_course, username, item["allocation_id"])
    fatma_id = any_course.members["fatma"].id
    with any_course.store.write() as s:
        cohort = s.get_one(Member, fatma_id).cohort
        add_member(
            s, Actor.system(), cohort, name="Ivo", email="ivo@example.org", role="instructor"
        )
        fatma = s.get_one(Member, fatma_id)
        report = leave(s, Actor.of(fatma), fatma)
    assert report.owed_reviews == [ASSIGNMENT]  # packets in the course folder: nothing moved
    assert report.reviews_left == {ASSIGNMENT: FOLDER_PACKETS} and report.reviews_moved == {}
    with any_course.store.read() as s:  # the instructors are told, whoever asked to leave
        told = s.execute(
            select(Member.role, Notification.data).join(Member, Member.id == Notification.member_id)
            .where(Notification.kind == "reviews_orphaned")
        ).all()  # fmt: skip
    assert told and {role for role, _data in told} == {"instructor"}
    reasons = {ASSIGNMENT: FOLDER_PACKETS}
    assert all(
        data == {"assignments": [ASSIGNMENT], "count": 2, "reasons": reasons} for _r, data in told
    )
    moved = update_round(any_course.context(), ASSIGNMENT, due=utcnow() + timedelta(days=2))
    assert len(moved.moved) == 2 and all(old == "fatma" for _a, old, _n in moved.moved)
    for _author, _old, new in moved.moved:
        for item in _inbox(any_course, new)["inbox"]:
            if item["review"]["draft"]:
                _submit(any_course, new, item["allocation_id"])
    with any_course.store.read() as s:
        live = s.scalars(select(Allocation).where(Allocation.status == "assigned")).all()
        assert fatma_id not in {a.reviewer_id for a in live}
    round_close.close(any_course.context(), ASSIGNMENT, force=True)
    with any_course.store.read() as s:
        mine = s.scalars(select(ReviewSubmission).where(ReviewSubmission.author_id == fatma_id))
        assert mine.one().result  # the reviews she received, aggregated, stay with staff
    with any_course.api.gradebook as gb:
        assert gb.find_submission(ASSIGNMENT, "fatma").score > 0
