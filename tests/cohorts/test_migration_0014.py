"""Migration 0014 (moderation) up and down on SQLite and PostgreSQL, with rows in place:
going down drops ``held_post`` and ``appeal`` and keeps every post; going up again makes them
empty, and holding works."""

from __future__ import annotations

from sqlalchemy import func, inspect, select

from nbcohort.cohorts.models import Cohort, HeldPost, Member, Post
from nbcohort.cohorts.schema import current_revision, downgrade_db, head_revision, upgrade_db
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.posts import create_post
from nbcohort.cohorts.store import Store
from tests.helpers.moderation import set_charter


def test_0014_goes_down_and_up_keeping_posts(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    with store.write() as s:
        create_post(s, Actor.of(s.merge(people["chi"])), s.merge(cohort), "module-1/a", "hi")
    set_charter(store, cohort.id, hold_first_posts=1)
    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)  # as stored now: with its charter
        held = create_post(s, Actor.of(s.merge(people["ana"])), c, "module-1/a", "x")
        assert isinstance(held, HeldPost)
    downgrade_db(store.engine, "0011")
    assert not {"held_post", "appeal"} & set(inspect(store.engine).get_table_names())
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 1
    upgrade_db(store.engine)
    assert current_revision(store.engine) == head_revision()
    with store.write() as s:
        assert s.scalar(select(func.count()).select_from(HeldPost)) == 0
        c = s.get_one(Cohort, cohort.id)
        again = create_post(s, Actor.of(s.merge(people["ana"])), c, "module-1/a", "y")
        assert isinstance(again, HeldPost)
