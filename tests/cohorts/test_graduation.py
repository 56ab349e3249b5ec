"""Graduation through the real services layer, on SQLite and PostgreSQL: learners become
alumni, nothing is deleted, twice changes nothing, a dry run changes nothing, review rounds no
longer open, the cadence becomes the community's, and the refusals name what is wrong."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.cohort_checks import check_cohort_file
from nbcohort.cohorts.local_time import weekday_number
from nbcohort.cohorts.models import (
    Activity,
    CadenceItem,
    Cohort,
    Event,
    Member,
    Post,
    ReviewRound,
    Thread,
    utcnow,
)
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_apply import apply_cohort_file
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.cohorts.services.posts import create_post
from nbcohort.cohorts.services.review_rounds import create_round, reopen_round
from nbcohort.cohorts.store import Store
from tests.helpers.graduation import cohort_file, make_cohort

SYSTEM = Actor.system()


def _cohort(s, slug: str) -> Cohort:
    return s.scalars(select(Cohort).where(Cohort.slug == slug)).one()


def _roles(store: Store, slug: str) -> dict[str, str]:
    with store.read() as s:
        rows = s.execute(
            select(Member.username, Member.role).join(Cohort).where(Cohort.slug == slug)
        )
        return dict(rows.all())


def _count(store: Store, model, *where) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def spring(store: Store) -> dict[str, Member]:
    people = make_cohort(store, "spring", "pandas-practice")
    with store.write() as s:
        cohort = _cohort(s, "spring")
        ana = s.get_one(Member, people["ana"].id)
        first = create_post(s, Actor.of(ana), cohort, "module-1/loading", "How do I read CSV?")
        create_post(s, Actor.of(s.get_one(Member, people["chi"].id)), cohort,
                    "module-1/loading", "pd.read_csv", parent_id=first.id)  # fmt: skip
    return people


def _graduate(store: Store, slug: str, actor: Actor = SYSTEM, **kw):
    with store.write() as s:
        return graduate(s, actor, _cohort(s, slug), **kw)


def test_learners_become_alumni_other_roles_stay_and_nothing_is_deleted(store, spring):
    before = (_count(store, Post), _count(store, Thread))
    report = _graduate(store, "spring")
    assert sorted(report.alumni) == ["ana-spring", "ben-spring"]
    assert report.kept == {"champion": 1, "facilitator": 1, "instructor": 1, "sponsor": 1}
    assert _roles(store, "spring") == {
        "ana-spring": "alumni",
        "ben-spring": "alumni",
        "chi-spring": "champion",
        "fay-spring": "facilitator",
        "ivo-spring": "instructor",
        "sam-spring": "sponsor",
    }
    assert (_count(store, Post), _count(store, Thread)) == before
    with store.read() as s:
        cohort = _cohort(s, "spring")
        assert cohort.community == "pandas-practice" and cohort.graduated_at is not None
        logged = s.scalars(select(Activity).where(Activity.verb == "cohort.graduate")).all()
    assert [a.data["community"] for a in logged] == ["pandas-practice"]
    assert logged[0].data["alumni"] == 2


def test_graduating_twice_changes_nothing(store, spring):
    _graduate(store, "spring")
    with store.read() as s:
        first = (_cohort(s, "spring").graduated_at, dict(_cohort(s, "spring").settings))
    activity = _count(store, Activity)
    again = _graduate(store, "spring")
    assert again.already and not again.alumni
    assert "nothing to change" in again.summary()
    with store.read() as s:
        assert (_cohort(s, "spring").graduated_at, _cohort(s, "spring").settings) == first
    assert _count(store, Activity) == activity


def test_dry_run_says_what_would_change_and_changes_nothing(store, spring):
    roles, activity = _roles(store, "spring"), _count(store, Activity)
    with store.read() as s:
        plan = sorted(s.scalars(select(CadenceItem.key)))
    report = _graduate(store, "spring", dry_run=True)
    assert report.dry_run and sorted(report.alumni) == ["ana-spring", "ben-spring"]
    text = report.summary()
    assert "would graduate" in text and "2 learners become alumni" in text
    assert "pandas-practice" in text and "nothing is deleted" in text
    assert _roles(store, "spring") == roles
    assert _count(store, Activity) == activity
    with store.read() as s:
        assert _cohort(s, "spring").graduated_at is None
        assert sorted(s.scalars(select(CadenceItem.key))) == plan
    assert not _graduate(store, "spring").already  # the real one still does everything


def test_an_open_review_round_refuses_graduation_naming_it(store, spring):
    with store.write() as s:
        s.add(ReviewRound(cohort_id=_cohort(s, "spring").id, assignment="ps-2", status="open"))
    roles = _roles(store, "spring")
    with pytest.raises(Conflict, match=r"open review round \('ps-2'\).*review close ps-2"):
        _graduate(store, "spring")
    with pytest.raises(Conflict, match="ps-2"):  # a dry run is refused the same way
        _graduate(store, "spring", dry_run=True)
    assert _roles(store, "spring") == roles
    assert _count(store, Activity, Activity.verb == "cohort.graduate") == 0


@pytest.mark.parametrize("who", ["ana", "chi", "fay", "sam"])
def test_only_an_instructor_graduates(store, spring, who):
    with pytest.raises(Forbidden, match=r"cohort\.graduate"):
        _graduate(store, "spring", Actor.of(spring[who]))
    assert _roles(store, "spring")["ana-spring"] == "learner"
    assert _graduate(store, "spring", Actor.of(spring["ivo"])).alumni


def test_an_instructor_of_another_cohort_cannot_graduate_this_one(store, spring):
    autumn = make_cohort(store, "autumn", "pandas-practice")
    with pytest.raises(NotFound, match="not found"):
        _graduate(store, "spring", Actor.of(autumn["ivo"]))
    assert _roles(store, "spring")["ana-spring"] == "learner"


def test_a_cohort_whose_file_names_no_community_is_refused(store):
    make_cohort(store, "solo", None)
    with pytest.raises(Invalid, match=r"no community.*\[community\]"):
        _graduate(store, "solo")
    assert _roles(store, "solo")["ana-solo"] == "learner"


def test_a_malformed_community_name_in_the_stored_file_is_refused(store, spring):
    with store.write() as s:  # as if the stored copy had been changed by hand
        cohort = _cohort(s, "spring")
        settings = dict(cohort.settings)
        rhythm = dict(settings["rhythm"])
        rhythm["community"] = {**rhythm["community"], "name": "../Other"}
        settings["rhythm"] = rhythm
        cohort.settings = settings
    with pytest.raises(Invalid, match="malformed"):
        _graduate(store, "spring")


def test_review_rounds_cannot_open_after_graduation_on_any_path(store, spring):
    with store.write() as s:
        closed = ReviewRound(cohort_id=_cohort(s, "spring").id, assignment="ps-1",
                             status="closed")  # fmt: skip
        s.add(closed)
    _graduate(store, "spring")
    due = utcnow() + timedelta(days=7)
    for actor in (SYSTEM, Actor.of(spring["ivo"])):
        with (
            pytest.raises(Conflict, match=r"graduated.*no review round can open"),
            store.write() as s,
        ):
            create_round(
                s, actor, _cohort(s, "spring"), assignment="ps-3", criteria=[], settings={},
                reviewers=2, seed=1, due_at=due, folder="", submissions=[], pairs=[],
            )  # fmt: skip
        with store.write() as s:
            rnd = s.scalars(select(ReviewRound).where(ReviewRound.assignment == "ps-1")).one()
            with pytest.raises(Conflict, match="no review round can open again"):
                reopen_round(s, actor, rnd, due)
    assert _count(store, ReviewRound) == 1
    assert _count(store, ReviewRound, ReviewRound.status == "open") == 0


def test_the_cadence_becomes_the_communitys_and_apply_keeps_it(store, spring):
    now = utcnow()
    with store.read() as s:
        published = s.scalars(select(CadenceItem).where(CadenceItem.due_at < now)).all()
        before_prompts = {
            i.due_at.date().weekday()
            for i in s.scalars(select(CadenceItem).where(CadenceItem.kind == "prompt"))
            if i.due_at >= now
        }
    assert len(before_prompts) > 1  # every weekday during the course
    report = _graduate(store, "spring")
    assert report.plan.removed > 0
    with store.read() as s:
        cohort = _cohort(s, "spring")
        assert cohort.settings["rhythm"]["cadence"]["prompts"]["days"] == ["tuesday"]
        assert cohort.settings["course_cadence"]["prompts"]["days"][0] == "monday"
        future = s.scalars(
            select(CadenceItem).where(CadenceItem.due_at >= now, CadenceItem.state == "planned")
        ).all()
        kinds = {i.kind for i in future}
        assert "routine" not in kinds and "highlights" not in kinds
        assert {
            i.due_at.astimezone(cohort_zone(cohort)).weekday() for i in future if i.kind == "prompt"
        } <= {weekday_number("tuesday")}
        still = {i.key for i in s.scalars(select(CadenceItem).where(CadenceItem.due_at < now))}
    assert {i.key for i in published} <= still  # what went out stays
    # `cohort apply` of the same file later keeps the community's cadence
    text = cohort_file("spring", "pandas-practice")
    spec, _ = check_cohort_file(text, "spring.toml")
    assert spec is not None
    with store.write() as s:
        apply_cohort_file(s, SYSTEM, spec, hashlib.sha256(text.encode()).hexdigest())
    with store.read() as s:
        assert _cohort(s, "spring").settings["rhythm"]["cadence"]["prompts"]["days"] == ["tuesday"]
    # ... and a file that names another community, or none, is refused
    for other in ("elsewhere", None):
        text = cohort_file("spring", other)
        spec, _ = check_cohort_file(text, "spring.toml")
        assert spec is not None
        with (
            pytest.raises(Conflict, match="graduated into the community 'pandas-practice'"),
            store.write() as s,
        ):
            apply_cohort_file(s, SYSTEM, spec, "x")


def cohort_zone(cohort: Cohort):
    from zoneinfo import ZoneInfo

    return ZoneInfo(cohort.timezone)


# -- the cohort file's [community] section ------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../escape", "'../escape'"),
        ("Pandas Practice", "'Pandas Practice'"),
        ("pаndas", "'pаndas'"),  # a Cyrillic 'а'
        ("x" * 64, "at most 63"),
        ("", "''"),
    ],
)
def test_a_malformed_community_name_is_refused_with_file_line_and_field(name, shown):
    text = cohort_file("spring", "placeholder").replace('"placeholder"', f'"{name}"')
    spec, problems = check_cohort_file(text, "spring.toml")
    assert spec is None
    line = text.splitlines().index(f'name = "{name}"') + 1
    assert [(p.file, p.line, p.key) for p in problems] == [("spring.toml", line, "community.name")]
    assert shown in problems[0].message and "lowercase letters" in problems[0].message


def test_the_community_cadence_is_checked_like_the_courses():
    text = (
        cohort_file("spring", "pandas-practice")
        + """
