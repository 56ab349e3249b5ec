"""The pulse survey through the real services layer on SQLite and PostgreSQL: the cohort
file's schedule, the cadence opening it, answers and their refusals, and the anonymity
threshold that holds for every role."""

from __future__ import annotations

import threading
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import DateTime, func, inspect, select, text
from traitlets import TraitError

from nbcohort.cohorts.cohort_checks import check_cohort_file
from nbcohort.cohorts.config import MetricsSettings, PrivacySettings
from nbcohort.cohorts.models import (
    CadenceItem,
    Cohort,
    Member,
    PulseAnswer,
    PulseResponse,
    PulseSurvey,
    utcnow,
)
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cadence_tick import run_tick
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.services.pulse import (
    answer_survey,
    current_survey,
    open_survey,
    survey_results,
)
from nbcohort.cohorts.store import Store
from tests.cohorts.test_archive import other_store  # noqa: F401 - a second empty database
from tests.helpers.community import SYSTEM
from tests.helpers.rhythm import apply_text, cohort_toml

PULSE = """
[cadence.pulse]
enabled = true
every_weeks = 2
day = "friday"
time = "14:00"
open_days = 3
questions = ["I can ask anything here.", "This helps at work.", "I know what is next."]
free_text = "Anything else?"
min_answers = 5
"""


def survey(store: Store, cohort: Cohort, *, opened: int = 1, closes: int = 2) -> int:
    """A survey opened ``opened`` days ago that closes in ``closes`` days."""
    now = utcnow()
    with store.write() as s:
        return open_survey(
            s, s.get_one(Cohort, cohort.id), f"pulse:test-{opened}-{closes}",
            title="Pulse", questions=["Q1", "Q2", "Q3"], free_text="Else?",
            opens_at=now - timedelta(days=opened), closes_at=now + timedelta(days=closes),
            min_answers=5,
        ).id  # fmt: skip


def learners(store: Store, cohort: Cohort, n: int) -> list[int]:
    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        rows = [
            add_member(s, SYSTEM, c, name=f"L {i}", email=f"l{i}@example.org") for i in range(n)
        ]
        s.flush()
        return [m.id for m in rows]


def answer(store: Store, cohort: Cohort, member_id: int, sid: int, scores, text: str = ""):
    with store.write() as s:
        actor = Actor.of(s.get_one(Member, member_id))
        return answer_survey(s, actor, s.get_one(Cohort, cohort.id), sid, scores, text)


def test_the_cohort_file_schedules_the_pulse_and_the_tick_opens_it(
    store: Store, cohort: Cohort
) -> None:
    start = utcnow() - timedelta(days=20)
    apply_text(store, cohort_toml(starts_on=start.date().isoformat(), extra=PULSE), start)
    with store.read() as s:
        planned = sorted(
            s.execute(
                select(CadenceItem.key, CadenceItem.due_at).where(CadenceItem.kind == "pulse")
            ).all()
        )
    assert len(planned) >= 2
    assert all(due.astimezone(ZoneInfo("Europe/Berlin")).strftime("%a %H:%M") == "Fri 14:00"
               for _k, due in planned)  # fmt: skip
    assert (planned[1][1] - planned[0][1]).days in (13, 14)  # every two weeks (DST aside)
    for _ in range(2):  # twice: each survey opens once
        run_tick(store, [cohort.slug], now=utcnow())
    with store.read() as s:
        surveys = s.scalars(select(PulseSurvey).order_by(PulseSurvey.opens_at)).all()
        due = [k for k, at in planned if at <= utcnow()]
        assert [x.key for x in surveys] == due and due
        assert all(x.closes_at - x.opens_at == timedelta(days=3) for x in surveys)
        assert surveys[0].questions[0] == "I can ask anything here." and surveys[0].min_answers == 5


