"""A PostgreSQL server that closes the service's connections (a restart, a failover, an
administrator): the next requests still work, nothing is written twice, and a commit cut off
in flight is reported as unknown rather than run again; and what a member is told."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import Cohort, Post
from nbcohort.cohorts.store import CommitUnknown, Store

ANCHOR = "module-1/loading-data"


def _terminate(admin: Engine, db_url: str, pid: int | None = None) -> int:
    """Close every connection to the test database (or one backend), as a restart would."""
    name = make_url(db_url).database
    query = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :db"
    params: dict[str, object] = {"db": name}
    if pid is not None:
        query += " AND pid = :pid"
        params["pid"] = pid
    with admin.connect() as conn:
        return int(conn.execute(text(query), params).scalar_one())


def _count(store: Store, body: str) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Post).where(Post.body_md == body)) or 0


def test_service_reads_and_writes_go_on_after_the_server_closed_its_connections(
    admin: Engine, db_url: str, store: Store, service, tokens: dict[str, str]
) -> None:
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ben = CohortClient(service.url, tokens["ben"], timeout=10)
    try:
        first = ana.post(ANCHOR, "before the restart")
        assert ben.thread(ANCHOR)["total"] == 1  # the service now holds pooled connections
        assert _terminate(admin, db_url) >= 1

        page = ben.thread(ANCHOR)  # ran again on a fresh connection
        assert [p["id"] for p in page["posts"]] == [first["id"]]

        ben.thread(ANCHOR)
        assert _terminate(admin, db_url) >= 1
        reply = ben.post(ANCHOR, "after the restart", parent_id=first["id"])
        assert reply["parent_id"] == first["id"]
        assert _count(store, "after the restart") == 1  # run again, written once
        assert ana.thread(ANCHOR)["total"] == 2
    finally:
        ana.close()
        ben.close()


def test_a_commit_cut_off_in_flight_is_unknown_and_not_saved(
    admin: Engine, db_url: str, store: Store
) -> None:
    def cut_off() -> None:
        with store.write() as s:
            s.add(Cohort(slug="cut-off", title="Cut off", settings={}))
            s.flush()
            pid = s.connection().connection.driver_connection.info.backend_pid
            assert _terminate(admin, db_url, pid) == 1  # the commit's connection is gone

    with pytest.raises(CommitUnknown):
        cut_off()
    with store.read() as s:
        assert s.scalar(select(Cohort).where(Cohort.slug == "cut-off")) is None
    with store.write() as s:  # the store goes on with a fresh connection
        s.add(Cohort(slug="next", title="Next", settings={}))
    with store.read() as s:
        assert s.scalar(select(Cohort.title).where(Cohort.slug == "next")) == "Next"


def test_a_database_refusing_connections_answers_503_then_recovers(
    admin: Engine, db_url: str, service, tokens: dict[str, str]
) -> None:
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    ben = CohortClient(service.url, tokens["ben"], timeout=10)  # his token: not yet seen
    name = make_url(db_url).database
    try:
        ana.post(ANCHOR, "before the outage")
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        _terminate(admin, db_url)
        calls = (lambda: ana.thread(ANCHOR), lambda: ana.post(ANCHOR, "during"),
                 lambda: ben.post(ANCHOR, "during"))  # fmt: skip  # ben: asked before the body
        for call in calls:
            with pytest.raises(ClientError) as refused:
                call()
            assert refused.value.status == 503
            assert "database" in refused.value.message and "nothing was saved" in (
                refused.value.message
            )
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
    try:
        assert [p["html"] for p in ana.thread(ANCHOR)["posts"]] == ["<p>before the outage</p>\n"]
        ana.post(ANCHOR, "after")
        ben.post(ANCHOR, "after, from ben")
        assert ana.thread(ANCHOR)["total"] == 3
    finally:
        ana.close()
        ben.close()


def _sqlite_busy(tmp_path: Path) -> sqlite3.OperationalError:
    """The error SQLite itself raises at a write lock another connection holds."""
    path = str(tmp_path / "busy.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        sqlite3.connect(path, isolation_level=None, timeout=0).execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        holder.execute("ROLLBACK")
    raise AssertionError("the second writer was not refused")


def test_what_a_member_is_told_when_the_database_fails(tmp_path: Path) -> None:
    """Each failure of the database (not of the request) maps to one 503 answer, told apart
    by the driver's error code, not its words; the rest (a conflict, a bug) is left to the
    service's own error handling."""
    from nbcohort.cohorts.api.answers import database_refusal

    lost = OperationalError("SELECT 1", None, Exception("server closed the connection"),
                            connection_invalidated=True)  # fmt: skip
    locked = OperationalError("BEGIN IMMEDIATE", None, _sqlite_busy(tmp_path))
    refused = OperationalError("connect", None, Exception("Connection refused"))
    # Words alone say nothing: a message that mentions a lock is not a lock.
    worded = OperationalError("SELECT 1", None, Exception("table 'locked_threads' is missing"))
    cases = [
        (CommitUnknown("closed during a commit"), "unknown", "look whether your change is there"),
        (lost, "unavailable", "nothing was saved"),
        (locked, "busy", "nothing was saved"),
        (refused, "unavailable", "cannot be reached; nothing was saved"),
        (worded, "unavailable", "cannot be reached; nothing was saved"),
    ]
    try:
        from psycopg import errors as pg_errors
    except ImportError:  # without the postgres extra
        pg_errors = None
    if pg_errors is not None:  # what PostgreSQL answers when others hold what a write needs
        for cls in (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected,
                    pg_errors.SerializationFailure):  # fmt: skip
            cases.append((OperationalError("UPDATE", None, cls("held")), "busy", "try again"))
    for exc, error, words in cases:
        answer = database_refusal(exc)
        assert answer is not None and answer.status == 503, exc
        assert answer.code == error and words in answer.message, exc
    duplicate = IntegrityError("INSERT", None, Exception("UNIQUE constraint failed"))
    assert database_refusal(duplicate) is None
    assert database_refusal(ValueError("a bug")) is None
