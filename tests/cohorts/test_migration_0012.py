"""Migration 0012 (ideas to pilots) up and down on SQLite and PostgreSQL, with rows in place:
the four tables go and come back empty, posts and members stay, 0004's trigger still counts."""

from __future__ import annotations

from sqlalchemy import inspect, select, text

from nbcohort.cohorts.models import Cohort, Member, Post, Thread
from nbcohort.cohorts.schema import current_revision, downgrade_db, head_revision, upgrade_db
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.ideas import endorse_idea, mark_idea
from nbcohort.cohorts.services.posts import create_post
from nbcohort.cohorts.store import Store

TABLES = {"idea", "idea_endorsement", "pilot", "pilot_update"}


def test_0012_goes_down_and_up_keeping_posts(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    with store.write() as s:
        post = create_post(s, Actor.of(people["ana"]), s.merge(cohort), "module-1/a", "an idea")
        s.flush()
        idea = mark_idea(s, Actor.of(people["ana"]), post.id)
        endorse_idea(s, Actor.of(people["ben"]), idea["id"])
    assert set(inspect(store.engine).get_table_names()) >= TABLES
    downgrade_db(store.engine, "0011")
    assert not TABLES & set(inspect(store.engine).get_table_names())
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM post")).scalar() == 1
    upgrade_db(store.engine)
    assert current_revision(store.engine) == head_revision()  # 0012 and all after it
    with store.read() as s:
        assert s.scalars(select(Post.body_md)).all() == ["an idea"]
        before = s.scalar(select(Thread.version)) or 0
    with store.write() as s:  # marking works again on the new, empty tables
        assert mark_idea(s, Actor.of(people["ana"]), post.id)["endorsements"] == 0
    with store.read() as s:  # 0012's triggers are back: the mark bumped the thread
        assert s.scalar(select(Thread.version)) == before + 1
    with store.engine.begin() as conn:  # and 0004's still count an author's new name
        conn.execute(text("UPDATE member SET name = 'Ana S.' WHERE username = 'ana'"))
    with store.read() as s:
        assert s.scalar(select(Thread.version)) == before + 2


def test_ideas_and_endorsements_bump_their_threads_version(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    with store.write() as s:
        post = create_post(s, Actor.of(people["ana"]), s.merge(cohort), "module-1/a", "idea")
        other = create_post(s, Actor.of(people["ana"]), s.merge(cohort), "module-1/b", "other")

    def versions() -> tuple[int, int]:
        with store.read() as s:
            return s.get_one(Thread, post.thread_id).version, s.get_one(
                Thread, other.thread_id
            ).version

    start = versions()
    with store.write() as s:
        idea = mark_idea(s, Actor.of(people["ana"]), post.id)
    assert versions() == (start[0] + 1, start[1])
    with store.write() as s:
        endorse_idea(s, Actor.of(people["ben"]), idea["id"])
    assert versions() == (start[0] + 2, start[1])
    with store.engine.begin() as conn:  # any writer counts: plain SQL too
        conn.execute(text(f"DELETE FROM idea_endorsement WHERE idea_id = {idea['id']}"))
    assert versions() == (start[0] + 3, start[1])
