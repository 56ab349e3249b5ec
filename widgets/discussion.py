"""``discussion(anchor)``: the thread anchored to a course location, in place in the notebook.

A thread is one line until a member opens it (how many posts, how many unread, who wrote last
and when), so a long thread at the end of a section never pushes the course away. Opened, it
shows the newest page of posts, "show earlier" for the rest, and a compose box. Each post has
one small button beside it that opens its actions (react, reply, edit, delete, flag, hide).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.widgets._champion import HostLine, is_champion
from nbcohort.widgets._composer import Composer
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._live import follow_views, watcher
from nbcohort.widgets._post import PostCard
from nbcohort.widgets._style import button, status, style, when

__all__ = ["Discussion", "discussion"]


def onboarding_hint(conn: Connection) -> str:
    """One short line pointing a member who has not started their onboarding at its next
    step ("" otherwise): asked of the service once per kernel, kept with the connection."""
    if "onboarding_hint" not in conn.kept:
        try:
            data = conn.client.onboarding()
        except ClientError:
            data = {}
        nxt = data.get("next")
        started = any(s.get("status") == "done" for s in data.get("steps", ()))
        hint = ""
        if data.get("active") and not data.get("contributor") and not started and nxt:
            hint = f"New here? Your first step: {nxt['title']} (onboarding() shows them all)"
        conn.kept["onboarding_hint"] = hint
    return str(conn.kept["onboarding_hint"])


def _latest(posts: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest post or reply that is not deleted (ids grow with time)."""
    every = [q for p in posts for q in (p, *p.get("replies", ())) if not q["deleted"]]
    return max(every, key=lambda q: q["id"], default=None)


