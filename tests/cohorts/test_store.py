"""The store: migrations match the models, revision checks, per-database set-up, units of work."""

from __future__ import annotations

import os
import sqlite3
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, func, inspect, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, StatementError
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import StoreSettings
from nbcohort.cohorts.models import (
    SEARCHED_TABLES,
    Activity,
    ApiToken,
    Base,
    Cohort,
    Event,
    Member,
    Post,
    Reaction,
    Thread,
    compared_with_models,
    is_search_index,
)
from nbcohort.cohorts.schema import (
    check_db_revision,
    head_revision,
    migration_connection,
    upgrade_db,
)
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import DatabaseError, Store, make_engine

SYSTEM = Actor.system()
ANCHOR = "module-1/loading-data"


def count(store: Store, model: Any) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def sqlite_url(tmp_path: Path, name: str = "store.sqlite") -> str:
    return f"sqlite:///{tmp_path / name}"


# --- schema: migrations and models agree ----------------------------------------------------


def test_migrations_match_the_models(store: Store) -> None:
    """A model change without a migration (or the reverse) makes this diff non-empty. The
    search index is the database's own and no model maps it: the comparison leaves out what
    ``models.is_search_index`` names, as Alembic's autogenerate does (migrations/env.py)."""
    with store.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "include_object": compared_with_models,
            },
        )
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_migrations_create_every_model_table(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    search = {t for t in tables if is_search_index(t, "table")}
    assert tables - set(Base.metadata.tables) - search == {"alembic_version"}
    if store.is_sqlite:  # FTS5 tables and their shadow tables, nothing else
        assert {f"search_{t}" for t in SEARCHED_TABLES} <= search
        assert all(t.split("_")[1] in SEARCHED_TABLES for t in search)
    else:  # PostgreSQL keeps its index on the searched tables themselves
        assert search == set()
        for table in SEARCHED_TABLES:
            columns = {c["name"] for c in inspect(store.engine).get_columns(table)}
            assert "search_terms" in columns


def test_migrated_database_is_at_head(store: Store) -> None:
    with store.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() == head_revision()
    check_db_revision(store.engine)  # does not raise


def test_upgrade_is_idempotent(store: Store) -> None:
    upgrade_db(store.engine)
    check_db_revision(store.engine)


# --- revision check ---------------------------------------------------------------------------


def test_empty_database_is_refused_naming_upgrade_db(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path, "empty.sqlite")
    with pytest.raises(DatabaseError, match="nbcohort upgrade-db"):
        Store.open(url)
    engine = make_engine(url)
    try:
        with pytest.raises(DatabaseError, match="no nbcohort schema"):
            check_db_revision(engine)
    finally:
        engine.dispose()


def test_open_with_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path, "new/nested/db.sqlite")
    store = Store.open(url, upgrade=True)
    try:
        assert set(Base.metadata.tables) <= set(inspect(store.engine).get_table_names())
    finally:
        store.close()


def test_database_at_unknown_revision_is_refused(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
    with pytest.raises(DatabaseError) as info:
        check_db_revision(store.engine)
    message = str(info.value)
    assert "ffff9999" in message
    assert "newer than this nbcohort" in message
    assert head_revision() in message
    with pytest.raises(DatabaseError, match="ffff9999"):
        Store.open(store.url)


def test_version_table_without_a_revision_is_refused(store: Store) -> None:
    """Tables but no revision: not an nbcohort database (upgrade-db would fail there)."""
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version"))
    expected = "holds tables but no nbcohort schema revision: it is not an nbcohort database"
    with pytest.raises(DatabaseError, match=expected) as info:
        check_db_revision(store.engine)
    assert "upgrade-db" not in str(info.value)  # it would fail: do not send the user there
    with pytest.raises(DatabaseError, match=expected):
        Store.open(store.url)


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path, "foreign.sqlite")
    conn = sqlite3.connect(tmp_path / "foreign.sqlite")
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="it is not an nbcohort database"):
        Store.open(url)


