"""Thread pages: read from the database once per thread version, then shaped per viewer.

A page's content (its posts, their authors and reactions) is the same for every member; what
differs is what each viewer may see of it: staff see hidden posts' text, authors their own
Markdown and edit rights, everyone their own reactions. A ``PageCache`` keeps the content of
recent pages with the view of it an uninvolved member gets. A read then costs one indexed
row (the thread with its ``version``, which database triggers bump on every change a page
shows, whoever writes), or none while the service hears of every change (PostgreSQL), and
rebuilds only the posts the viewer wrote or reacted to.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import JSON, Connection, Select, bindparam, func, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.functions import FunctionElement

from nbcohort.cohorts.models import Cohort, Member, Post, Reaction, Thread
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.members import member_dict, public_member

__all__ = ["REMOVED_NOTE", "PageCache", "author_of", "post_view", "thread_page"]

REMOVED_NOTE = "post removed at the author's request"


def post_view(
    post: Any,
    viewer_id: int | None,
    staff: bool,
    reactions: dict[str, int] | None = None,
    mine: Iterable[str] = (),
    author: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A post as member ``viewer_id`` may see it: hidden and deleted posts keep their place,
    not their text. ``post`` is a Post or a row with the same column names."""
    own = viewer_id is not None and post.author_id == viewer_id
    visible = not post.deleted and (not post.hidden or staff)
    author = author if author is not None else member_dict(post.author)
    return {
        "id": post.id,
        "thread_id": post.thread_id,
        "parent_id": post.parent_id,
        "author": author,
        # A leader's reply stands out (#16 part 4): the label the discussion widget shows.
        "label": "sponsor" if author.get("role") == "sponsor" else "",
        "html": post.body_html if visible else "",
        "markdown": post.body_md if visible and (own or staff) else None,
        "created_at": post.created_at.isoformat(),
        "edited_at": post.edited_at.isoformat() if post.edited_at else None,
        "deleted": post.deleted,
        "hidden": post.hidden,
        "hidden_reason": post.hidden_reason if (staff or own) else "",
        # Removed when its author left (services/leaving.py): the place stays, and says why.
        "removed": post.deleted and post.hidden_reason == REMOVED_NOTE,
        "reactions": reactions or {},
        "my_reactions": sorted(mine),
        "can_edit": own and not post.deleted,
        "can_delete": (own or staff) and not post.deleted,
        "replies": [],
    }


def author_of(row: Any) -> dict[str, Any]:
    """A joined row's author (a page's, a search result's), as others see a member."""
    return public_member(row, "author_id")


@dataclass
class _Content:
    """What one page shows at one thread version, the same for every viewer."""

    version: int
    total: int
    has_more: bool
    top: list[Any]  # top-level post rows, oldest first
    replies: dict[int, list[Any]]  # top-level post id -> its reply rows, oldest first
    reactors: dict[int, dict[str, set[int]]]  # post id -> kind -> member ids
    involved: dict[int, set[int]] = field(default_factory=dict)  # member -> top ids
    views: dict[bool, list[dict[str, Any]]] = field(default_factory=dict)  # staff? -> posts

    def __post_init__(self) -> None:
        for top in self.top:
            for row in [top, *self.replies.get(top.id, ())]:
                people = {row.author_id}.union(*self.reactors.get(row.id, {}).values())
                for member_id in people:
                    self.involved.setdefault(member_id, set()).add(top.id)

    def posts_for(self, viewer_id: int | None, staff: bool) -> list[dict[str, Any]]:
        """The page's posts as ``viewer_id`` sees them. Posts the viewer has no part in are
        shared between viewers: callers must not change them."""
        base = self.views.get(staff)
        if base is None:
            base = self.views[staff] = [self._thread_of(top, None, staff) for top in self.top]
        mine = self.involved.get(viewer_id) if viewer_id is not None else None
        if not mine:
            return list(base)
        return [
            self._thread_of(top, viewer_id, staff) if top.id in mine else shared
            for top, shared in zip(self.top, base, strict=True)
        ]

    def _thread_of(self, top: Any, viewer_id: int | None, staff: bool) -> dict[str, Any]:
        view = self._view(top, viewer_id, staff)
        view["replies"] = [self._view(r, viewer_id, staff) for r in self.replies.get(top.id, ())]
        return view

    def _view(self, row: Any, viewer_id: int | None, staff: bool) -> dict[str, Any]:
        kinds = self.reactors.get(row.id, {})
        counts = {kind: len(who) for kind, who in kinds.items()}
        mine = [kind for kind, who in kinds.items() if viewer_id in who]
        return post_view(row, viewer_id, staff, counts, mine, author_of(row))


