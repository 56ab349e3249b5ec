"""Schema changes that rewrite data, run on SQLite and PostgreSQL against rows an older
nbcohort wrote: what they merge, what they keep, and that they go down again."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from nbcohort.cohorts.models import ArtifactReuse, Cohort, Member, utcnow
from nbcohort.cohorts.schema import current_revision, downgrade_db, upgrade_db
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
    assert current_revision(store.engine) == "0007"
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
