"""The community store: engine set-up per database and the one session scope (schema
revisions are ``schema.py``).

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

from sqlalchemy import Engine, create_engine, event
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
    "is_busy",
    "make_engine",
    "session_scope",
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
    before each unit of work (a round trip as long as a cached thread read's own); units
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
    options = " ".join(
        [
            *([given] if isinstance(given, str) else given or []),
            "-c default_transaction_read_only=on",
        ]
    )
    return create_engine(
        url,
        echo=settings.echo,
        pool_size=settings.pool_size,
        isolation_level="AUTOCOMMIT",
        connect_args={"options": options},
    )


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
        from nbcohort.cohorts.schema import check_db_revision, upgrade_db  # alembic: slow

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
