"""Graduation while something else changes the cohort, on SQLite and PostgreSQL: each pair of
units of work runs in two connections, the first held open while the second starts (on
PostgreSQL both read before either commits unless the cohort row is locked). Whatever the
order, a graduated cohort has no open review round, graduates once, and gains no learner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.models import Activity, Cohort, Member, ReviewRound, utcnow
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Conflict
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.services.review_rounds import create_round, reopen_round
from nbcohort.cohorts.services.roster import import_roster
from nbcohort.cohorts.store import Store
from tests.helpers.community import race
from tests.helpers.graduation import make_cohort

SYSTEM = Actor.system()


def _cohort(s, slug: str = "spring") -> Cohort:
    return s.scalars(select(Cohort).where(Cohort.slug == slug)).one()


def _graduate(s) -> None:
    graduate(s, SYSTEM, _cohort(s))


def _open_round(s) -> None:
    create_round(
        s, SYSTEM, _cohort(s), assignment="ps-3", criteria=[], settings={}, reviewers=2,
        seed=1, due_at=utcnow() + timedelta(days=7), folder="", submissions=[], pairs=[],
    )  # fmt: skip


def _reopen_round(s) -> None:
    rnd = s.scalars(select(ReviewRound).where(ReviewRound.assignment == "ps-1")).one()
    reopen_round(s, SYSTEM, rnd, utcnow() + timedelta(days=7))


def _state(store: Store) -> tuple[bool, int, int]:
    """(graduated, open review rounds, graduation log entries)."""
    with store.read() as s:
        graduated = _cohort(s).graduated_at is not None
        rounds = s.scalar(select(func.count()).where(ReviewRound.status == "open"))
        logged = s.scalar(select(func.count()).where(Activity.verb == "cohort.graduate"))
    return graduated, rounds or 0, logged or 0


@pytest.fixture
def spring(store: Store) -> dict[str, Member]:
    people = make_cohort(store, "spring", "pandas-practice")
    with store.write() as s:
        s.add(ReviewRound(cohort_id=_cohort(s).id, assignment="ps-1", status="closed"))
    return people


@pytest.mark.parametrize("opening", [_open_round, _reopen_round], ids=["open", "reopen"])
def test_a_round_opening_while_the_cohort_graduates_is_refused(store, spring, opening):
    errors = race(store, _graduate, opening)
    assert [type(e) for e in errors] == [Conflict]
    assert "no review round can open" in str(errors[0])
    assert _state(store) == (True, 0, 1)


@pytest.mark.parametrize("opening", [_open_round, _reopen_round], ids=["open", "reopen"])
def test_graduating_while_a_round_opens_is_refused_naming_it(store, spring, opening):
    errors = race(store, opening, _graduate)
    assert [type(e) for e in errors] == [Conflict]
    assert "open review round" in str(errors[0])
    assert _state(store) == (False, 1, 0)


def test_two_graduations_at_once_do_the_work_once(store, spring):
    reports = []
    errors = race(
        store, lambda s: reports.append(graduate(s, SYSTEM, _cohort(s))),
        lambda s: reports.append(graduate(s, SYSTEM, _cohort(s))),
    )  # fmt: skip
    assert errors == []
    assert [r.already for r in reports] == [False, True]
    assert _state(store) == (True, 0, 1)


def _role_of(store: Store, username: str) -> str:
    with store.read() as s:
        return s.scalars(select(Member.role).where(Member.username == username)).one()


def test_a_learner_added_while_the_cohort_graduates_becomes_alumni(store, spring):
    def add(s) -> None:
        add_member(s, SYSTEM, _cohort(s), name="Dee", email="dee@spring.org", username="dee")

    assert race(store, _graduate, add) == []
    assert _role_of(store, "dee") == "alumni"


def test_a_learner_added_before_the_cohort_graduates_becomes_alumni(store, spring):
    def add(s) -> None:
        add_member(s, SYSTEM, _cohort(s), name="Dee", email="dee@spring.org", username="dee")

    assert race(store, add, _graduate) == []
    assert _role_of(store, "dee") == "alumni"


def test_a_roster_imported_while_the_cohort_graduates_brings_alumni(store, spring):
    def load(s) -> None:
        import_roster(s, SYSTEM, _cohort(s), "name,email,team,role\nEd,ed@spring.org,red,learner\n")

    assert race(store, _graduate, load) == []
    assert _role_of(store, "ed") == "alumni"
