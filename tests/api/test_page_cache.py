"""Cached thread pages: the database counts every change a page shows, so a cached page is
never stale, whoever wrote (this store, another store, a foreign connection), and every
viewer still sees exactly what the uncached page shows them. SQLite and PostgreSQL."""

from __future__ import annotations

import re
import sqlite3
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update

from nbcohort.cohorts.models import Cohort, Member, Post, ReadMark, Thread
from nbcohort.cohorts.schema import downgrade_db, upgrade_db
from nbcohort.cohorts.services import posts, threads
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.pages import PageCache
from nbcohort.cohorts.services.roster import import_roster
from nbcohort.cohorts.store import Store, sqlite_path

SYSTEM = Actor.system()
ANCHOR = "module-1/loading-data"
OTHER = "topic/pandas-tips"


def as_actor(m: Member) -> Actor:
    return Actor.of(m)


def post(store: Store, who: Member, cohort: Cohort, body: str = "hi", **kw: Any) -> Post:
    anchor = kw.pop("anchor", ANCHOR)
    with store.write() as s:
        return posts.create_post(s, as_actor(who), cohort, anchor, body, **kw)


def version(store: Store, anchor: str = ANCHOR) -> int:
    with store.read() as s:
        return s.scalar(select(Thread.version).where(Thread.anchor == anchor))


def page(store: Store, who: Member, cohort: Cohort, cache: PageCache | None, **kw: Any):
    with store.read() as s:
        return threads.read_thread(s, as_actor(who), cohort, ANCHOR, cache=cache, **kw)


# --- the version the database keeps ---------------------------------------------------------


def test_every_change_a_page_shows_bumps_its_thread(store: Store, cohort: Cohort, people) -> None:
    ana, ben, fay = people["ana"], people["ben"], people["fay"]
    first = post(store, ana, cohort, "first")
    post(store, ben, cohort, "elsewhere", anchor=OTHER)
    steps = {
        "reply": lambda s: posts.create_post(
            s, as_actor(ben), cohort, ANCHOR, "re", parent_id=first.id
        ),
        "edit": lambda s: posts.edit_post(s, as_actor(ana), first.id, "first, edited"),
        "react": lambda s: posts.react(s, as_actor(ben), first.id, "+1"),
        "unreact": lambda s: posts.unreact(s, as_actor(ben), first.id, "+1"),
        "hide": lambda s: posts.moderate_post(s, as_actor(fay), first.id, "hide", "spam?"),
        "restore": lambda s: posts.moderate_post(s, as_actor(fay), first.id, "restore", "ok"),
        "author renamed": lambda s: setattr(s.get(Member, ana.id), "name", "Ana S."),
        "author's team": lambda s: setattr(s.get(Member, ana.id), "team", "green"),
        "delete": lambda s: posts.delete_post(s, as_actor(ana), first.id),
        "hard delete": lambda s: s.execute(delete(Post).where(Post.parent_id == first.id)),
    }  # fmt: skip
    other = version(store, OTHER)
    for name, change in steps.items():
        before = version(store)
        with store.write() as s:
            change(s)
        assert version(store) > before, f"{name} did not bump the thread's version"
    assert version(store, OTHER) == other, "another thread's version moved"


def test_changes_a_page_does_not_show_leave_the_version(
    store: Store, cohort: Cohort, people
) -> None:
    ana, ben = people["ana"], people["ben"]
    first = post(store, ana, cohort)
    before = version(store)
    with store.write() as s:
        threads.mark_read(s, as_actor(ben), cohort, ANCHOR)
        s.get(Member, ana.id).email = "ana.souza@example.org"  # not on any page
        s.get(Member, ben.id).name = "Ben O."  # ben wrote nothing here
        s.get(Member, ana.id).name = s.get(Member, ana.id).name  # no change at all
        posts.flag_post(s, as_actor(ben), first.id, "off topic")  # one flag does not hide
    assert version(store) == before
    with store.read() as s:
        assert s.scalar(select(ReadMark.last_post_id)) == first.id


def test_a_rolled_back_change_leaves_the_version(store: Store, cohort: Cohort, people) -> None:
    first = post(store, people["ana"], cohort)
    before = version(store)

    def react_then_fail() -> None:
        with store.write() as s:
            posts.react(s, as_actor(people["ben"]), first.id, "+1")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        react_then_fail()
    assert version(store) == before


