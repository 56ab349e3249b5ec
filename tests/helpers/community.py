"""Small helpers for tests of the community: the system actor, a member's actor, two writers
racing, and new posts held back as another program's long transaction would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.store import Store, sqlite_path

SYSTEM = Actor.system()


def actor(member: Member) -> Actor:
    return Actor.of(member)


def race(store: Store, first: Callable[[Session], Any], second: Callable[[Session], Any]):
    """Run ``first`` and hold its transaction open while ``second`` starts; return errors."""
    other_store = Store.open(store.url)
    inside, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run_first() -> None:
        with store.write() as s:
            first(s)
            s.flush()
            inside.set()
            release.wait(10)

    def run_second() -> None:
        try:
            with other_store.write() as s:
                second(s)
        except BaseException as exc:
            errors.append(exc)

    t1 = threading.Thread(target=run_first)
    t1.start()
    assert inside.wait(10)
    t2 = threading.Thread(target=run_second)
    t2.start()
    time.sleep(0.5)  # the second writer is now waiting on the first
    release.set()
    t1.join(10)
    t2.join(20)
    other_store.close()
    return errors


@contextmanager
def posts_held(store: Store) -> Iterator[None]:
    """Hold new posts back from outside nbcohort, as a long transaction by another program
    would: SQLite's write lock, or on PostgreSQL a lock on the post table (reads go on)."""
    path = sqlite_path(store.url)
    if path is not None:
        import sqlite3

        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            raw.execute("ROLLBACK")
            raw.close()
        return
    with store.engine.connect() as conn, conn.begin() as tx:
        conn.exec_driver_sql("LOCK TABLE post IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            tx.rollback()
