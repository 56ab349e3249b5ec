"""Migration 0011 (leaving and the pulse survey) up and down on SQLite and PostgreSQL, with
rows in place: members keep their rows and 0004's trigger on member; the pulse tables go."""

from __future__ import annotations

from sqlalchemy import inspect, select, text

from nbcohort.cohorts.models import Cohort, Member, Thread
from nbcohort.cohorts.schema import current_revision, downgrade_db, head_revision, upgrade_db
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.posts import create_post
from nbcohort.cohorts.store import Store


def test_0011_goes_down_and_up_keeping_members(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    with store.write() as s:
        create_post(s, Actor.of(s.merge(people["ana"])), s.merge(cohort), "module-1/a", "hi")
    assert "pulse_survey" in inspect(store.engine).get_table_names()
    downgrade_db(store.engine, "0010")
    insp = inspect(store.engine)
    assert not {"pulse_survey", "pulse_response", "pulse_answer"} & set(insp.get_table_names())
    assert "left_at" not in {c["name"] for c in insp.get_columns("member")}
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM member")).scalar() == len(people)
    upgrade_db(store.engine)
    assert current_revision(store.engine) == head_revision()
    with store.read() as s:
        assert sorted(s.scalars(select(Member.username))) == sorted(people)
        assert s.scalars(select(Member.left_at)).all() == [None] * len(people)
        before = s.scalar(select(Thread.version))
    with store.engine.begin() as conn:  # 0004's trigger still counts an author's new name
        conn.execute(text("UPDATE member SET name = 'Ana S.' WHERE username = 'ana'"))
    with store.read() as s:
        assert s.scalar(select(Thread.version)) == (before or 0) + 1
