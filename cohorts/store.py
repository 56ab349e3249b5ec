"""The community store: engine set-up per database, the one session scope, schema revisions.

SQLite is the embedded default (WAL, foreign keys, busy timeout, ``BEGIN IMMEDIATE`` for
writes so concurrent writers queue instead of failing); PostgreSQL is chosen by ``db_url``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from nbcohort.cohorts.config import StoreSettings
from nbcohort.cohorts.models import guard_activity_log
from nbcohort.cohorts.write_lock import WriterBusy, WriterFileLock

__all__ = [
    "CommitUnknown",
    "DatabaseError",
    "Store",
    "WriterBusy",
    "alembic_config",
    "check_db_revision",
    "downgrade_db",
    "head_revision",
    "is_busy",
    "make_engine",
    "migration_connection",
    "session_scope",
    "upgrade_db",
]

T = TypeVar("T")
_WRITE = "nbcohort_write"
_NOWAIT = "nbcohort_nowait"


_SQLITE_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (primary codes of the extended ones)
# lock_not_available (lock_timeout), deadlock_detected, serialization_failure
_POSTGRES_BUSY = {"55P03", "40P01", "40001"}


def is_busy(exc: DBAPIError) -> bool:
    """Whether the database refused because others held what this needed, by the driver's
    error code: nothing was written, and the same work can simply be tried again later."""
    orig = exc.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _SQLITE_BUSY
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)  # psycopg 3, 2
    return state in _POSTGRES_BUSY


class CommitUnknown(Exception):
    """The connection closed while a commit was in flight: the unit may or may not be saved,
    so it must not simply be run again. (A connection lost before the commit lost nothing.)"""


class DatabaseError(RuntimeError):
    """The database cannot be used as it is; the message says what to do."""


def make_engine(url: str, settings: StoreSettings | None = None, *, ping: bool = True) -> Engine:
    """Create an engine with the per-database set-up the store relies on.

    ``ping=False`` (a server database) skips checking that a pooled connection is alive
    before each unit of work, a round trip that is a third of a cached thread read; units
    then go through ``Store.run``, which runs a unit again whose connection the server had
    closed.
    """
    settings = settings or StoreSettings()
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            url, echo=settings.echo, pool_size=settings.pool_size, pool_pre_ping=ping
        )
    path = sqlite_path(url)
    if path:
        folder = Path(path).parent
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        echo=settings.echo,
        connect_args={"timeout": settings.sqlite_busy_timeout, "check_same_thread": False},
    )
    busy_ms = int(settings.sqlite_busy_timeout * 1000)
    synchronous = settings.sqlite_synchronous

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN IMMEDIATE below is honoured.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cur.execute("PRAGMA foreign_keys = ON")
        mode = cur.execute("PRAGMA journal_mode = WAL").fetchone()
        if mode and str(mode[0]).lower() not in ("wal", "memory"):
            raise DatabaseError(f"cannot switch {parsed.database} to WAL mode (got {mode[0]})")
        cur.execute(f"PRAGMA synchronous = {synchronous}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer takes the write lock up front, so it waits (busy_timeout) instead of
        # failing with "database is locked" when it upgrades from a read lock later.
        # Statements that cannot fail go straight to the driver (cheaper on every request).
        options = conn.get_execution_options()
        raw = conn.connection.driver_connection
        if not options.get(_WRITE, False):
            raw.execute("BEGIN")
        elif not options.get(_NOWAIT, False):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:  # try once, without SQLite's busy handler
            raw.execute("PRAGMA busy_timeout = 0")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            finally:
                raw.execute(f"PRAGMA busy_timeout = {busy_ms}")

    return engine


def make_read_engine(url: str, settings: StoreSettings | None = None) -> Engine | None:
    """Connections to a PostgreSQL server (libpq drivers) that read in autocommit, where the
    server refuses every write (``default_transaction_read_only``); None elsewhere."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or parsed.get_driver_name() not in (
        "psycopg",
        "psycopg2",
    ):
        return None
    settings = settings or StoreSettings()
    given = parsed.query.get("options")  # the URL's own server options are kept
    options = " ".join([*([given] if isinstance(given, str) else given or []),
                        "-c default_transaction_read_only=on"])  # fmt: skip
    return create_engine(
        url, echo=settings.echo, pool_size=settings.pool_size, isolation_level="AUTOCOMMIT",
        connect_args={"options": options},
    )  # fmt: skip


