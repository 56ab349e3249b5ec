"""Where the service's units of work run: small writes on the event loop when the database is
free, slow ones (``off_loop``) on the writer thread so the loop keeps answering."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.group_commit import WriteBatcher
from nbcohort.cohorts.api.units import Units
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.store import Store
from tests.helpers.sqlite_faults import ANCHOR, post_rows, seed


def _where_each_write_ran(store: Store, **how: bool) -> tuple[str, str]:
    """One write's thread, and the loop's."""
    cohort, (ana,) = seed(store)
    ran_on: list[str] = []

    def body(session: Session) -> int:
        ran_on.append(threading.current_thread().name)
        return posts.create_post(session, Actor.of(ana), cohort, ANCHOR, "hello").id

    async def main() -> str:
        with ThreadPoolExecutor(1, thread_name_prefix="writer") as executor:
            await Units(store, executor, WriteBatcher(store)).write(body, **how)
        return threading.current_thread().name

    loop_thread = asyncio.run(main())
    assert [r[2] for r in post_rows(store)] == ["hello"]
    return ran_on[0], loop_thread


def test_a_small_write_on_a_free_sqlite_database_runs_on_the_loop(sqlite_store: Store) -> None:
    ran_on, loop_thread = _where_each_write_ran(sqlite_store)
    assert ran_on == loop_thread


def test_a_slow_write_runs_on_the_writer_thread_even_when_the_database_is_free(
    sqlite_store: Store,
) -> None:
    ran_on, loop_thread = _where_each_write_ran(sqlite_store, off_loop=True)
    assert ran_on != loop_thread and ran_on.startswith("writer")


def test_a_slow_write_never_joins_a_shared_transaction(sqlite_store: Store) -> None:
    """``batch`` asks to share a transaction, which runs on the loop: ``off_loop`` wins."""
    ran_on, _ = _where_each_write_ran(sqlite_store, off_loop=True, batch=True)
    assert ran_on.startswith("writer")


def test_a_batched_write_on_a_free_sqlite_database_runs_on_the_loop(sqlite_store: Store) -> None:
    ran_on, loop_thread = _where_each_write_ran(sqlite_store, batch=True)
    assert ran_on == loop_thread
