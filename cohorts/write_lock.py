"""The writer lock: how SQLite writers of several processes on one database file take turns."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import OperationalError
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_exponential

__all__ = ["WriterBusy", "WriterFileLock"]


class WriterBusy(Exception):
    """Another writer holds the database; raised by ``Store.write(wait=False)`` before any
    work, so the caller can run the write later or elsewhere. ``queued``: the holder is an
    nbcohort writer (this process or another on the writer lock), whose writes take
    milliseconds; otherwise it is a connection outside nbcohort, or a server database."""

    def __init__(self, message: str, *, queued: bool = False) -> None:
        super().__init__(message)
        self.queued = queued


class WriterFileLock:
    """An exclusive ``flock`` on ``<database>-writer.lock``, held around each write.

    Processes on one database file (service workers, CLI commands) queue here instead of in
    SQLite's busy handler, whose sleeps grow to 100 ms; a holder that dies (even by SIGKILL)
    releases it. A waiter tries again after short sleeps (0.25 ms, doubling to 4 ms) and
    gives up after ``timeout`` with SQLite's own "database is locked" error, before writing
    anything.
    The lock only orders writers: SQLite's own lock still guards the data, so a writer that
    cannot create the lock file (a read-only folder) simply goes on without it.
    """

    def __init__(self, db_path: str, timeout: float) -> None:
        self.path, self.timeout = db_path + "-writer.lock", timeout
        self._fd: int | None = None
        self._unusable = False

    @contextmanager
    def hold(self, *, wait: bool = True) -> Iterator[None]:
        """Hold the lock for one write; ``wait=False`` raises WriterBusy if it is taken."""
        if self._fd is None and not self._unusable:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
            except OSError:
                self._unusable = True
        if self._fd is None:
            yield
            return
        if not self._try():
            if not wait:
                raise WriterBusy("another process is writing", queued=True)
            waiting = Retrying(
                stop=stop_after_delay(self.timeout),
                wait=wait_exponential(multiplier=0.00025, max=0.004),
                retry=retry_if_result(lambda got: not got),
            )
            try:
                waiting(self._try)
            except RetryError:
                orig = sqlite3.OperationalError(f"database is locked (waited {self.timeout} s)")
                orig.sqlite_errorcode, orig.sqlite_errorname = 5, "SQLITE_BUSY"  # as SQLite's
                raise OperationalError("BEGIN IMMEDIATE", None, orig) from None
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _try(self) -> bool:
        assert self._fd is not None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
