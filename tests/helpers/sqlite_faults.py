"""SQLite under stress, for tests of locks and faults: a seeded cohort, the file's integrity,
another connection holding the write lock, another writer holding a transaction."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, Member, Post
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store, sqlite_path

SYSTEM = Actor.system()
ANCHOR = "module-1/loading-data"
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def db_file(store: Store) -> str:
    path = sqlite_path(store.url)
    assert path is not None
    return path


def integrity(path: str) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def post_rows(store: Store) -> list[tuple[int, int, str]]:
    with store.read() as s:
        return [tuple(r) for r in s.execute(select(Post.id, Post.author_id, Post.body_md))]


def seed(store: Store, learners: int = 1) -> tuple[Cohort, list[Member]]:
    with store.write() as s:
        cohort = create_cohort(s, SYSTEM, "faults", "Faults")
        members = [
            add_member(s, SYSTEM, cohort, name=f"Learner {i}", email=f"l{i}@example.org")
            for i in range(learners)
        ]
    return cohort, members


class LockHolder:
    """Another connection (as another process would) holding the write lock for a while."""

    def __init__(self, path: str, seconds: float) -> None:
        self.path, self.seconds = path, seconds
        self.taken = threading.Event()
        self.released_at = 0.0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("BEGIN EXCLUSIVE")
            self.taken.set()
            time.sleep(self.seconds)
            conn.execute("COMMIT")
            self.released_at = time.monotonic()
        finally:
            conn.close()

    def __enter__(self) -> LockHolder:
        self.thread.start()
        assert self.taken.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.join(10)


def members_with_tokens(store: Store, cohort_id: int, n: int) -> list[str]:
    with store.write() as s:
        cohort = s.get(Cohort, cohort_id)
        out = []
        for i in range(n):
            m = add_member(s, SYSTEM, cohort, name=f"Client {i}", email=f"c{i}@example.org")
            s.flush()
            out.append(mint_token(s, SYSTEM, m, "load"))
    return out


@contextmanager
def writing_elsewhere(
    store: Store, work: Callable[[Session], object] | None = None
) -> Iterator[None]:
    """``store`` holds a write (after ``work``) on another thread until the block ends."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.write() as s:
            if work is not None:
                work(s)
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        release.set()
        holder.join(10)