class PageCache:
    """The content of recent thread pages, each tagged with the thread version it was read at.

    Bounded (least recently used pages go first) and safe to share between threads; each
    service process keeps its own, and the version check makes it right across processes.

    It can also keep the thread rows themselves (id, title, lock, version) for whoever can
    vouch that they are current: while ``trusted`` is set, a read takes the row from here
    and a cached page costs no statement at all. The service sets it only while it hears
    every change from the database (``service/page_watch.py``) and forgets a thread's row
    when told it changed.
    """

    def __init__(self, max_pages: int = 128) -> None:
        self.max_pages = max_pages
        self.hits = self.misses = 0
        self.unchecked = 0  # reads that took a kept thread row (no query)
        self.trusted = False
        self.keeps_threads = False  # set by whoever may set ``trusted``
        self._pages: OrderedDict[tuple[int, int | None, int], _Content] = OrderedDict()
        self._threads: dict[tuple[int, str], Any] = {}  # (cohort id, anchor) -> thread row
        self._anchors: dict[int, tuple[int, str]] = {}  # thread id -> its key above
        self._generation = 0  # bumped by every forget: a row read before it is not kept
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int | None, int], version: int) -> _Content | None:
        with self._lock:
            content = self._pages.get(key)
            if content is None or content.version != version:
                self.misses += 1
                return None
            self._pages.move_to_end(key)
            self.hits += 1
            return content

    def put(self, key: tuple[int, int | None, int], content: _Content) -> None:
        if self.max_pages <= 0:
            return
        with self._lock:
            self._pages[key] = content
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_pages:
                self._pages.popitem(last=False)

    def thread(self, cohort_id: int, anchor: str) -> Any | None:
        """The thread row kept for this anchor while ``trusted``, else None."""
        row = self._threads.get((cohort_id, anchor)) if self.trusted else None
        if row is not None:
            self.unchecked += 1
        return row

    @property
    def generation(self) -> int:
        return self._generation

    def keep_thread(self, cohort_id: int, anchor: str, row: Any, generation: int) -> None:
        """Keep a thread row read when ``generation`` was current, unless a thread changed
        since: the row may be older than that change. Bounded like the pages."""
        if not self.keeps_threads:
            return
        with self._lock:
            if generation != self._generation:
                return
            if len(self._threads) >= max(self.max_pages, 1) * 4:
                self._threads.clear()
                self._anchors.clear()
            self._threads[(cohort_id, anchor)] = row
            self._anchors[row.id] = (cohort_id, anchor)

    def forget_thread(self, thread_id: int | None = None) -> None:
        """Drop the kept row of a thread that changed; every row when ``thread_id`` is None."""
        with self._lock:
            self._generation += 1
            if thread_id is None:
                self._threads.clear()
                self._anchors.clear()
            elif (key := self._anchors.pop(thread_id, None)) is not None:
                self._threads.pop(key, None)

    def __len__(self) -> int:
        return len(self._pages)


def thread_page(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    anchor: str,
    *,
    before: int | None = None,
    limit: int = 30,
    cache: PageCache | None = None,
) -> dict[str, Any]:
    """A page of a thread (the newest ``limit`` top-level posts before ``before``, with their
    replies) with no access rule of its own: callers in this layer check first."""
    if not 1 <= limit <= 200:
        raise Invalid("limit must be between 1 and 200", field="limit")
    # Statements are built once (below) and rows read on the connection, not as ORM
    # objects: a page is read far more often than anything is written.
    conn = session.connection()
    thread = cache.thread(cohort.id, anchor) if cache is not None else None
    if thread is None:
        generation = cache.generation if cache is not None else 0
        thread = conn.execute(_THREAD, {"cohort_id": cohort.id, "anchor": anchor}).first()
        if thread is not None and cache is not None:
            cache.keep_thread(cohort.id, anchor, thread, generation)
    out: dict[str, Any] = {
        "anchor": anchor,
        "exists": thread is not None,
        "thread_id": None,
        "title": "",
        "locked": False,
        "posts": [],
        "has_more": False,
        "total": 0,
        "version": 0,  # what a live widget compares (services/live.py)
    }
    if thread is None:
        return out
    key = (thread.id, before, limit)
    content = cache.get(key, thread.version) if cache is not None else None
    if content is None:
        # Read after the version: the content is at least as new as its tag, never older.
        content = _read(conn, thread.id, thread.version, before, limit)
        if cache is not None:
            cache.put(key, content)
    out.update(
        thread_id=thread.id,
        title=thread.title,
        locked=thread.locked,
        total=content.total,
        version=content.version,
        has_more=content.has_more,
        posts=content.posts_for(actor.member_id, actor.can("post.moderate")),
    )
    return out