def test_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"this is not a SQLite database, just some text\n" * 200)
    with pytest.raises(DatabaseError, match="cannot open the database"):
        Store.open(f"sqlite:///{path}")


# --- SQLite set-up ----------------------------------------------------------------------------


def pragmas(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        return {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }


def test_sqlite_pragmas_are_in_effect(sqlite_store: Store) -> None:
    assert pragmas(sqlite_store) == {
        "journal_mode": "wal",
        "foreign_keys": 1,
        "busy_timeout": 30_000,
        "synchronous": 1,  # NORMAL
    }


def test_sqlite_pragmas_follow_store_settings(tmp_path: Path) -> None:
    settings = StoreSettings(sqlite_busy_timeout=0.25, sqlite_synchronous="FULL")
    store = Store.open(sqlite_url(tmp_path), settings, upgrade=True)
    try:
        got = pragmas(store)
    finally:
        store.close()
    assert got["busy_timeout"] == 250
    assert got["synchronous"] == 2  # FULL
    assert got["journal_mode"] == "wal"


def test_sqlite_pragmas_apply_to_every_pooled_connection(sqlite_store: Store) -> None:
    """Each new DBAPI connection gets the set-up, not only the first one."""
    conns = [sqlite_store.engine.connect() for _ in range(3)]
    try:
        for conn in conns:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    finally:
        for conn in conns:
            conn.close()


def test_sqlite_foreign_keys_are_enforced(sqlite_store: Store) -> None:
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), sqlite_store.write() as s:
        s.add(Member(cohort_id=4242, username="x", name="X", email="x@example.org"))
    assert count(sqlite_store, Member) == 0


def _posted(store: Store) -> None:
    """A cohort with a member and a post in a thread (rows that reference other tables)."""
    with store.write() as s:
        cohort = create_cohort(s, SYSTEM, "fk", "Foreign keys")
        ana = add_member(s, SYSTEM, cohort, name="Ana", email="ana@example.org", username="ana")
        posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "kept")


def _rebuild_thread_table(conn: Any) -> None:
    """Rebuild ``thread`` the way Alembic's batch mode changes a SQLite table."""
    ops = Operations(MigrationContext.configure(conn, opts={"render_as_batch": True}))
    with ops.batch_alter_table("thread", recreate="always"):
        pass


def test_a_schema_change_that_rebuilds_a_table_keeps_the_rows_referencing_it(
    sqlite_store: Store,
) -> None:
    _posted(sqlite_store)
    with migration_connection(sqlite_store.engine) as conn:
        _rebuild_thread_table(conn)
    assert count(sqlite_store, Post) == 1
    with sqlite_store.read() as s:  # foreign keys are back on for the store's connections
        assert s.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    # Why: in a plain transaction, SQLite refuses while triggers name the table (the RENAME
    # fails in a trigger; with the search index's FTS5 triggers, the DROP finds it locked);
    # before the search index, forcing it past that (legacy_alter_table) deleted every post.
    refused = pytest.raises(OperationalError, match=r"error in trigger|database table is locked")
    with refused, sqlite_store.engine.begin() as conn:
        _rebuild_thread_table(conn)
    assert count(sqlite_store, Post) == 1


def test_a_schema_change_leaving_dangling_rows_is_refused_whole(sqlite_store: Store) -> None:
    _posted(sqlite_store)
    refused = pytest.raises(DatabaseError, match=r"1 rows pointing at rows that do not exist")
    with refused, migration_connection(sqlite_store.engine) as conn:
        conn.exec_driver_sql("DELETE FROM thread")
    assert count(sqlite_store, Post) == 1
    with sqlite_store.read() as s:
        assert s.scalar(select(func.count()).select_from(Thread)) == 1


def _try_write_lock(path: str) -> str:
    """Whether another connection can take the write lock right now (no waiting)."""
    raw = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("ROLLBACK")
        return "free"
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        raw.close()


def test_sqlite_write_scope_takes_the_write_lock_up_front(sqlite_store: Store) -> None:
    path = sqlite_store.engine.url.database
    assert path is not None
    with sqlite_store.write():
        # Nothing written yet, but the writer already holds the lock (BEGIN IMMEDIATE).
        assert "locked" in _try_write_lock(path)
    assert _try_write_lock(path) == "free"