class Discussion(w.VBox):
    """A thread shown in place, one summary line until opened: then the newest page first,
    'show earlier' for the rest, and a compose box."""

    def __init__(
        self, anchor: str, conn: Connection, page_size: int | None = None, expanded: bool = False
    ) -> None:
        self.anchor, self.conn, self.page_size = anchor, conn, page_size
        self.reactions: list[str] = conn.me.get("rules", {}).get("reactions", ["helpful"])
        self.summary = w.Button(layout=w.Layout(width="auto", height="auto"))
        self.summary.add_class("nbc-summary")
        self.summary.add_class("nbc-button")
        self.summary.on_click(lambda _b: self.toggle())
        self.earlier = button("Show earlier posts")
        self.earlier.on_click(lambda _b: self.load_earlier())
        self.posts = w.VBox()
        self.composer = Composer(conn, self.write, "Post", anchor=anchor)
        self.held = w.HTML()  # my posts waiting for approval, or not approved (mine alone)
        self.conduct = w.HTML()  # the code of conduct, to read before posting
        self.content = w.VBox([self.earlier, self.posts, self.held, self.conduct, self.composer])
        self.content.add_class("nbc-thread")
        self.live_line = w.HTML()  # the calm line while live updates are paused
        self.hint = w.HTML()  # the next onboarding step, for a member who has not started
        hint = onboarding_hint(conn)
        if hint:
            self.hint.value = f'<div class="nbc-meta nbc-hint">{html.escape(hint)}</div>'
        self.opened = False
        self.total = self.unread = self.version = 0
        self.latest: dict[str, Any] | None = None
        self.lock = threading.RLock()  # the kernel's live watcher changes this widget too
        self._oldest: int | None = None
        self.badges: dict[int, list[dict[str, Any]]] = {}  # author id -> badges shown
        self.ideas: dict[int, dict[str, Any]] = {}  # post id -> its idea (#16 part 3)
        self.pinned: set[int] = set()  # ids of the posts pinned here (champions see them)
        self.host_line: HostLine | None = None  # host the next routine here (champions)
        self._first_page: dict[str, Any] | None = None
        self._cards_made = False
        self._style = style()
        super().__init__([self._style, self.summary, self.hint, self.live_line])
        self.add_class("nbc-discussion")
        self._apply(conn.client.thread(anchor, limit=page_size, unread=True))
        if expanded:
            self.expand()
        follow_views(self)

    def _apply(self, page: dict[str, Any]) -> None:
        """The newest page as the service has it now: the one place where what the thread
        shows (counts, latest, its posts once opened) follows the service."""
        with self.lock:
            self.total, self.version = page["total"], int(page.get("version") or 0)
            self.unread = int(page.get("unread") or 0)
            self.held.value = held_html(page.get("held") or [])
            self.latest = _latest(page["posts"]) or self.latest
            if not self._cards_made:
                self._first_page = page  # cards are made when the thread is opened
            else:
                self._merge(page["posts"])
                self._ideas_changed()
            self.render_summary()

    def _merge(self, posts: list[dict[str, Any]]) -> None:
        """Posts into the cards shown: a known one updated, a newer one added at the end."""
        with self.lock:
            cards = {c.post["id"]: c for c in self.posts.children}
            newest = max(cards, default=0)
            self._fetch_badges([p for p in posts if p["id"] > newest])
            added = []
            for post in posts:
                card = cards.get(post["id"])
                if card is not None:
                    card.update(post)
                elif post["id"] > newest:
                    added.append(PostCard(self, post))
            if added:
                self.posts.children += tuple(added)

    def render_summary(self) -> None:
        """The one line: posts, unread, the latest author and time, and open or close."""
        n = self.total
        parts = [f"{n} post{'s' if n != 1 else ''}"] if n else ["no posts yet: start one"]
        if n and self.unread:
            parts.append(f"{self.unread} unread")
        if n and self.latest is not None:
            author = self.latest["author"]
            who = "you" if author["id"] == self.conn.member_id else author["name"]
            parts.append(f"latest {who}, {when(self.latest['created_at'])}")
        parts.append("close" if self.opened else "open")
        self.summary.description = " · ".join(["Discussion", self.anchor, *parts])
        verb = "Close" if self.opened else "Open"
        self.summary.tooltip = f"{verb} the discussion of {self.anchor}"

    def toggle(self) -> None:
        """Open or close the thread; the focus stays on the summary line."""
        if self.opened:
            self.collapse()
        else:
            self.expand()

    # Not open/close: those open and close a widget's channel to the front end.
    def expand(self) -> None:
        self._make_cards()
        if self.host_line is None:  # asked once, when first opened
            self.host_line = HostLine(self.conn, self.anchor)
            self.content.children = (self.host_line, *self.content.children)
        self.conduct.value = conduct_html(self.conn)
        self.children = [self._style, self.summary, self.hint, self.live_line, self.content]
        self.opened = True
        self.summary.add_class("nbc-open")
        if self.total:
            try:
                self.conn.client.mark_read(self.anchor)  # private: never shown per person
                self.unread = 0
            except ClientError:
                pass  # a read mark can wait for the next time the thread is opened
        self.render_summary()

    def collapse(self) -> None:
        self.children = [self._style, self.summary, self.hint, self.live_line]
        self.opened = False
        self.summary.remove_class("nbc-open")
        self.render_summary()

    def _ideas_changed(self) -> None:
        """After a live change: the thread's ideas again, and the cards whose idea changed
        (an endorsement bumps the thread's version, as a reaction does) painted again."""
        before = self.ideas
        self.refresh_ideas()
        for card in self.posts.children:
            for one in (card, *(card.replies.children if card.replies else ())):
                pid = one.post["id"]
                if before.get(pid) != self.ideas.get(pid):
                    one.render(refill=False)

    def refresh_ideas(self) -> None:
        """The thread's ideas, in one request; none shown when it fails (older services)."""
        with suppress(ClientError):
            self.ideas = {i["post_id"]: i for i in self.conn.client.ideas(anchor=self.anchor)}

    def _make_cards(self) -> None:
        """The first page's cards, made when the thread is first shown or written to."""
        with self.lock:
            if self._first_page is not None:
                self.refresh_ideas()
                if is_champion(self.conn):  # what Pin and Unpin offer
                    with suppress(ClientError):
                        self.pinned = set(self.conn.client.pins(self.anchor))
                self._show(self._first_page, prepend=False)
                self._first_page = None
            self._cards_made = True

    def added(self, post: dict[str, Any]) -> None:
        """A post or reply this member just wrote: one more, and the latest."""
        with self.lock:
            self.total += 1
            self.latest = post
            self.render_summary()

    # -- live (the kernel's watcher, _live.py) ----------------------------------------------
    def live_client(self) -> CohortClient:
        return self.conn.client

    def live_marks(self) -> tuple[dict[str, int], str | None]:
        return {self.anchor: self.version}, None

    def live_changed(self, threads: dict[str, int], notifications: str | None) -> None:
        if self.anchor in threads and threads[self.anchor] != self.version:
            self._apply(self.conn.client.thread(self.anchor, limit=self.page_size, unread=True))

    def live_offline(self, message: str | None) -> None:
        self.live_line.value = status(message) if message else ""

    def close(self) -> None:
        """Closed: no longer kept current."""
        watcher().remove(self)
        super().close()

    def _fetch_badges(self, posts: list[dict[str, Any]]) -> None:
        """The badges of this page's authors, in one request; none when it fails (a thread
        without badges is still a thread)."""
        ids = sorted({p["author"]["id"] for p in posts} - set(self.badges))
        if not ids:
            return
        with suppress(ClientError):
            self.badges.update(self.conn.client.badges(ids))
        for i in ids:
            self.badges.setdefault(i, [])

    def _show(self, page: dict[str, Any], *, prepend: bool) -> None:
        self._fetch_badges(page["posts"])
        cards = tuple(PostCard(self, p) for p in page["posts"])
        self.posts.children = cards + self.posts.children if prepend else cards
        if page["posts"]:
            self._oldest = page["posts"][0]["id"]
        self.earlier.layout.display = None if page["has_more"] else "none"
        self.total = page["total"]
        self.render_summary()

    def _held_shown(self, new_id: int) -> list[dict[str, Any]]:
        """The held posts the last page listed, but ``new_id`` (asked again, cheaply)."""
        try:
            page = self.conn.client.thread(self.anchor, limit=1)
        except ClientError:
            return []
        return [h for h in page.get("held") or [] if h["id"] != new_id]

    def load_earlier(self) -> None:
        try:
            page = self.conn.client.thread(self.anchor, before=self._oldest, limit=self.page_size)
        except ClientError as exc:
            self.composer.status.value = status(exc.message)
            return
        self._show(page, prepend=True)

    def write(self, text: str) -> dict[str, Any]:
        post = self.conn.client.post(self.anchor, text, key=self.composer.draft_key)
        if post.get("held"):  # a first post waits for approval: shown to me alone
            self.held.value = held_html([post, *self._held_shown(post["id"])])
            return post
        with self.lock:  # the watcher may have shown it already
            self._make_cards()
            known = any(c.post["id"] == post["id"] for c in self.posts.children)
            if not known:
                self.posts.children += (PostCard(self, post),)
                self.added(post)
        self.hint.value = ""  # they have started
        self.conn.kept.pop("onboarding_hint", None)
        return post