def _read(
    conn: Connection, thread_id: int, version: int, before: int | None, limit: int
) -> _Content:
    params = {"thread_id": thread_id, "before": before or _NO_LIMIT, "limit": limit + 1}
    rows = conn.execute(_PAGE, params).all()
    if not rows:  # nothing on this page: the total still counts the thread's posts
        total = conn.execute(_TOTAL, {"thread_id": thread_id}).scalar_one()
        return _Content(version, total, False, [], {}, {})
    top = [row for row in rows if row.parent_id is None]  # oldest first: rows are by id
    has_more = len(top) > limit
    if has_more:  # one more than the page: it only says that earlier posts exist
        top = top[1:]
    shown = {row.id for row in top}
    replies: dict[int, list[Any]] = {}
    reactors: dict[int, dict[str, set[int]]] = {}
    for row in rows:
        if (row.id if row.parent_id is None else row.parent_id) not in shown:
            continue  # a reply to the post left off
        if row.parent_id is not None:
            replies.setdefault(row.parent_id, []).append(row)
        if row.reactions:
            kinds = reactors[row.id] = {}
            for kind, member_id in sorted(row.reactions):
                kinds.setdefault(kind, set()).add(member_id)
    return _Content(version, rows[0].total, has_more, top, replies, reactors)


_NO_LIMIT = 2**31 - 1  # above any post id (ids are 32-bit on PostgreSQL)
_PAGE_COLUMNS = (
    Post.id,
    Post.thread_id,
    Post.parent_id,
    Post.author_id,
    Post.body_md,
    Post.body_html,
    Post.created_at,
    Post.edited_at,
    Post.deleted,
    Post.hidden,
    Post.hidden_reason,
    Member.username,
    Member.name,
    Member.role,
    Member.team,
    Member.timezone,
    Member.left_at,
)
_THREAD = select(Thread.id, Thread.title, Thread.locked, Thread.version).where(
    Thread.cohort_id == bindparam("cohort_id"), Thread.anchor == bindparam("anchor")
)
_TOTAL = select(func.count()).select_from(Post).where(Post.thread_id == bindparam("thread_id"))


class _reaction_pairs(FunctionElement[Any]):
    """A post's reactions as one JSON list of ``[kind, member_id]`` pairs (aggregate)."""

    type = JSON()
    inherit_cache = True


@compiles(_reaction_pairs, "postgresql")
def _pairs_pg(element: _reaction_pairs, compiler: Any, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


@compiles(_reaction_pairs, "sqlite")
def _pairs_sqlite(element: _reaction_pairs, compiler: Any, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


def _page_statement() -> Select[*tuple[Any, ...]]:
    """A page in one statement: the newest ``limit`` top-level posts before ``before`` with
    their replies, each with its author, its reactions and the thread's post count. A page
    is rebuilt whenever its thread changes, so round trips matter: this was five."""
    top = (
        select(Post.id)
        .where(
            Post.thread_id == bindparam("thread_id"),
            Post.parent_id.is_(None),
            Post.id < bindparam("before"),
        )
        # In the index's order (thread, parent, id): PostgreSQL does not take "IS NULL" as an
        # equality, so ordering by id alone made it walk the whole table's ids backwards.
        .order_by(Post.parent_id.desc().nulls_first(), Post.id.desc())
        .limit(bindparam("limit"))
        .cte("page_top")
    )
    shown = union_all(
        select(top.c.id),
        select(Post.id).where(
            Post.thread_id == bindparam("thread_id"), Post.parent_id.in_(select(top.c.id))
        ),
    ).cte("page_posts")
    reactions = (
        select(_reaction_pairs(Reaction.kind, Reaction.member_id))
        .where(Reaction.post_id == Post.id)
        .scalar_subquery()
    )
    counted = aliased(Post)
    total = (
        select(func.count())
        .select_from(counted)
        .where(counted.thread_id == bindparam("thread_id"))
        .scalar_subquery()
    )
    return (
        select(*_PAGE_COLUMNS, reactions.label("reactions"), total.label("total"))
        .join(Member, Post.author_id == Member.id)
        .where(Post.id.in_(select(shown.c.id)))
        .order_by(Post.id)
    )


_PAGE = _page_statement()