def test_sqlite_read_scope_does_not_take_the_write_lock(sqlite_store: Store) -> None:
    path = sqlite_store.engine.url.database
    assert path is not None
    with sqlite_store.read() as s:
        s.scalar(select(func.count()).select_from(Cohort))
        assert _try_write_lock(path) == "free"


# --- times ------------------------------------------------------------------------------------


def test_datetimes_come_back_aware_utc(store: Store) -> None:
    with store.write() as s:
        cohort = create_cohort(s, SYSTEM, "tz-check", "Time zones")
        india = timezone(timedelta(hours=5, minutes=30))
        given = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=india)
        s.add(Event(cohort_id=cohort.id, title="clinic", starts_at=given, ends_at=None))
    with store.read() as s:
        event = s.scalars(select(Event)).one()
        created = s.scalars(select(Cohort.created_at)).one()
        starts = event.starts_at
    assert starts.tzinfo is not None
    assert starts.utcoffset() == timedelta(0)
    assert starts == given  # the same instant
    assert (starts.hour, starts.minute, starts.microsecond) == (20, 0, 123456)  # 01:30 +05:30
    assert created.tzinfo is not None
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=5)


def test_datetimes_sort_as_instants(store: Store) -> None:
    """Values written in different zones order by instant (stored as UTC)."""
    with store.write() as s:
        cohort = create_cohort(s, SYSTEM, "tz-sort", "Time zones")
        plus10 = timezone(timedelta(hours=10))
        minus8 = timezone(timedelta(hours=-8))
        # 09:00+10 is 23:00 UTC the day before; 16:00-08 is 00:00 UTC: "later" despite 16 > 9.
        s.add(
            Event(cohort_id=cohort.id, title="b", starts_at=datetime(2026, 5, 2, 9, tzinfo=plus10))
        )
        s.add(
            Event(cohort_id=cohort.id, title="a", starts_at=datetime(2026, 5, 1, 16, tzinfo=minus8))
        )
    with store.read() as s:
        titles = list(s.scalars(select(Event.title).order_by(Event.starts_at)))
    assert titles == ["b", "a"]


def test_naive_datetime_is_refused(store: Store) -> None:
    with store.write() as s:
        cohort = create_cohort(s, SYSTEM, "tz-naive", "Time zones")
    with pytest.raises(StatementError, match="naive datetime"), store.write() as s:
        s.add(Event(cohort_id=cohort.id, title="naive", starts_at=datetime(2026, 1, 1, 12)))
    assert count(store, Event) == 0


# --- units of work ----------------------------------------------------------------------------


class Boom(Exception):
    pass


def test_write_scope_rolls_back_everything_on_an_exception(store: Store) -> None:
    before = (count(store, Cohort), count(store, Member), count(store, Activity))

    def work() -> None:
        with store.write() as s:
            cohort = create_cohort(s, SYSTEM, "half", "Half written")
            add_member(s, SYSTEM, cohort, name="Ana", email="ana@example.org")
            s.flush()  # the rows are in the database's transaction...
            assert s.scalar(select(func.count()).select_from(Member)) == 1
            raise Boom  # ...and are gone with it

    with pytest.raises(Boom):
        work()
    assert (count(store, Cohort), count(store, Member), count(store, Activity)) == before


def test_write_scope_rolls_back_on_a_service_refusal(store: Store) -> None:
    with store.write() as s:
        cohort = create_cohort(s, SYSTEM, "refusal", "Refusal")
        ana = add_member(s, SYSTEM, cohort, name="Ana", email="ana@example.org")
    before = (count(store, Post), count(store, Activity))

    def work() -> None:
        with store.write() as s:
            c = s.get(Cohort, cohort.id)
            posts.create_post(s, Actor.of(ana), c, ANCHOR, "first, saved in the transaction")
            posts.create_post(s, Actor.of(ana), c, ANCHOR, "   ")  # refused: all of it goes

    with pytest.raises(Invalid):
        work()
    assert (count(store, Post), count(store, Activity)) == before