@contextmanager
def session_scope(
    factory: sessionmaker[Session],
    *,
    write: bool = True,
    snapshot: bool = False,
    wait: bool = True,
) -> Iterator[Session]:
    """The one place that commits or rolls back: all of a unit of work, or none of it.

    ``snapshot`` reads every table as of one moment on a server database too (SQLite's
    transactions always do), for exports taken while members keep writing. A SQLite writer
    with ``wait=False`` raises WriterBusy instead of waiting for another connection's lock.
    """
    session = factory()
    try:
        options: dict[str, Any] = {_WRITE: write, _NOWAIT: not wait}
        if snapshot and factory.kw["bind"].dialect.name != "sqlite":
            options["isolation_level"] = "REPEATABLE READ"
        try:
            session.connection(execution_options=options)
        except OperationalError as exc:
            if wait or not is_busy(exc):
                raise
            raise WriterBusy("another connection holds the database") from None
        yield session
        if write:
            try:
                session.commit()
            except DBAPIError as exc:
                if exc.connection_invalidated:
                    raise CommitUnknown("the database connection closed during a commit") from exc
                raise
        else:
            session.expunge_all()  # what was read stays readable after the scope
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> AlembicConfig:
    """Alembic configuration for the packaged migrations, pointed at ``url``."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", "nbcohort.cohorts:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest migration this version of nbcohort knows."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def upgrade_db(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision`` (creates it when empty)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with migration_connection(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade_db(engine: Engine, revision: str) -> None:
    """Take the database schema back to ``revision`` (for tests and recovery by hand)."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with migration_connection(engine) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """One transaction for a schema change: all of it or none of it.

    On SQLite, foreign keys are off while it runs and checked before it commits: Alembic's
    batch mode rebuilds a table by copying it and dropping the old one, and with foreign
    keys on, that drop would delete every row referencing the table (posts, with their
    thread table rebuilt). The renaming of the copy leaves triggers alone (legacy ALTER
    TABLE): they name the table, which keeps its name, and modern RENAME would refuse while
    the old table is gone. A change that leaves a dangling reference is rolled back whole.
    """
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if engine.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys = OFF")  # only outside a transaction
            raw.execute("PRAGMA legacy_alter_table = ON")
        try:
            with conn.begin():
                yield conn
                if raw is not None:
                    dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if dangling:
                        table, rowid, parent, _ = dangling[0]
                        raise DatabaseError(
                            f"the schema change left {len(dangling)} rows pointing at rows "
                            f"that do not exist (first: {table} row {rowid} -> {parent}); "
                            "nothing was changed"
                        )
        finally:
            if raw is not None:
                raw.execute("PRAGMA legacy_alter_table = OFF")
                raw.execute("PRAGMA foreign_keys = ON")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def check_db_revision(engine: Engine) -> None:
    """Refuse a database whose schema is not this version's, naming the fix."""
    try:
        current = current_revision(engine)
    except Exception as exc:  # unreadable file, no server, no permission
        raise DatabaseError(f"cannot open the database at {engine.url!r}: {exc}") from exc
    head = head_revision()
    if current == head:
        return
    if current is None:
        if inspect(engine).get_table_names():
            raise DatabaseError(
                f"the database at {engine.url!r} holds tables but no nbcohort schema "
                "revision: it is not an nbcohort database. Point db_url at an empty database."
            )
        raise DatabaseError(
            f"the database at {engine.url!r} has no nbcohort schema yet. "
            "Run 'nbcohort upgrade-db' to create it."
        )
    known = {
        s.revision
        for s in ScriptDirectory.from_config(alembic_config("sqlite://")).walk_revisions()
    }
    if current not in known:
        raise DatabaseError(
            f"the database at {engine.url!r} is at revision {current}, newer than this "
            f"nbcohort (head {head}). Upgrade nbcohort, or point db_url at another database."
        )
    raise DatabaseError(
        f"the database at {engine.url!r} is at revision {current}, older than this nbcohort "
        f"(head {head}). Back it up, then run 'nbcohort upgrade-db'."
    )


