"""``topics()``: the community of practice's topics after graduation: see them, open one and
reply, or start a new one.

Who may see and start what is the service's decision (``services/community.py``): before the
cohort graduates the widget shows the service's reason in one line; names the service refuses
(a path, look-alike characters) come back as the refusal, shown beside the form.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._post import PostCard
from nbcohort.widgets._style import button, status, style, when

__all__ = ["Topics", "topics"]


class Topics(w.VBox):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.header = w.HTML()
        self.listing = w.HTML()
        self.choice = w.Dropdown(description="Topic", options=[], layout=w.Layout(width="60%"))
        self.open_button = button("Open", "Show the chosen topic's posts")
        self.open_button.on_click(lambda _b: self.open_topic())
        self.page = w.HTML()  # the open topic's title and cohort
        self.posts = w.VBox()  # its posts, each with its actions (react, flag, reply...)
        self.reply_box = w.Textarea(
            placeholder="Reply in this topic (Markdown)", layout=w.Layout(width="100%")
        )
        self.reply_button = button("Post", "Post in the open topic")
        self.reply_button.on_click(lambda _b: self.reply())
        self.name = w.Text(description="Name", placeholder="lowercase-with-dashes")
        self.title = w.Text(description="Title", placeholder="What the topic is about")
        self.body = w.Textarea(
            placeholder="The first post (Markdown)", layout=w.Layout(width="100%")
        )
        self.start_button = button("Start topic", "Start a community topic with this post")
        self.start_button.on_click(lambda _b: self.start())
        self.status = w.HTML()
        self.opened: str | None = None
        self.reply_form = w.VBox([self.reply_box, self.reply_button])
        self.chooser = w.HBox([self.choice, self.open_button])
        self.reply_form.layout.display = "none"  # until a topic is open
        self.start_form = w.VBox(
            [
                w.HTML('<div class="nbc-head">Start a topic</div>'),
                self.name,
                self.title,
                self.body,
                self.start_button,
            ]
        )
        super().__init__(
            [
                style(),
                self.header,
                self.listing,
                self.chooser,
                self.page,
                self.posts,
                self.reply_form,
                self.start_form,
                self.status,
            ],
            layout=w.Layout(width="100%"),
        )
        self.refresh()

    def refresh(self) -> list[dict[str, Any]] | None:
        """Read the community and its topics again; None when the service refused."""
        try:
            found = self.conn.client.community()
            listed = self.conn.client.topics()
        except ClientError as exc:
            self.header.value = status(exc.message or "community offline: try again")
            self.listing.value = ""
            self.choice.options = []
            self.start_form.layout.display = self.chooser.layout.display = "none"
            return None
        self.start_form.layout.display = self.chooser.layout.display = ""
        cohorts = ", ".join(
            html.escape(c["title"]) + (" (yours)" if c["mine"] else "") for c in found["cohorts"]
        )
        self.header.value = (
            f'<div class="nbc-head">{html.escape(found["title"])}</div>'
            f'<div class="nbc-meta">Cohorts in this community: {cohorts}</div>'
        )
        self.listing.value = _listing(listed)
        self.choice.options = [
            (f"{t['title']} ({t['cohort']['title']})", t["name"]) for t in listed
        ]
        return listed

    def open_topic(self, name: str | None = None) -> dict[str, Any] | None:
        """Show a topic's posts (the chosen one, or ``name``)."""
        name = name or self.choice.value
        if not name:
            return None
        try:
            page = self.conn.client.topic(name)
        except ClientError as exc:
            self.status.value = status(exc.message)
            return None
        self.opened = name
        self.page.value = _head(page)
        thread = TopicThread(self, name, page)
        for old in self.posts.children:
            old.close()
        self.posts.children = [TopicPostCard(thread, p) for p in page.get("posts", [])]
        if not page.get("posts"):
            self.page.value += '<div class="nbc-meta">No posts yet.</div>'
        self.status.value = ""
        self.reply_form.layout.display = ""
        return page

    def reply(self) -> dict[str, Any] | None:
        """Post the reply box's text in the open topic."""
        if self.opened is None:
            self.status.value = status("open a topic first")
            return None
        try:
            post = self.conn.client.post_in_topic(self.opened, self.reply_box.value)
        except ClientError as exc:
            self.status.value = status(exc.message)
            return None
        self.reply_box.value = ""
        self.open_topic(self.opened)
        self.status.value = status("posted", ok=True)
        return post

    def start(self) -> dict[str, Any] | None:
        """Start the topic the form describes."""
        try:
            made = self.conn.client.start_topic(self.name.value, self.title.value, self.body.value)
        except ClientError as exc:
            self.status.value = status(exc.message)
            return None
        self.name.value = self.title.value = self.body.value = ""
        self.refresh()
        self.open_topic(made["name"])
        self.status.value = status(f"started {made['anchor']}", ok=True)
        return made


