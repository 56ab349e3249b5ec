"""After graduation no review round opens, through the exchange as ``nbcohort review open``
and ``review reopen`` run it: refused before nbgrader collects anything, naming why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.cohort_checks import check_cohort_file
from nbcohort.cohorts.models import Cohort, ReviewRound, utcnow
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_apply import apply_cohort_file
from nbcohort.cohorts.services.errors import Conflict
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.exchange import round_close, round_open
from tests.exchange.test_review_rounds import _course
from tests.helpers.graduation import cohort_file
from tests.helpers.peer_course import ASSIGNMENT, PeerCourse

pytestmark = pytest.mark.slow


def _graduate(course: PeerCourse) -> None:
    spec, _ = check_cohort_file(cohort_file(course.cohort, "pandas-practice"), "c.toml")
    assert spec is not None
    with course.store.write() as s:
        apply_cohort_file(s, Actor.system(), spec, "sha")
        graduate(s, Actor.system(), s.get_one(Cohort, course.cohort_id))


def test_no_round_opens_or_reopens_after_graduation(tmp_path: Path, sqlite_store) -> None:
    course = _course(tmp_path, sqlite_store)
    ctx = course.context()
    due = utcnow() + timedelta(days=7)
    round_open.open_round(ctx, ASSIGNMENT, due=due, reviewers=2, seed=1)
    round_close.close(ctx, ASSIGNMENT, force=True, complete_short=True)
    _graduate(course)
    with pytest.raises(Conflict, match="graduated into the community 'pandas-practice'"):
        round_close.reopen(ctx, ASSIGNMENT, due=due)
    with sqlite_store.read() as s:
        assert s.scalar(select(ReviewRound.status)) == "closed"
    folders = sorted((ctx.data_dir / "reviews").rglob("*"))
    with pytest.raises(Conflict, match="no review round can open"):
        round_open.open_round(ctx, ASSIGNMENT, due=due, reviewers=2, seed=1)
    assert sorted((ctx.data_dir / "reviews").rglob("*")) == folders  # nothing collected
    with sqlite_store.read() as s:
        assert s.scalar(select(func.count()).select_from(ReviewRound)) == 1