def test_a_roster_update_bumps_the_threads_of_renamed_authors(
    store: Store, cohort: Cohort, people
) -> None:
    post(store, people["ana"], cohort)
    cache = PageCache()
    assert page(store, people["ben"], cohort, cache)["posts"][0]["author"]["team"] == "red"
    roster = "name,email,team,role\nAna Souza,ana@example.org,blue,learner\n"
    with store.write() as s:
        import_roster(s, SYSTEM, cohort, roster.encode())
    author = page(store, people["ben"], cohort, cache)["posts"][0]["author"]
    assert (author["name"], author["team"]) == ("Ana Souza", "blue")


# --- the cache ------------------------------------------------------------------------------


def test_a_page_is_served_from_the_cache_until_its_thread_changes(
    store: Store, cohort: Cohort, people
) -> None:
    ana, ben = people["ana"], people["ben"]
    post(store, ana, cohort, "one")
    cache = PageCache()
    first = page(store, ben, cohort, cache)
    assert (cache.hits, cache.misses) == (0, 1)
    assert page(store, ben, cohort, cache) == first
    assert page(store, people["chi"], cohort, cache)["posts"] == first["posts"]
    assert (cache.hits, cache.misses) == (2, 1)
    post(store, ana, cohort, "two")
    after = page(store, ben, cohort, cache)
    assert [p["html"] for p in after["posts"]] == ["<p>one</p>\n", "<p>two</p>\n"]
    assert after["total"] == 2
    assert cache.misses == 2


def test_writes_through_another_store_are_seen(
    store: Store, db_url: str, cohort: Cohort, people
) -> None:
    """Another service process or a CLI command writes through its own engine."""
    ana, ben = people["ana"], people["ben"]
    mine = post(store, ana, cohort, "mine")
    cache = PageCache()
    page(store, ben, cohort, cache)
    other = Store.open(db_url)
    try:
        with other.write() as s:
            posts.react(s, as_actor(ben), mine.id, "helpful")
    finally:
        other.close()
    seen = page(store, ben, cohort, cache)["posts"][0]
    assert (seen["reactions"], seen["my_reactions"]) == ({"helpful": 1}, ["helpful"])


def test_a_foreign_sqlite_connection_is_seen(sqlite_store: Store, tmp_path) -> None:
    """Triggers live in the database file: even a plain sqlite3 session keeps the count."""
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.services.members import add_member

    store = sqlite_store
    with store.write() as s:
        cohort = create_cohort(s, SYSTEM, "c", "C")
        ana = add_member(s, SYSTEM, cohort, name="Ana", email="ana@example.org")
    post(store, ana, cohort, "original")
    cache = PageCache()
    assert page(store, ana, cohort, cache)["posts"][0]["html"] == "<p>original</p>\n"
    path = sqlite_path(str(store.engine.url))
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE post SET body_html = '<p>changed</p>'")
    raw.close()
    assert page(store, ana, cohort, cache)["posts"][0]["html"] == "<p>changed</p>"


def test_each_viewer_sees_their_own_view_of_a_cached_page(
    store: Store, cohort: Cohort, people
) -> None:
    ana, ben, fay = people["ana"], people["ben"], people["fay"]
    first = post(store, ana, cohort, "**mine**")
    hidden = post(store, ben, cohort, "rude")
    with store.write() as s:
        posts.react(s, as_actor(ben), first.id, "+1")
        posts.moderate_post(s, as_actor(fay), hidden.id, "hide", "rude")
    cache = PageCache()
    sponsor = page(store, people["sam"], cohort, cache)["posts"]
    author = page(store, ana, cohort, cache)["posts"]
    reactor = page(store, ben, cohort, cache)["posts"]
    staff = page(store, fay, cohort, cache)["posts"]
    assert cache.hits == 3
    assert (sponsor[0]["markdown"], sponsor[0]["can_edit"], sponsor[0]["my_reactions"]) == (
        None, False, [])  # fmt: skip
    assert (author[0]["markdown"], author[0]["can_edit"]) == ("**mine**", True)
    assert reactor[0]["my_reactions"] == ["+1"] and reactor[0]["markdown"] is None
    assert (sponsor[1]["html"], sponsor[1]["hidden_reason"]) == ("", "")
    assert reactor[1]["hidden_reason"] == "rude"  # their own post
    assert (staff[1]["html"], staff[1]["markdown"]) == ("<p>rude</p>\n", "rude")
    assert staff[0]["can_delete"] and not sponsor[0]["can_delete"]
    # and none of them changed what the next uninvolved reader gets
    assert page(store, people["chi"], cohort, cache)["posts"] == sponsor


