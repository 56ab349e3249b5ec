"""PostgreSQL: the service hears thread changes (LISTEN/NOTIFY) and serves kept pages with no
query; every change, whoever makes it, still reaches the next reader; a lost listener falls
back to checking versions, and the listener comes back."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.engine import make_url

from nbcohort.cohorts.api.app import make_app
from nbcohort.cohorts.api.page_watch import PageWatch
from nbcohort.cohorts.api.server import BackgroundService
from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.config import ServiceSettings
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.store import Store
from tests.helpers.community import actor
from tests.helpers.processes import free_port

ANCHOR = "module-1/loading-data"


class InProcessService:
    """The service on a thread of this process, so a test can see its watch and count the
    statements it sends."""

    def __init__(self, store: Store, **settings: Any) -> None:
        self.settings = ServiceSettings(ip="127.0.0.1", port=free_port(), **settings)
        self.app = make_app(store, self.settings)
        self.ctx = self.app.settings["nbcohort"]
        self.background = BackgroundService(self.app, self.settings).start()
        self.thread_reads = 0
        self._service_thread = self.background._thread

    @property
    def url(self) -> str:
        return self.background.url

    @property
    def watch(self) -> PageWatch:
        assert self.ctx.watch is not None
        return self.ctx.watch

    def count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.current_thread() is self._service_thread and "FROM thread" in statement:
            self.thread_reads += 1


@pytest.fixture
def inproc(admin: Engine, store: Store) -> Iterator[InProcessService]:
    svc = InProcessService(store)
    event.listen(Engine, "before_cursor_execute", svc.count)
    try:
        yield svc
    finally:
        event.remove(Engine, "before_cursor_execute", svc.count)
        svc.background.stop()


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _post(store: Store, member: Any, cohort: Cohort, body: str) -> int:
    with store.write() as s:  # not through the service: the CLI's kind of write
        return posts.create_post(s, actor(member), cohort, ANCHOR, body).id


def test_kept_pages_cost_no_query_and_every_change_still_shows(
    inproc: InProcessService, store: Store, cohort: Cohort, people: dict, tokens: dict
) -> None:
    ben = CohortClient(inproc.url, tokens["ben"], timeout=10)
    ana = CohortClient(inproc.url, tokens["ana"], timeout=10)
    try:
        eventually(lambda: inproc.watch.live)
        heard = inproc.watch.notices
        _post(store, people["ana"], cohort, "first")
        # The post's notice must be in before the page is kept, or it arrives after the read
        # and (rightly) costs the next read a statement.
        eventually(lambda: inproc.watch.notices > heard)
        first = ben.thread(ANCHOR)

        def five_free_reads() -> bool:
            eventually(lambda: inproc.ctx.pages.trusted, 5)
            assert ben.thread(ANCHOR) == first
            before = inproc.thread_reads
            for _ in range(5):
                assert ben.thread(ANCHOR) == first
            return inproc.thread_reads == before  # kept row, kept page: no statement

        # A notice the watch could not place, or a check of its connection slowed by a loaded
        # machine, rightly makes a read check its row again: the claim is that a quiet
        # stretch costs nothing, so one of three stretches must (a cache never used fails all).
        assert any(five_free_reads() for _ in range(3))

        # Another writer: heard, and the next read shows it (a notice takes milliseconds).
        notices = inproc.watch.notices
        _post(store, people["chi"], cohort, "from elsewhere")
        eventually(lambda: inproc.watch.notices > notices, 5)
        assert [p["html"] for p in ben.thread(ANCHOR)["posts"]][-1] == "<p>from elsewhere</p>\n"

        # A change only the thread row shows (locked by an administrator, in SQL).
        with store.write() as s:
            s.execute(text("UPDATE thread SET locked = true WHERE anchor = :a"), {"a": ANCHOR})
        eventually(lambda: ben.thread(ANCHOR)["locked"], 5)

        # Own writes through the service: read back at once, every time.
        with store.write() as s:
            s.execute(text("UPDATE thread SET locked = false WHERE anchor = :a"), {"a": ANCHOR})
        eventually(lambda: not ana.thread(ANCHOR)["locked"], 5)
        for i in range(20):
            made = ana.post(ANCHOR, f"mine {i}")
            assert ana.thread(ANCHOR)["posts"][-1]["id"] == made["id"], i
            ben.react(made["id"], "+1")
            assert ben.thread(ANCHOR)["posts"][-1]["my_reactions"] == ["+1"], i
        # ... and once heard back, kept pages cost no query again.
        eventually(lambda: inproc.ctx.pages.trusted, 5)
        ben.thread(ANCHOR)
        before = inproc.thread_reads
        ben.thread(ANCHOR)
        assert inproc.thread_reads == before
    finally:
        ben.close(), ana.close()


def test_a_lost_listener_falls_back_to_versions_then_comes_back(
    inproc: InProcessService, admin: Engine, db_url: str, store: Store, cohort: Cohort,
    people: dict, tokens: dict,
) -> None:  # fmt: skip
    ben = CohortClient(inproc.url, tokens["ben"], timeout=10)
    name = make_url(db_url).database
    with store.write() as s:  # the test's own pooled connection outlives the lock-out below
        s.execute(text("SELECT 1"))
    try:
        _post(store, people["ana"], cohort, "first")
        eventually(lambda: inproc.watch.live)
        ben.thread(ANCHOR)
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
            killed = conn.execute(
                text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                     "WHERE datname = :db AND application_name = 'nbcohort page watch'"),
                {"db": name},
            ).scalar_one()  # fmt: skip
        assert killed == 1
        eventually(lambda: not inproc.watch.live, 5)
        assert not inproc.ctx.pages.trusted
        # Nobody hears this post, yet the very next read shows it: the version is checked.
        _post(store, people["chi"], cohort, "while nobody listens")
        before = inproc.thread_reads
        assert ben.thread(ANCHOR)["posts"][-1]["html"] == "<p>while nobody listens</p>\n"
        assert inproc.thread_reads == before + 1
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
    try:
        eventually(lambda: inproc.watch.live and inproc.ctx.pages.trusted, 15)
        _post(store, people["ana"], cohort, "heard again")
        eventually(lambda: ben.thread(ANCHOR)["posts"][-1]["html"] == "<p>heard again</p>\n", 5)
        before = inproc.thread_reads
        ben.thread(ANCHOR)
        assert inproc.thread_reads == before
    finally:
        ben.close()


@pytest.mark.parametrize(
    ("settings", "listens"),
    [({}, True), ({"listen_for_changes": False}, False), ({"page_cache": 0}, False)],
)
def test_listening_can_be_turned_off(admin: Engine, store: Store, settings, listens) -> None:
    ctx = make_app(store, ServiceSettings(**settings)).settings["nbcohort"]
    try:
        assert (ctx.watch is not None) == listens
        if listens:
            assert "application_name='nbcohort page watch'" in ctx.watch.conninfo
    finally:
        ctx.store.close()


def test_the_watch_trusts_kept_rows_only_while_it_has_heard_every_answered_write(
    admin: Engine, store: Store, cohort: Cohort, people: dict
) -> None:
    """The bookkeeping behind "a member always reads their own change", on a real listening
    connection, with the order of answer and notice forced both ways."""
    from nbcohort.cohorts.services.pages import PageCache

    async def until(check: Callable[[], bool], seconds: float = 5.0) -> None:
        deadline = time.monotonic() + seconds
        while not check():
            assert time.monotonic() < deadline, "timed out"
            await asyncio.sleep(0.01)

    async def scenario() -> None:
        cache = PageCache()
        watch = PageWatch.for_engine(store.engine, cache, check_seconds=0.2)
        assert watch is not None
        watch.start()
        try:
            await until(lambda: watch.live and cache.trusted)
            # Answered before its notice is back: not trusted until it is.
            first = watch.marker()
            watch.answered(first)
            assert not cache.trusted
            with store.write() as s:
                watch.mark(s, first)
            await until(lambda: cache.trusted)
            # Heard before it is answered: the answer finds it heard, trust stays.
            second = watch.marker()
            with store.write() as s:
                watch.mark(s, second)
            await asyncio.sleep(0.3)
            watch.answered(second)
            assert cache.trusted
            # A kept row is forgotten when its thread changes, by anyone.
            _post(store, people["ana"], cohort, "makes the thread")
            with store.read() as s:
                row = s.execute(text("SELECT id, title, locked, version FROM thread")).first()
            await asyncio.sleep(0.3)  # the notice of the thread's creation is in
            cache.keep_thread(cohort.id, ANCHOR, row, cache.generation)
            assert cache.thread(cohort.id, ANCHOR) is row
            _post(store, people["chi"], cohort, "changes it")
            await until(lambda: cache.thread(cohort.id, ANCHOR) is None)
            # A notice that never comes (here: a marker never sent) stops trusting only for
            # a while: then every kept row is forgotten and trust comes back.
            cache.keep_thread(cohort.id, ANCHOR, row, cache.generation)
            watch.answered(watch.marker())
            assert not cache.trusted
            await until(lambda: cache.trusted, 3)
            assert cache.thread(cohort.id, ANCHOR) is None
            # Someone else's notice on the channel: kept rows are dropped, listening goes on.
            cache.keep_thread(cohort.id, ANCHOR, row, cache.generation)
            with store.write() as s:
                s.execute(text("NOTIFY nbcohort_thread, 'tea time'"))
            await until(lambda: cache.thread(cohort.id, ANCHOR) is None)
            assert watch.live and cache.trusted
        finally:
            await watch.stop()
        assert not watch.live and not cache.trusted

    asyncio.run(scenario())
