"""Migration 0010 (recognition) on both databases: existing members and badge awards keep
their rows and get the new defaults; 0004's trigger on member still counts a new name; going
down drops what 0010 added and nothing else."""

from __future__ import annotations

from sqlalchemy import insert, inspect, select, text

from nbcohort.cohorts.models import BadgeAward, Cohort, Member, Thread, utcnow
from nbcohort.cohorts.schema import current_revision, downgrade_db, head_revision, upgrade_db
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.store import Store

NEW_TABLES = {"badge_check", "spotlight", "post_pin"}


def _columns(store: Store, table: str) -> set[str]:
    with store.engine.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def test_0010_keeps_rows_adds_defaults_and_goes_down_cleanly(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    with store.write() as s:
        posts.create_post(s, Actor.of(s.merge(people["ana"])), s.merge(cohort), "module-1/a", "hi")
    downgrade_db(store.engine, "0009")
    with store.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert not NEW_TABLES & tables
    assert "badges_hidden" not in _columns(store, "member")
    assert "revoked_at" not in _columns(store, "badge_award")
    with store.engine.begin() as conn:  # an award as 0.1 wrote it (the table existed, unused)
        conn.execute(
            text(
                "INSERT INTO badge_award (member_id, badge, reason, awarded_at) "
                "VALUES (:m, 'first-post', 'old', :at)"
            ),
            {"m": people["ana"].id, "at": utcnow().isoformat(" ")},
        )
    upgrade_db(store.engine)
    assert current_revision(store.engine) == head_revision()
    with store.read() as s:
        hidden = set(s.execute(select(Member.username, Member.badges_hidden)))
        out = {m.champion_opt_out for m in s.scalars(select(Member))}
        award = s.scalars(select(BadgeAward)).one()
        before = s.scalar(select(Thread.version))
    assert hidden == {(u, False) for u in people} and out == {False}
    assert (award.reason, award.revoked_at, award.revoke_reason) == ("old", None, "")
    with store.engine.begin() as conn:  # 0004's trigger on member still fires
        conn.execute(text("UPDATE member SET name = 'Ana S.' WHERE username = 'ana'"))
        conn.execute(insert(BadgeAward).values(member_id=people["ben"].id, badge="x",
                                               awarded_at=utcnow()))  # fmt: skip
    with store.read() as s:
        assert s.scalar(select(Thread.version)) == before + 1
    downgrade_db(store.engine, "0009")
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM badge_award")).scalar() == 2
        assert conn.execute(text("SELECT count(*) FROM member")).scalar() == len(people)
    upgrade_db(store.engine)
    assert current_revision(store.engine) == head_revision()