def test_pages_are_kept_per_position_and_size(store: Store, cohort: Cohort, people) -> None:
    ids = [post(store, people["ana"], cohort, f"p{i}").id for i in range(5)]
    cache = PageCache()
    newest = page(store, people["ben"], cohort, cache, limit=2)
    older = page(store, people["ben"], cohort, cache, limit=2, before=ids[3])
    assert [p["id"] for p in newest["posts"]] == ids[3:]
    assert [p["id"] for p in older["posts"]] == ids[1:3]
    assert newest["has_more"] and older["has_more"] and len(cache) == 2


def test_the_cache_keeps_only_its_most_recent_pages(store: Store, cohort: Cohort, people) -> None:
    for i in range(3):
        post(store, people["ana"], cohort, f"in {i}", anchor=f"topic/t{i}")
    cache = PageCache(max_pages=2)

    def read(i: int) -> None:
        with store.read() as s:
            threads.read_thread(s, as_actor(people["ben"]), cohort, f"topic/t{i}", cache=cache)

    read(0), read(1), read(0), read(2)  # t1 is the least recently used
    assert len(cache) == 2
    hits = cache.hits
    read(0)
    assert cache.hits == hits + 1
    read(1)
    assert cache.hits == hits + 1  # evicted, read again
    assert len(PageCache(max_pages=0)) == 0


# --- cached equals uncached, whatever happens -----------------------------------------------

PEOPLE = ["ana", "ben", "chi", "fay", "ivo", "sam"]
WRITERS = ["ana", "ben", "chi", "fay"]
_op = st.one_of(
    st.tuples(st.just("post"), st.sampled_from(WRITERS), st.integers(0, 5)),
    st.tuples(st.just("react"), st.sampled_from(WRITERS), st.integers(0, 20)),
    st.tuples(st.just("unreact"), st.sampled_from(WRITERS), st.integers(0, 20)),
    st.tuples(st.just("edit"), st.sampled_from(WRITERS), st.integers(0, 20)),
    st.tuples(st.just("delete"), st.sampled_from(WRITERS), st.integers(0, 20)),
    st.tuples(st.just("hide"), st.just("fay"), st.integers(0, 20)),
    st.tuples(st.just("rename"), st.sampled_from(WRITERS), st.integers(0, 3)),
    st.tuples(st.just("read"), st.sampled_from(PEOPLE), st.integers(1, 4)),
)


