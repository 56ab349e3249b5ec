"""Migrations 0021 (exchange archives in the database, a learner's removed submissions) and
0022 (tokens valid lately) up and down on SQLite and PostgreSQL, with rows in place: going
down drops ``exchange_blob_chunk``, ``known_token`` and ``exchange_file.removed_at`` and keeps
every exchange_file row; going up again adds them empty."""

from __future__ import annotations

from sqlalchemy import inspect, select

from nbcohort.cohorts.models import Cohort, ExchangeBlobChunk, ExchangeFile
from nbcohort.cohorts.schema import current_revision, downgrade_db, head_revision, upgrade_db
from nbcohort.cohorts.store import Store


def test_0021_and_0022_go_down_and_up_keeping_exchange_rows(store: Store, cohort: Cohort) -> None:
    blob = "ab" * 16 + ".tar"
    with store.write() as s:
        s.add(
            ExchangeFile(
                cohort_id=cohort.id, kind="release", assignment="ps1", blob=blob, size=3,
                sha256="0" * 64, notebooks=[],
            )
        )  # fmt: skip
        s.flush()
        s.add(ExchangeBlobChunk(blob=blob, seq=0, data=b"tar"))
    downgrade_db(store.engine, "0020_metric_rollup")
    tables = set(inspect(store.engine).get_table_names())
    assert not {"exchange_blob_chunk", "known_token"} & tables
    columns = {c["name"] for c in inspect(store.engine).get_columns("exchange_file")}
    assert "removed_at" not in columns and "blob" in columns
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT blob FROM exchange_file").scalars().all() == [blob]
    upgrade_db(store.engine)
    assert current_revision(store.engine) == head_revision()
    with store.read() as s:
        row = s.scalar(select(ExchangeFile))
        assert row is not None and row.removed_at is None
        assert s.scalars(select(ExchangeBlobChunk)).all() == []
