"""How SQLite writers queue: the writer file lock across processes, and writes that must not
wait (the service runs those on its event loop)."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from nbcohort.cohorts.config import StoreSettings
from nbcohort.cohorts.models import Activity, Post
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.store import Store, WriterBusy, is_busy
from tests.helpers.sqlite_faults import (
    ANCHOR,
    LockHolder,
    db_file,
    integrity,
    post_rows,
    seed,
    writing_elsewhere,
)


def test_a_write_that_must_not_wait_is_refused_before_it_starts(sqlite_store: Store) -> None:
    cohort, (ana,) = seed(sqlite_store)
    other = Store.open(sqlite_store.url)  # another process's store on the same file
    try:
        with writing_elsewhere(
            other, lambda s: posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "held")
        ):
            started = time.monotonic()
            with pytest.raises(WriterBusy), sqlite_store.write(wait=False) as s:
                posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "never written")
            assert time.monotonic() - started < 5  # refused at once, not after the 30 s wait
    finally:
        other.close()
    with sqlite_store.write(wait=False) as s:  # free again: it writes
        posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "written")
    assert [r[2] for r in post_rows(sqlite_store)] == ["held", "written"]


def test_a_foreign_sqlite_lock_makes_a_no_wait_write_refuse_and_waiting_writes_still_wait(
    sqlite_store: Store,
) -> None:
    """A connection outside nbcohort (sqlite3 shell, a backup) holds only SQLite's own lock."""
    cohort, (ana,) = seed(sqlite_store)
    with LockHolder(db_file(sqlite_store), 1.0) as lock:
        with pytest.raises(WriterBusy), sqlite_store.write(wait=False) as s:
            posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "never written")
        # the busy timeout is back in force on the same connection: this one waits
        with sqlite_store.write() as s:
            posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "after the wait")
        assert time.monotonic() >= lock.released_at > 0
    assert [r[2] for r in post_rows(sqlite_store)] == ["after the wait"]


def test_no_wait_writes_on_a_server_database_always_go_elsewhere(store: Store) -> None:
    if store.is_sqlite:
        pytest.skip("SQLite can tell whether a write would wait")
    with pytest.raises(WriterBusy), store.write(wait=False):
        pass


def test_a_writer_gives_up_on_another_process_long_write_and_writes_nothing(
    sqlite_store: Store,
) -> None:
    cohort, (ana,) = seed(sqlite_store)
    impatient = Store.open(sqlite_store.url, StoreSettings(sqlite_busy_timeout=0.3))
    with writing_elsewhere(sqlite_store):
        started = time.monotonic()
        with (
            pytest.raises(OperationalError, match="database is locked") as refused,
            impatient.write() as s,
        ):
            posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "too impatient")
        assert 0.25 <= time.monotonic() - started < 2.0
        assert is_busy(refused.value)  # told apart by its code, as SQLite's own error is
    with impatient.write() as s:
        posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "second try")
    impatient.close()
    assert [r[2] for r in post_rows(sqlite_store)] == ["second try"]


def _write_posts(url: str, cohort_id: int, member_id: int, worker: int, n: int) -> None:
    from nbcohort.cohorts.models import Cohort, Member

    store = Store.open(url)
    try:
        with store.read() as s:
            cohort, me = s.get(Cohort, cohort_id), s.get(Member, member_id)
        assert cohort is not None and me is not None
        for i in range(n):
            with store.write() as s:
                posts.create_post(s, Actor.of(me), cohort, f"topic/p{i % 3}", f"w{worker} #{i}")
    finally:
        store.close()


def test_processes_writing_one_file_queue_on_the_writer_lock(sqlite_store: Store) -> None:
    cohort, members = seed(sqlite_store, learners=4)
    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_write_posts, args=(sqlite_store.url, cohort.id, m.id, w, 60))
        for w, m in enumerate(members)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    bodies = sorted(r[2] for r in post_rows(sqlite_store))
    assert bodies == sorted(f"w{w} #{i}" for w in range(4) for i in range(60))
    with sqlite_store.read() as s:
        logged = s.scalar(select(func.count()).where(Activity.verb == "post.create"))
        assert logged == s.scalar(select(func.count()).select_from(Post)) == 240
    assert Path(db_file(sqlite_store) + "-writer.lock").exists()
    assert integrity(db_file(sqlite_store)) == "ok"


def test_when_the_lock_file_cannot_be_opened_writes_go_on_under_sqlite_lock(
    sqlite_store: Store,
) -> None:
    path = Path(db_file(sqlite_store) + "-writer.lock")
    path.unlink(missing_ok=True)
    path.mkdir()  # cannot be opened as the lock file
    other = Store.open(sqlite_store.url)
    try:
        cohort, (ana,) = seed(other)
        with other.write() as s:
            posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "no lock file")
    finally:
        other.close()
    assert [r[2] for r in post_rows(sqlite_store)] == ["no lock file"]


def test_the_service_sends_a_write_that_cannot_say_how_long_it_waits_to_its_thread_at_once(
    store: Store, cohort, people, tokens
) -> None:
    """PostgreSQL (any statement may wait), or SQLite locked by a connection outside
    nbcohort: one try on the event loop, then the writer thread, no retries on the loop
    (those are for another nbcohort writer, whose writes take milliseconds)."""
    from nbcohort.cohorts.api.app import make_app
    from nbcohort.cohorts.api.server import BackgroundService
    from nbcohort.cohorts.client import CohortClient
    from nbcohort.cohorts.config import ServiceSettings
    from tests.helpers.processes import free_port

    settings = ServiceSettings(ip="127.0.0.1", port=free_port())
    app = make_app(store, settings)
    service_store = app.settings["nbcohort"].store
    tries: list[bool] = []
    write = service_store.write
    service_store.write = lambda *, wait=True: tries.append(wait) or write(wait=wait)
    service = BackgroundService(app, settings).start()
    ana = CohortClient(service.url, tokens["ana"], timeout=10)
    try:
        ana.me()  # the service remembers ana's token for the throttle just after (a write)
        deadline = time.monotonic() + 10
        while len(tries) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        tries.clear()  # only the post's writes count below
        if store.is_sqlite:
            with LockHolder(db_file(store), 0.5) as lock:
                made = ana.post(ANCHOR, "after the foreign lock")
            assert lock.released_at > 0
        else:
            made = ana.post(ANCHOR, "on a server database")
        assert tries == [False, True]  # on the loop once, then on the writer thread
        assert ana.thread(ANCHOR)["posts"][-1]["id"] == made["id"]
    finally:
        ana.close()
        service.stop()