def reference(store: Store, viewer: Member, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` top-level posts with replies, each built on its own through the
    ORM and ``threads.full_post`` (no shared page content at all)."""
    with store.read() as s:
        who = as_actor(s.get(Member, viewer.id))
        tops = s.scalars(
            select(Post).join(Thread).where(Thread.anchor == ANCHOR, Post.parent_id.is_(None))
            .order_by(Post.id.desc()).limit(limit)
        ).all()  # fmt: skip
        out = []
        for top in reversed(tops):
            view = threads.full_post(s, who, top)
            replies = s.scalars(select(Post).where(Post.parent_id == top.id).order_by(Post.id))
            view["replies"] = [threads.full_post(s, who, r) for r in replies]
            out.append(view)
        return out


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(_op, min_size=1, max_size=25))
def test_a_cached_page_is_always_the_page(store: Store, cohort: Cohort, people, ops) -> None:
    cache = PageCache(max_pages=4)
    for op, who, n in ops:
        member = people[who]
        with store.read() as s:
            ids = list(s.scalars(select(Post.id).order_by(Post.id)))
        target = ids[n % len(ids)] if ids else None
        try:
            with store.write() as s:
                me = as_actor(s.get(Member, member.id))
                if op == "post":
                    parent = target if n % 2 and target else None
                    posts.create_post(s, me, cohort, ANCHOR, f"post {n}", parent_id=parent)
                elif op == "react" and target:
                    posts.react(s, me, target, ["+1", "helpful"][n % 2])
                elif op == "unreact" and target:
                    posts.unreact(s, me, target, ["+1", "helpful"][n % 2])
                elif op == "edit" and target:
                    posts.edit_post(s, me, target, f"edited {n}")
                elif op == "delete" and target:
                    posts.delete_post(s, me, target)
                elif op == "hide" and target:
                    posts.moderate_post(s, me, target, ["hide", "restore"][n % 2], "why")
                elif op == "rename":
                    s.execute(update(Member).where(Member.id == member.id)
                              .values(name=f"{who} {n}", team=f"t{n}"))  # fmt: skip
        except (Forbidden, NotFound, Invalid):
            pass  # the rules refuse some (editing someone else's post, reacting to a deleted one)
        for viewer in PEOPLE if op == "read" else (who,):
            limit = n if op == "read" else 30
            cached = page(store, people[viewer], cohort, cache, limit=limit)
            fresh = page(store, people[viewer], cohort, None, limit=limit)
            assert cached == fresh, (op, who, n, viewer)
            assert fresh["posts"] == reference(store, people[viewer], limit), (op, viewer)


def _triggers(store: Store) -> set[str]:
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        if store.is_sqlite
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
    )
    with store.engine.connect() as conn:
        # 0004's own: on posts, reactions and members (0012 adds its own for ideas).
        return {
            name
            for (name,) in conn.execute(text(query))
            if "thread_version" in name and not re.search(r"_(idea|endorsement)", name)
        }


def test_migration_0004_down_and_up_keeps_every_post(store: Store, cohort: Cohort, people) -> None:
    first = post(store, people["ana"], cohort)
    with store.write() as s:
        posts.react(s, as_actor(people["ben"]), first.id, "+1")
    assert len(_triggers(store)) == (7 if store.is_sqlite else 3)
    downgrade_db(store.engine, "0003")
    with store.engine.connect() as conn:
        assert "version" not in list(conn.execute(text("SELECT * FROM thread")).keys())
        assert conn.execute(text("SELECT count(*) FROM post")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM reaction")).scalar() == 1
    assert _triggers(store) == set()
    upgrade_db(store.engine)
    assert version(store) == 0  # existing threads start counting from zero
    post(store, people["ben"], cohort)
    assert version(store) == 1


# --- through the service ------------------------------------------------------------------


def test_the_service_serves_cached_pages_and_sees_other_writers(
    service, store: Store, tokens, cohort: Cohort, people
) -> None:
    """Two readers, a post through the CLI's kind of store (another process's writes), then
    the service's own count of pages served from its cache when it stops. SQLite: the next
    read shows the other writer's change. PostgreSQL: the read once its notice is in
    (test_page_watch.py), a moment after the commit."""
    from nbcohort.cohorts.client import CohortClient

    ben, chi = (CohortClient(service.url, tokens[u], timeout=10) for u in ("ben", "chi"))
    reads = 0

    def read(client: CohortClient) -> dict:
        nonlocal reads
        reads += 1
        return client.thread(ANCHOR)

    try:
        ana_post = post(store, people["ana"], cohort, "from the CLI")
        first = read(ben)
        assert read(chi)["posts"] == first["posts"]  # served from the cache
        with store.write() as s:  # not through the service
            posts.edit_post(s, as_actor(people["ana"]), ana_post.id, "edited elsewhere")
        deadline = time.monotonic() + (0 if store.is_sqlite else 5)
        while read(ben)["posts"][0]["html"] != "<p>edited elsewhere</p>\n":
            assert time.monotonic() < deadline, "another writer's edit never showed"
            time.sleep(0.02)
        ben.post(ANCHOR, "through the service")
        assert [p["html"] for p in read(chi)["posts"]][-1] == "<p>through the service</p>\n"
    finally:
        ben.close(), chi.close()
    service.stop()
    served, cached = map(int, re.search(r"(\d+) thread pages served, (\d+) from the page cache",
                                        service.log.read_text()).groups())  # fmt: skip
    assert served == reads and cached >= 1
    assert reads == 4 or not store.is_sqlite


def test_page_cache_setting(store: Store) -> None:
    from traitlets import TraitError

    from nbcohort.cohorts.api.app import make_app
    from nbcohort.cohorts.config import ServiceSettings

    on = make_app(store, ServiceSettings(page_cache=3)).settings["nbcohort"].pages
    assert on is not None and on.max_pages == 3
    assert make_app(store, ServiceSettings(page_cache=0)).settings["nbcohort"].pages is None
    with pytest.raises(TraitError, match="page_cache"):
        ServiceSettings(page_cache=-1)
