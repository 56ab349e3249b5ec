"""Schema changes that rewrite data, run on SQLite and PostgreSQL against rows an older
nbcohort wrote: what they merge, what they keep, and that they go down again."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError

from nbcohort.cohorts import schema
from nbcohort.cohorts.models import ArtifactReuse, Cohort, Member, utcnow
from nbcohort.cohorts.schema import current_revision, downgrade_db, head_revision, upgrade_db
from nbcohort.cohorts.services.artifacts import list_artifacts, share_artifact
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.store import Store


def test_0007_merges_duplicate_reuses_and_the_counts_follow(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    with store.write() as s:
        ana = Actor.of(s.merge(people["ana"]))
        made = share_artifact(s, ana, s.merge(cohort), filename="a.py", content=b"1", title="A")
        other = share_artifact(s, ana, s.merge(cohort), filename="b.py", content=b"2", title="B")
        ids = made.id, other.id
    downgrade_db(store.engine, "0006")  # a database as 0.1 left it: reuses could repeat
    ben, chi = people["ben"].id, people["chi"].id
    copies = [(ids[0], ben)] * 5 + [(ids[0], chi)] * 2 + [(ids[1], ben)]
    with store.engine.begin() as conn:
        for artifact_id, member_id in copies:
            conn.execute(
                insert(ArtifactReuse.__table__).values(
                    artifact_id=artifact_id, member_id=member_id, created_at=utcnow()
                )
            )
        first_ben = conn.execute(
            text("SELECT min(id) FROM artifact_reuse WHERE member_id = :m AND artifact_id = :a"),
            {"m": ben, "a": ids[0]},
        ).scalar()
    upgrade_db(store.engine)
    assert current_revision(store.engine) == head_revision()
    with store.read() as s:
        rows = sorted(s.execute(select(ArtifactReuse.artifact_id, ArtifactReuse.member_id)))
        kept_ben = s.scalar(
            select(ArtifactReuse.id).where(
                ArtifactReuse.member_id == ben, ArtifactReuse.artifact_id == ids[0]
            )
        )
        counts = {a["id"]: a["reuses"] for a in list_artifacts(s, Actor.system(), cohort)}
    assert rows == sorted([(ids[0], ben), (ids[0], chi), (ids[1], ben)])
    assert kept_ben == first_ben  # the first copy stays, with its date
    assert counts == {ids[0]: 2, ids[1]: 1}
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        conn.execute(
            insert(ArtifactReuse.__table__).values(
                artifact_id=ids[0], member_id=ben, created_at=utcnow()
            )
        )
    downgrade_db(store.engine, "0006")  # and back: the practice table goes, reuses stay
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM artifact_reuse")).scalar() == 3
    upgrade_db(store.engine)


def test_0008_rebuilds_member_keeping_its_rows_and_its_trigger(
    store: Store, cohort: Cohort, people: dict[str, Member]
) -> None:
    """member.email becomes nullable: on SQLite the table is rebuilt, and 0004's trigger
    that counts an author's new name in their threads' versions must come back with it."""
    from nbcohort.cohorts.models import Thread
    from nbcohort.cohorts.services.posts import create_post

    with store.write() as s:
        create_post(s, Actor.of(s.merge(people["ana"])), s.merge(cohort), "module-1/a", "hi")
    downgrade_db(store.engine, "0007")
    upgrade_db(store.engine)
    with store.read() as s:
        assert sorted(s.scalars(select(Member.username))) == sorted(people)
        before = s.scalar(select(Thread.version))
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE member SET name = 'Ana S.' WHERE username = 'ana'"))
    with store.read() as s:
        assert s.scalar(select(Thread.version)) == before + 1
    with store.write() as s:  # a member the hub knows by name only
        s.add(Member(cohort_id=cohort.id, username="noor", name="Noor", email=None))
    with pytest.raises(RuntimeError, match="without an email address"):
        downgrade_db(store.engine, "0007")
    assert current_revision(store.engine) == head_revision()


def test_the_fast_revision_check_knows_the_newest_migration() -> None:
    """``check_db_revision`` compares with ``schema.HEAD`` before loading Alembic: a new
    migration must move it too, or every database would take the slow path."""
    assert head_revision() == schema.HEAD, "set HEAD in cohorts/schema.py to the new migration"


def test_0023_calendar_link_version_round_trips_keeping_members_and_their_trigger(
    store: Store, cohort: Cohort, people: dict[str, Member], caplog: pytest.LogCaptureFixture
) -> None:
    """A new column, 0 for existing members; going down drops it (on SQLite by rebuilding
    member, and 0004's trigger on it must come back); going up again starts every member at
    0, so links given out before the column keep working."""
    from nbcohort.cohorts.models import Thread
    from nbcohort.cohorts.services.posts import create_post

    with store.write() as s:
        create_post(s, Actor.of(s.merge(people["ana"])), s.merge(cohort), "module-1/a", "hi")
        s.get_one(Member, people["ana"].id).calendar_link_version = 3
    with caplog.at_level("WARNING"):
        downgrade_db(store.engine, "0022_throttle_known")
    assert "1 member(s) replaced their calendar link" in caplog.text  # theirs work again
    with store.engine.connect() as conn:
        columns = {c["name"] for c in sa_inspect(conn).get_columns("member")}
        assert "calendar_link_version" not in columns
    with store.engine.begin() as conn:  # the trigger survived the rebuild
        before = conn.execute(text("SELECT version FROM thread")).scalar_one()
        conn.execute(text("UPDATE member SET name = 'Ana S.' WHERE username = 'ana'"))
        assert conn.execute(text("SELECT version FROM thread")).scalar_one() == before + 1
    upgrade_db(store.engine)
    assert current_revision(store.engine) == head_revision()
    with store.read() as s:
        assert sorted(s.scalars(select(Member.username))) == sorted(people)
        assert set(s.scalars(select(Member.calendar_link_version))) == {0}
        assert s.scalar(select(Thread.version)) == before + 1
    with store.write() as s:  # a new member gets the default
        s.add(Member(cohort_id=cohort.id, username="noor", name="Noor", email=None))
    with store.read() as s:
        noor = s.scalars(select(Member).where(Member.username == "noor")).one()
        assert noor.calendar_link_version == 0