def test_write_scope_rolls_back_on_keyboard_interrupt(store: Store) -> None:

    def work() -> None:
        with store.write() as s:
            create_cohort(s, SYSTEM, "interrupted", "Interrupted")
            s.flush()
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        work()
    assert count(store, Cohort) == 0


def test_write_scope_commits(store: Store) -> None:
    with store.write() as s:
        create_cohort(s, SYSTEM, "kept", "Kept")
    assert count(store, Cohort) == 1


def test_read_scope_never_commits(store: Store) -> None:
    with store.read() as s:
        create_cohort(s, SYSTEM, "never", "Never saved")
        s.flush()
        assert s.scalar(select(func.count()).select_from(Cohort)) == 1
    assert count(store, Cohort) == 0
    assert count(store, Activity) == 0


def test_a_service_read_cannot_write_on_a_server_database(store: Store) -> None:
    """The service's reads on PostgreSQL run in autocommit: the server itself refuses a
    write there, so nothing a read scope does can ever be committed."""
    service = store.for_service()
    try:
        if store.is_sqlite:
            assert service is store  # reads roll back (test_read_scope_never_commits)
            return
        refused = pytest.raises(DBAPIError, match="read-only transaction")
        with refused, service.read() as s:
            create_cohort(s, SYSTEM, "never", "Never saved")
            s.flush()
        assert count(store, Cohort) == 0
        with service.write() as s:  # writes go on the service's other connections
            create_cohort(s, SYSTEM, "saved", "Saved")
        with service.read() as s:
            assert s.scalar(select(Cohort.slug)) == "saved"
        with service.read(snapshot=True) as s:  # a snapshot keeps its transaction
            assert s.connection().exec_driver_sql("SHOW transaction_isolation").scalar() == (
                "repeatable read"
            )
    finally:
        if service is not store:
            service.close()


def test_a_service_store_keeps_the_server_options_of_its_url(store: Store) -> None:
    if store.is_sqlite:
        pytest.skip("server options are a PostgreSQL URL's")
    service = Store(store.url + "?options=-c%20statement_timeout%3D4321", service=True)
    try:
        for scope in (service.read, service.write):
            with scope() as s:
                shown = s.connection().exec_driver_sql("SHOW statement_timeout").scalar()
                assert shown == "4321ms"
        with service.read() as s:
            assert s.connection().exec_driver_sql("SHOW transaction_read_only").scalar() == "on"
    finally:
        service.close()


def test_objects_read_stay_readable_after_the_read_scope(store: Store) -> None:
    with store.write() as s:
        create_cohort(s, SYSTEM, "kept", "Kept")
    with store.read() as s:
        cohort = s.scalars(select(Cohort)).one()
    assert (cohort.slug, cohort.title) == ("kept", "Kept")  # no DetachedInstanceError
    assert cohort.created_at.utcoffset() == timedelta(0)


def test_a_failed_commit_is_raised_and_nothing_is_kept(store: Store) -> None:
    """A constraint that fails only at flush/commit time still leaves nothing behind."""
    with store.write() as s:
        create_cohort(s, SYSTEM, "dupe", "First")

    def work() -> None:
        with store.write() as s:
            s.add(Cohort(slug="other", title="Other", settings={}))
            s.add(Cohort(slug="dupe", title="Second", settings={}))

    with pytest.raises(IntegrityError):
        work()
    with store.read() as s:
        assert list(s.scalars(select(Cohort.slug))) == ["dupe"]


# --- the activity log ---------------------------------------------------------------------------


def test_activity_cannot_be_updated(store: Store) -> None:
    with store.write() as s:
        create_cohort(s, SYSTEM, "log", "Log")

    def work() -> None:
        with store.write() as s:
            s.scalars(select(Activity)).one().verb = "cohort.forged"

    with pytest.raises(ValueError, match="append-only"):
        work()
    with store.read() as s:
        assert list(s.scalars(select(Activity.verb))) == ["cohort.create"]