def held_html(held: list[dict[str, Any]]) -> str:
    """My held posts in this thread: waiting for approval, or not approved with the reason
    (sanitized by the service). Nobody else is shown them."""
    cards = []
    for h in held:
        if h["status"] == "held":
            head = "Your post is waiting for approval by a champion or facilitator"
        else:
            head = "Your post was not approved"
        reason = (
            f'<div class="nbc-meta">Reason: {h["reason_html"]}</div>' if h["reason_html"] else ""
        )
        cards.append(
            f'<div class="nbc-card nbc-held" data-held="{int(h["id"])}"><div class="nbc-meta">'
            f"{head} · {when(h['created_at'])}</div>{h['html']}{reason}</div>"
        )
    return "".join(cards)


def conduct_html(conn: Connection) -> str:
    """The code of conduct behind one disclosure above the compose box (asked once per
    kernel; nothing when the cohort has none or the service cannot say)."""
    if "code_of_conduct" not in conn.kept:
        try:
            conn.kept["code_of_conduct"] = conn.client.my_moderation()["code_of_conduct"]
        except ClientError:
            return ""
    text = conn.kept["code_of_conduct"]
    return (
        f'<details class="nbc-conduct"><summary>Our code of conduct</summary>{text}</details>'
        if text
        else ""
    )


def discussion(anchor: str, *, page_size: int | None = None, expanded: bool = False) -> w.Widget:
    """The cohort's thread for ``anchor`` (e.g. ``"module-1/loading-data"``), one summary line
    that opens to the thread (``expanded=True``: open at once, as a page may want), or one
    calm line when the community cannot be reached. Never raises into the notebook."""
    try:
        return Discussion(anchor, connect(), page_size, expanded)
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