def test_a_pulse_section_with_bad_values_is_refused_at_validate() -> None:
    bad = (
        PULSE.replace("min_answers = 5", "min_answers = 2")
        .replace('"I know what is next."]', '"I know what is next.", "4", "5", "6"]')
        .replace("open_days = 3", "open_days = 0")
    )
    spec, problems = check_cohort_file(cohort_toml(extra=bad), "c.toml")
    said = "\n".join(str(p) for p in problems)
    assert spec is None
    assert "cadence.pulse.min_answers" in said and "at least 3" in said
    assert "cadence.pulse.questions" in said
    assert "cadence.pulse.open_days" in said
    two = PULSE.replace('"I know what is next."]', "]").replace('"This helps at work.",', "")
    spec, problems = check_cohort_file(cohort_toml(extra=two), "c.toml")
    assert spec is None and any("cadence.pulse.questions" in str(p) for p in problems)


def test_the_threshold_setting_is_never_below_three() -> None:
    with pytest.raises(TraitError, match="pulse_min_answers"):
        PrivacySettings(pulse_min_answers=2)
    assert PrivacySettings().pulse_min_answers == 5


def test_answers_and_their_refusals(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    sid = survey(store, cohort)
    ana = people["ana"].id
    assert answer(store, cohort, ana, sid, [5, 4, 3], "fine") == {
        "survey_id": sid,
        "answered": True,
    }
    with pytest.raises(Conflict) as err:  # a second answer is refused: answers carry no name
        answer(store, cohort, ana, sid, [1, 1, 1])
    assert err.value.field == "survey_id"
    ben = people["ben"].id
    for scores in ([0, 3, 3], [6, 3, 3], [3, 3], [3, 3, 3, 3], ["3", 3, 3], [True, 3, 3],
                   [3.5, 3, 3], [2**40, 3, 3], [-1, 3, 3]):  # fmt: skip
        with pytest.raises(Invalid) as err:
            answer(store, cohort, ben, sid, scores)
        assert err.value.field == "scores", scores
    with pytest.raises(Invalid) as err:
        answer(store, cohort, ben, sid, [3, 3, 3], "x" * 2001)
    assert err.value.field == "text"
    with pytest.raises(Forbidden):  # sponsors read results; they do not answer
        answer(store, cohort, people["sam"].id, sid, [3, 3, 3])
    closed = survey(store, cohort, opened=5, closes=-1)
    with pytest.raises(Conflict) as err:
        answer(store, cohort, ben, closed, [3, 3, 3])
    assert err.value.field == "survey_id" and "closed" in err.value.message
    future = survey(store, cohort, opened=-1, closes=3)
    with pytest.raises(Conflict) as err:
        answer(store, cohort, ben, future, [3, 3, 3])
    assert err.value.field == "survey_id"
    with pytest.raises(NotFound):
        answer(store, cohort, ben, 2**31 - 1, [3, 3, 3])
    with store.write() as s:
        other = create_cohort(s, SYSTEM, "autumn-26", "Autumn")
        oz = add_member(s, SYSTEM, other, name="Oz", email="oz@example.org")
        s.flush()
        with pytest.raises(NotFound):
            answer_survey(s, Actor.of(oz), other, sid, [3, 3, 3])
    with store.read() as s:
        assert len(s.scalars(select(PulseResponse)).all()) == 1
        [row] = s.scalars(select(PulseAnswer)).all()
        assert row.scores == [5, 4, 3] and not hasattr(row, "member_id")
        view = current_survey(s, Actor.of(s.get_one(Member, ana)), s.get_one(Cohort, cohort.id))
        assert view["answered"] and view["survey"]["id"] in (sid, future)


ROLES = ["ana", "chi", "fay", "ivo", "sam"]


def _results(store: Store, cohort: Cohort, member: Member, settings=None) -> dict:
    with store.read() as s:
        actor = Actor.of(s.get_one(Member, member.id))
        return survey_results(s, actor, s.get_one(Cohort, cohort.id), settings)


@pytest.mark.parametrize("answered", [4, 5])
def test_no_role_sees_a_result_below_the_threshold(
    store: Store, cohort: Cohort, people: dict[str, Member], answered: int
) -> None:
    sid = survey(store, cohort, opened=3, closes=1)
    for i, member_id in enumerate(learners(store, cohort, answered)):
        answer(store, cohort, member_id, sid, [1 + i % 5, 3, 5], f"comment {i}")
    for who in ROLES:  # still open: nothing for anyone
        [run] = _results(store, cohort, people[who])["surveys"]
        assert run["withheld"] and "answers" not in run and run["comments"] is None
    with store.write() as s:
        s.get_one(PulseSurvey, sid).closes_at = utcnow() - timedelta(minutes=1)
    for who in ROLES:
        out = _results(store, cohort, people[who])
        [run] = out["surveys"]
        if answered < 5:
            assert run["withheld"].startswith("fewer than 5")
            assert "answers" not in run and run["comments"] is None
            assert all(set(q) == {"question"} for q in run["questions"])
            assert all(point["mean"] is None for line in out["series"].values() for point in line)
        else:
            assert run["withheld"] is None and run["answers"] == 5
            staff = who in ("fay", "ivo")
            z = 0 if staff else None  # a count below 3 (zero too) is for staff only
            levels = {"1": z, "2": z, "3": 5, "4": z, "5": z}
            assert run["questions"][1] == {"question": "Q2", "n": 5, "mean": 3.0, "levels": levels}
            staff_or_sponsor = who in ("fay", "ivo", "sam")
            if staff_or_sponsor:
                assert [c["text"] for c in run["comments"]] == [f"comment {i}" for i in range(5)]
                assert all(set(c) == {"text", "html"} for c in run["comments"])
            else:
                assert run["comments"] is None
    raised = _results(store, cohort, people["ivo"], PrivacySettings(pulse_min_answers=6))
    assert raised["surveys"][0]["withheld"]  # the config can only raise the threshold


def test_the_metrics_min_group_raises_the_pulse_threshold(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    sid = survey(store, cohort, opened=3, closes=1)
    for member_id in learners(store, cohort, 6):
        answer(store, cohort, member_id, sid, [3, 3, 3])
    with store.write() as s:
        s.get_one(PulseSurvey, sid).closes_at = utcnow() - timedelta(minutes=1)
    with store.read() as s:
        actor = Actor.of(s.get_one(Member, people["ivo"].id))
        c = s.get_one(Cohort, cohort.id)
        [shown] = survey_results(s, actor, c, metrics=MetricsSettings(min_group=5))["surveys"]
        [held] = survey_results(s, actor, c, metrics=MetricsSettings(min_group=10))["surveys"]
    assert shown["withheld"] is None and shown["answers"] == 6
    assert held["withheld"].startswith("fewer than 10") and "answers" not in held
    assert held["min_answers"] == 10


def test_members_see_no_level_count_below_three(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    """A count of one or two at a level is a small cell: staff see it, no one else does,
    nor can they work it out from the number of answers less the counts shown."""
    sid = survey(store, cohort, opened=3, closes=1)
    q1 = [1, 3, 3, 3, 4, 4]  # 1:1 3:3 4:2 -> only the 3 is shown
    q2 = [4, 4, 4, 4, 4, 4]
    q3 = [2, 2, 3, 3, 3, 3]  # 2:2 3:4 -> the hidden two would follow from n: all hidden
    for i, member_id in enumerate(learners(store, cohort, 6)):
        answer(store, cohort, member_id, sid, [q1[i], q2[i], q3[i]])
    with store.write() as s:
        s.get_one(PulseSurvey, sid).closes_at = utcnow() - timedelta(minutes=1)
    staff = _results(store, cohort, people["fay"])["surveys"][0]["questions"]
    assert staff[0]["levels"] == {"1": 1, "2": 0, "3": 3, "4": 2, "5": 0}
    assert staff[2]["levels"] == {"1": 0, "2": 2, "3": 4, "4": 0, "5": 0}
    for who in ("ana", "chi", "sam"):
        questions = _results(store, cohort, people[who])["surveys"][0]["questions"]
        n = None
        assert [q["levels"] for q in questions] == [
            {"1": n, "2": n, "3": 3, "4": n, "5": n},
            {"1": n, "2": n, "3": n, "4": 6, "5": n},
            {"1": n, "2": n, "3": n, "4": n, "5": n},
        ], who
        assert [q["n"] for q in questions] == [6, 6, 6] and questions[0]["mean"] == 3.0


def test_the_stored_order_of_answers_does_not_follow_who_answered_when(
    store: Store, cohort: Cohort
) -> None:
    """Rows sit in insertion order (SQLite's rowid, PostgreSQL's ctid) and pulse_response
    and the activity log say who answered when: the answers' stored order must not follow."""
    sid = survey(store, cohort)
    given = [f"answer {i}" for i in range(10)]
    for member_id, said in zip(learners(store, cohort, 10), given, strict=True):
        answer(store, cohort, member_id, sid, [3, 3, 3], said)
    postgres = not store.is_sqlite
    physical = "ctid" if postgres else "rowid"
    with store.read() as s:
        by_place = s.scalars(text(f"SELECT text FROM pulse_answer ORDER BY {physical}")).all()
        by_key = s.scalars(select(PulseAnswer.text).order_by(PulseAnswer.id)).all()
        columns = inspect(s.get_bind()).get_columns("pulse_answer")
        xmins = s.scalars(text("SELECT xmin::text FROM pulse_answer")).all() if postgres else []
    assert sorted(by_place) == given  # all ten kept, none twice
    assert by_place != given and by_key != given  # 1 in 10! by chance
    assert len(set(xmins)) <= 1  # PostgreSQL: every row written by the last answer's transaction
    assert not [c["name"] for c in columns if isinstance(c["type"], DateTime)]


def test_members_answering_at_the_same_moment_all_get_in(store: Store, cohort: Cohort) -> None:
    """Eight answers at once, each in its own connection: none waits on another in a circle
    (on PostgreSQL an answer's own row holds a key-share lock on the survey, which a FOR
    UPDATE in the other answer waited on: a deadlock, and a member refused)."""
    sid = survey(store, cohort)
    people = learners(store, cohort, 8)
    stores = [Store.open(store.url) for _ in people]
    start, errors = threading.Barrier(len(people)), []

    def one(member_id: int, own: Store) -> None:
        start.wait(10)
        try:
            answer(own, cohort, member_id, sid, [4, 4, 4])
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=pair) for pair in zip(people, stores, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for own in stores:
        own.close()
    assert errors == []
    with store.read() as s:
        got = s.scalar(
            select(func.count()).select_from(PulseAnswer).where(PulseAnswer.survey_id == sid)
        )
    assert got == len(people)


def test_another_cohorts_member_sees_nothing(store: Store, cohort: Cohort) -> None:
    survey(store, cohort, opened=5, closes=-1)
    with store.write() as s:
        other = create_cohort(s, SYSTEM, "autumn-26", "Autumn")
        oz = add_member(s, SYSTEM, other, name="Oz", email="oz@example.org", role="instructor")
        s.flush()
        assert survey_results(s, Actor.of(oz), other)["surveys"] == []
        with pytest.raises(NotFound):
            survey_results(s, Actor.of(oz), s.get_one(Cohort, cohort.id))


def test_answers_survive_an_archive_round_trip(
    store: Store,
    other_store: Store,  # noqa: F811 - the fixture imported above
    cohort: Cohort,
    people: dict[str, Member],
    tmp_path,
) -> None:
    """Pulse answers' keys are random strings, not a sequence: the archive moves them, and
    PostgreSQL's sequences are moved past the imported ids without tripping on them."""
    from nbcohort.cohorts.services.archive import export_archive, import_archive

    sid = survey(store, cohort)
    answer(store, cohort, people["ana"].id, sid, [1, 2, 3], "kept")
    dest = tmp_path / "a.zip"
    with store.read(snapshot=True) as s:
        export_archive(s, dest)
    with other_store.write() as s:
        import_archive(s, dest)
    with other_store.read() as s:
        assert s.scalars(select(PulseAnswer.scores)).all() == [[1, 2, 3]]
        assert s.scalars(select(PulseResponse.member_id)).all() == [people["ana"].id]