def test_activity_data_cannot_be_updated(store: Store) -> None:
    with store.write() as s:
        create_cohort(s, SYSTEM, "log", "Log")

    def work() -> None:
        with store.write() as s:
            s.scalars(select(Activity)).one().data = {"slug": "forged"}

    with pytest.raises(ValueError, match="append-only"):
        work()
    with store.read() as s:
        assert s.scalars(select(Activity.data)).one() == {"slug": "log"}


def test_activity_cannot_be_deleted(store: Store) -> None:
    with store.write() as s:
        create_cohort(s, SYSTEM, "log", "Log")
    with pytest.raises(ValueError, match="append-only"), store.write() as s:
        s.delete(s.scalars(select(Activity)).one())
    assert count(store, Activity) == 1


@pytest.mark.parametrize("statement", ["update", "delete"])
def test_activity_bulk_statements_are_refused(store: Store, statement: str) -> None:
    with store.write() as s:
        create_cohort(s, SYSTEM, "log", "Log")
    stmt = update(Activity).values(verb="forged") if statement == "update" else delete(Activity)
    with pytest.raises(ValueError, match="the activity log is append-only"), store.write() as s:
        s.execute(stmt)
    with store.read() as s:
        assert list(s.scalars(select(Activity.verb))) == ["cohort.create"]