[[community.cadence.routines]]
key = "clinic-prep"
title = "Prep"
day = "funday"
time = "10:00"
prompt = "{{ nope }}"
[community.cadence.clinic]
week = 9
"""
    )
    spec, problems = check_cohort_file(text, "spring.toml")
    assert spec is None
    found = {(p.key, p.line) for p in problems}
    lines = text.splitlines()
    assert ("community.cadence.routines#1.day", lines.index('day = "funday"') + 1) in found
    assert (
        "community.cadence.routines#1.prompt",
        lines.index('prompt = "{{ nope }}"') + 1,
    ) in found
    assert ("community.cadence.clinic.week", lines.index("week = 9") + 1) in found
    assert any("nope" in p.message for p in problems)


def test_an_unknown_key_in_community_is_named():
    text = cohort_file("spring", "pandas-practice") + 'motto = "hi"\n'
    _, problems = check_cohort_file(text, "spring.toml")
    assert [p.key for p in problems] == ["community.motto"]
    assert "known here: name, title, cadence" in problems[0].message


def test_the_courses_routines_end_in_the_calendar_on_graduation_day(store, spring):
    with store.read() as s:
        (before,) = s.scalars(select(Event.rrule).where(Event.kind == "routine")).all()
    assert "UNTIL" not in before
    _graduate(store, "spring")
    with store.read() as s:
        cohort = _cohort(s, "spring")
        (after,) = s.scalars(select(Event.rrule).where(Event.kind == "routine")).all()
        day = cohort.graduated_at.astimezone(cohort_zone(cohort)).date()
    assert after.startswith(before + ";UNTIL=")
    until = datetime.strptime(after.split("UNTIL=")[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert until.astimezone(cohort_zone(cohort)).date() == day  # the end of that day
    text = cohort_file("spring", "pandas-practice")
    spec, _ = check_cohort_file(text, "spring.toml")
    assert spec is not None
    with store.write() as s:  # applying the file again keeps the end
        apply_cohort_file(s, SYSTEM, spec, "again")
    with store.read() as s:
        assert s.scalars(select(Event.rrule).where(Event.kind == "routine")).all() == [after]