def _listing(listed: list[dict[str, Any]]) -> str:
    if not listed:
        return '<div class="nbc-meta">No topics yet: start the first one below.</div>'
    rows = "".join(
        f'<li class="nbc-card"><b>{html.escape(t["title"])}</b> '
        f'<span class="nbc-meta">topic/{html.escape(t["name"])} · from '
        f"{html.escape(t['cohort']['title'])} · {t['posts']} posts · "
        f"{when(t['last_post_at'])}</span></li>"
        for t in listed
    )
    return f'<ul aria-label="Community topics" style="list-style:none;padding:0">{rows}</ul>'


def _head(page: dict[str, Any]) -> str:
    """The open topic's title and the cohort that started it."""
    return (
        f'<div class="nbc-head">{html.escape(page.get("title") or page["anchor"])}</div>'
        f'<div class="nbc-meta">started in {html.escape(page["cohort"]["title"])}</div>'
    )


class TopicThread:
    """What a post card asks of its thread, for a community topic: the connection, the
    reactions offered, and where a reply goes (``post_in_topic``, wherever it was started)."""

    def __init__(self, box: Topics, name: str, page: dict[str, Any]) -> None:
        self.conn, self.name, self.anchor = box.conn, name, page["anchor"]
        self.reactions: list[str] = box.conn.me.get("rules", {}).get("reactions", ["helpful"])
        self.at_home = page["cohort"]["slug"] == box.conn.me.get("cohort", {}).get("slug")
        self.badges: dict[int, list[dict[str, Any]]] = {}  # badges are each cohort's own
        self.ideas: dict[int, dict[str, Any]] = {}
        self.pinned: set[int] = set()
        self.lock = threading.RLock()
        self.summary = box.open_button  # where the focus goes when a post is gone

    def added(self, post: dict[str, Any]) -> None:
        """A reply this member wrote (its card shows it)."""


class TopicPostCard(PostCard):
    """A post of a community topic, with the actions a discussion's post has: react, reply,
    flag, edit or delete one's own (as a guest in another cohort's topic: no staff or
    champion actions there, and no ideas, which belong to a cohort's own threads)."""

    offers_ideas = False
    thread: TopicThread  # type: ignore[assignment]

    def __init__(self, thread: TopicThread, post: dict[str, Any], reply: bool = False) -> None:
        super().__init__(thread, post, reply)  # type: ignore[arg-type]  # what a card needs

    @property
    def offers_champion(self) -> bool:  # type: ignore[override]
        return self.thread.at_home

    def may_moderate(self) -> bool:
        return self.thread.at_home and super().may_moderate()

    def send_reply(self, text: str) -> dict[str, Any]:
        assert self.reply_box is not None  # send_reply is the reply box's action
        post = self.client.post_in_topic(
            self.thread.name, text, parent_id=self.post["id"], key=self.reply_box.draft_key
        )
        if post.get("held"):  # waits for a moderator of the topic's cohort: mine alone
            self.expand().note.value = status("your reply is waiting for approval", ok=True)
            return post
        card = TopicPostCard(self.thread, post, reply=True)
        if self.replies is None:
            self.replies = w.VBox([card])
            self.render()
        else:
            self.replies.children += (card,)
        return post


def topics() -> w.Widget:
    """The community's topics, one to open and reply in, and a form to start one; one calm
    line when the community cannot be reached."""
    try:
        return Topics(connect())
    except Offline as exc:
        return offline(str(exc))