class Store:
    """An engine plus its session factory: what services and the HTTP service share."""

    def __init__(
        self, url: str, settings: StoreSettings | None = None, *, service: bool = False
    ) -> None:
        self.url, self.settings = url, settings
        self.engine = make_engine(url, settings, ping=not service)
        self.factory = sessionmaker(self.engine, expire_on_commit=False)
        guard_activity_log(self.factory)
        # A service on PostgreSQL reads on connections of their own in autocommit, where the
        # server refuses any write: a read is then its statements alone (no BEGIN, no
        # ROLLBACK), and each statement sees the latest commits, as in a READ COMMITTED
        # transaction. Snapshot reads keep a transaction (``read``).
        self._read_engine = make_read_engine(url, settings) if service else None
        self._read_factory = self.factory
        if self._read_engine is not None:
            self._read_factory = sessionmaker(self._read_engine, expire_on_commit=False)
            guard_activity_log(self._read_factory)
        # SQLite takes one writer at a time: threads of this process queue here, in order,
        # and processes on one database file (service workers, the CLI) queue on a file
        # lock, rather than in SQLite's busy handler, which sleeps and retries.
        self._write_lock = threading.Lock() if self.is_sqlite else None
        path = sqlite_path(url)
        timeout = (settings or StoreSettings()).sqlite_busy_timeout
        self._file_lock = WriterFileLock(path, timeout) if path else None

    @classmethod
    def open(
        cls, url: str, settings: StoreSettings | None = None, *, upgrade: bool = False
    ) -> Store:
        """Open a store; with ``upgrade`` migrate it first, otherwise refuse a stale schema."""
        store = cls(url, settings)
        try:
            if upgrade:
                upgrade_db(store.engine)
            check_db_revision(store.engine)
        except BaseException:
            store.close()
            raise
        return store

    @contextmanager
    def write(self, *, wait: bool = True) -> Iterator[Session]:
        """A read-write unit of work (``with store.write() as s:``).

        ``wait=False`` starts only when no other writer holds the database and otherwise
        raises WriterBusy before anything runs (the service writes on its event loop when it
        can, and hands the other writes to a thread). A server database may wait on any
        statement, so there it always raises: tried with a short lock_timeout, a PostgreSQL
        write on the loop held every read for its round trips (read p99 up by half).
        """
        if not wait and not self.is_sqlite:
            raise WriterBusy("a server database may wait on any statement")
        with ExitStack() as stack:
            if self._write_lock is not None:
                if not self._write_lock.acquire(blocking=wait):
                    raise WriterBusy("another thread of this process is writing", queued=True)
                stack.callback(self._write_lock.release)
            if self._file_lock is not None:
                stack.enter_context(self._file_lock.hold(wait=wait))
            yield stack.enter_context(session_scope(self.factory, write=True, wait=wait))

    def read(self, *, snapshot: bool = False) -> AbstractContextManager[Session]:
        """A read-only unit of work: never commits, never takes the write lock (a service's
        store on PostgreSQL: the server refuses any write in it)."""
        factory = self.factory if snapshot else self._read_factory
        return session_scope(factory, write=False, snapshot=snapshot)

    def for_service(self) -> Store:
        """The store a long-running service uses: on a server database its own connections,
        not pinged before each unit (``make_engine``), so its units go through ``run``, and
        reading in autocommit (``make_read_engine``). SQLite: this store itself."""
        return self if self.is_sqlite else Store(self.url, self.settings, service=True)

    def run(self, work: Callable[..., T], *args: Any) -> T:
        """Call ``work`` (code over ``read``/``write`` units); when the server had closed the
        connection it got (a restart), the unit was rolled back whole and runs once more on
        a fresh one, and the pool drops every older connection. A commit the connection
        closed under raises CommitUnknown and is not run again."""
        try:
            return work(*args)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        return work(*args)

    def close(self) -> None:
        self.engine.dispose()
        if self._read_engine is not None:
            self._read_engine.dispose()
        if self._file_lock is not None:
            self._file_lock.close()

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"


def sqlite_path(url: str) -> str | None:
    """The file behind a SQLite URL (also ``file:...?uri=true``), or None for other databases."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    assert database is not None
    if parsed.query.get("uri") == "true" or database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
        if not database or database == ":memory:" or "mode=memory" in str(parsed):
            return None
    return os.path.abspath(database)