def test_the_log_guard_is_the_stores_not_every_session_in_the_process(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nbgrader's gradebook runs its own sessions in the same process (review rounds write
    grades there): the store's rules are the store's, attached to its sessionmaker only."""
    from nbgrader.api import Gradebook
    from sqlalchemy import event

    from nbcohort.cohorts.models import _activity_is_append_only, _no_bulk_rewrite_of_activity

    assert event.contains(store.factory, "before_flush", _activity_is_append_only)
    assert event.contains(store.factory, "do_orm_execute", _no_bulk_rewrite_of_activity)
    assert not event.contains(Session, "before_flush", _activity_is_append_only)
    assert not event.contains(Session, "do_orm_execute", _no_bulk_rewrite_of_activity)
    # nbgrader creates its gradebook by running the alembic command beside its Python.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    with Gradebook(f"sqlite:///{tmp_path / 'gradebook.db'}") as gb:
        gb.add_student("ana", first_name="Ana")
        gb.update_or_create_student("ana", last_name="Souza")
        assert gb.find_student("ana").last_name == "Souza"
    with store.write() as s:
        create_cohort(s, SYSTEM, "log", "Log")
    with Session(store.engine) as outside:  # not the store's: the guard is not global
        outside.scalars(select(Activity)).one().verb = "cohort.renamed"
        outside.commit()
    with store.read() as s:
        assert list(s.scalars(select(Activity.verb))) == ["cohort.renamed"]


@pytest.fixture
def world(store: Store) -> dict[str, Any]:
    """A cohort with two learners, an instructor and a post by Ana."""
    with store.write() as s:
        cohort = create_cohort(s, SYSTEM, "acts", "Activity")
        ana = add_member(s, SYSTEM, cohort, name="Ana", email="ana@example.org")
        ben = add_member(s, SYSTEM, cohort, name="Ben", email="ben@example.org")
        ivo = add_member(s, SYSTEM, cohort, name="Ivo", email="ivo@example.org", role="instructor")
        post = posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "hello")
    return {"cohort": cohort, "ana": ana, "ben": ben, "ivo": ivo, "post": post}


def _act(verb: str, s: Session, w: dict[str, Any]) -> tuple[str, int | None, int | None]:
    """Do the write that logs ``verb``; return the expected (object_type, object_id, member)."""
    cohort = s.get(Cohort, w["cohort"].id)
    ana, ben = Actor.of(w["ana"]), Actor.of(w["ben"])
    post_id = w["post"].id
    if verb == "post.create":
        new = posts.create_post(s, ben, cohort, ANCHOR, "a second post")
        return "post", new.id, ben.member_id
    if verb == "post.edit":
        posts.edit_post(s, ana, post_id, "hello, edited")
        return "post", post_id, ana.member_id
    if verb == "post.delete":
        posts.delete_post(s, ana, post_id)
        return "post", post_id, ana.member_id
    if verb == "post.react":
        posts.react(s, ben, post_id, "helpful")
        return "post", post_id, ben.member_id
    if verb == "post.flag":
        posts.flag_post(s, ben, post_id, "off topic")
        return "post", post_id, ben.member_id
    if verb == "member.add":
        new_member = add_member(s, SYSTEM, cohort, name="Dee", email="dee@example.org")
        return "member", new_member.id, None
    if verb == "cohort.create":
        new_cohort = create_cohort(s, SYSTEM, "another", "Another")
        return "cohort", new_cohort.id, None
    if verb == "token.mint":  # only the system actor (the CLI) mints tokens
        mint_token(s, SYSTEM, s.get(Member, w["ana"].id), "laptop")
        token_id = s.scalar(select(func.max(ApiToken.id)))
        return "api_token", token_id, None
    raise AssertionError(verb)


WRITE_VERBS = [
    "post.create",
    "post.edit",
    "post.delete",
    "post.react",
    "post.flag",
    "member.add",
    "cohort.create",
    "token.mint",
]


@pytest.mark.parametrize("verb", WRITE_VERBS)
def test_every_write_records_one_activity(store: Store, world: dict[str, Any], verb: str) -> None:
    with store.read() as s:
        last = s.scalar(select(func.max(Activity.id))) or 0
    with store.write() as s:
        object_type, object_id, member_id = _act(verb, s, world)
    with store.read() as s:
        new = list(s.scalars(select(Activity).where(Activity.id > last)))
        rows = [(a.verb, a.object_type, a.object_id, a.member_id) for a in new]
        cohort_ids = {a.verb: a.cohort_id for a in new}
        ats = [a.at for a in new]
    assert rows == [(verb, object_type, object_id, member_id)]
    if verb != "cohort.create":
        assert cohort_ids[verb] == world["cohort"].id
    assert all(at.utcoffset() == timedelta(0) for at in ats)


@pytest.mark.parametrize("verb", WRITE_VERBS)
def test_activity_is_written_in_the_same_transaction(
    store: Store, world: dict[str, Any], verb: str
) -> None:
    """A write that is rolled back leaves no activity behind (and vice versa)."""
    before = count(store, Activity)

    def work() -> None:
        with store.write() as s:
            _act(verb, s, world)
            s.flush()
            raise Boom

    with pytest.raises(Boom):
        work()
    assert count(store, Activity) == before


def test_first_post_also_logs_the_thread(store: Store, world: dict[str, Any]) -> None:
    with store.read() as s:
        verbs = list(s.scalars(select(Activity.verb).order_by(Activity.id)))
    assert verbs[-2:] == ["thread.create", "post.create"]


def test_reactions_and_unreact_are_logged(store: Store, world: dict[str, Any]) -> None:
    ben = Actor.of(world["ben"])
    with store.write() as s:
        assert posts.react(s, ben, world["post"].id, "+1")
        assert posts.unreact(s, ben, world["post"].id, "+1")
    with store.read() as s:
        verbs = list(s.scalars(select(Activity.verb).order_by(Activity.id)))
    assert verbs[-2:] == ["post.react", "post.unreact"]
    assert count(store, Reaction) == 0


def test_sqlite_busy_writer_gets_an_exception_not_a_silent_loss(tmp_path: Path) -> None:
    """With a tiny busy timeout, a writer that cannot get the lock raises (nothing is lost)."""
    url = sqlite_url(tmp_path)
    holder = Store.open(url, upgrade=True)
    waiter = Store.open(url, StoreSettings(sqlite_busy_timeout=0.05))
    try:
        with holder.write() as s:
            create_cohort(s, SYSTEM, "holder", "Holder")
            with pytest.raises(OperationalError, match="locked"), waiter.write() as w:
                create_cohort(w, SYSTEM, "waiter", "Waiter")
        with holder.read() as s:
            assert list(s.scalars(select(Cohort.slug))) == ["holder"]
    finally:
        holder.close()
        waiter.close()
