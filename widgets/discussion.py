"""``discussion(anchor)``: the thread anchored to a course location, in place in the notebook."""

from __future__ import annotations

import html
import uuid
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._style import author_line, button, status, style

__all__ = ["Composer", "Discussion", "discussion"]


class Composer(w.VBox):
    """A compose box with preview; the text stays in the box until the service accepts it."""

    def __init__(
        self,
        conn: Connection,
        send: Callable[[str], Any],
        label: str = "Post",
        placeholder: str = "Write in Markdown; @username mentions a member",
    ) -> None:
        self.conn, self._send = conn, send
        self._draft: tuple[str, str] | None = None  # (text, its key): see draft_key
        self.text = w.Textarea(
            placeholder=placeholder, layout=w.Layout(width="100%", height="80px")
        )
        self.preview_button = button("Preview")
        self.send_button = button(label, button_style="primary")
        self.preview = w.HTML()
        self.status = w.HTML()
        self.preview_button.on_click(lambda _b: self.show_preview())
        self.send_button.on_click(lambda _b: self.submit())
        super().__init__(
            [self.text, w.HBox([self.send_button, self.preview_button]), self.preview, self.status]
        )

    def show_preview(self) -> None:
        try:
            self.preview.value = self.conn.client.preview(self.text.value)
            self.status.value = ""
        except ClientError as exc:
            self.status.value = status(exc.message)

    @property
    def draft_key(self) -> str:
        """A name for the text in the box, the same until the service accepts it or the
        text changes: a post sent again after an error (a timeout, a lost answer) is then
        written once (``Client.post(key=...)``)."""
        if self._draft is None or self._draft[0] != self.text.value:
            self._draft = (self.text.value, uuid.uuid4().hex)
        return self._draft[1]

    def submit(self) -> Any:
        try:
            result = self._send(self.text.value)
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        self.text.value, self.preview.value, self.status.value = "", "", ""
        self._draft = None
        return result


class _Panel(w.VBox):
    """A post's action controls: reactions and reply, then more actions, then a status note."""

    def __init__(self) -> None:
        self.actions, self.more, self.note = w.HBox(), w.HBox(), w.HTML()
        super().__init__([self.actions, self.more, self.note])


class PostCard(w.VBox):
    """One post: its text in one HTML block and a small button that opens its actions.

    Action controls are made only when a member opens them, so a page of posts costs a few
    widgets each and a long thread opens as fast as a short one.
    """

    def __init__(self, thread: Discussion, post: dict[str, Any], reply: bool = False) -> None:
        self.thread, self.post, self.is_reply = thread, post, reply
        self.body = w.HTML()
        self.toggle = button("⋯", "react, reply, more")
        self.toggle.layout.width = "3em"  # a small handle, not a full-width bar
        self.toggle.on_click(lambda _b: self.expand())
        self.panel: _Panel | None = None
        self.replies: w.VBox | None = None
        self.reply_box: Composer | None = None
        super().__init__()
        if post.get("replies"):
            self.replies = w.VBox([PostCard(thread, r, reply=True) for r in post["replies"]])
        self.render()

    @property
    def client(self) -> Any:
        return self.thread.conn.client

    def render(self) -> None:
        p = self.post
        css = "nbc-card nbc-reply" if self.is_reply else "nbc-card"
        if p["deleted"]:
            text = '<div class="nbc-hidden">[deleted]</div>'
        elif p["hidden"] and not p["html"]:
            text = '<div class="nbc-hidden">hidden pending a facilitator\'s review</div>'
        else:
            flag = (
                f'<div class="nbc-hidden">hidden: {html.escape(p["hidden_reason"])}</div>'
                if p["hidden"]
                else ""
            )
            text = flag + p["html"]
        counts = " · ".join(
            f"<b>{html.escape(k)}</b> {n}" if k in p["my_reactions"] else f"{html.escape(k)} {n}"
            for k, n in sorted(p["reactions"].items())
        )
        reactions = f'<div class="nbc-meta">{counts}</div>' if counts else ""
        self.body.value = f'<div class="{css}">{author_line(p)}{text}{reactions}</div>'
        if self.panel is not None:
            self._fill_panel(self.panel)
        self.toggle.layout.display = "none" if p["deleted"] or self.panel is not None else None
        parts: list[w.Widget] = [self.body, self.toggle]
        if self.panel is not None:
            parts.append(self.panel)
        if self.replies is not None:
            parts.append(self.replies)
        if self.reply_box is not None:
            parts.append(self.reply_box)
        self.children = parts

    def expand(self) -> _Panel:
        """This post's action controls, made on first use."""
        if self.panel is None:
            self.panel = _Panel()
            self.render()
        assert self.panel is not None
        return self.panel

    def _fill_panel(self, panel: _Panel) -> None:
        p = self.post
        buttons: list[w.Button] = []
        if not p["deleted"]:
            for kind in self.thread.reactions:
                n = p["reactions"].get(kind, 0)
                b = button(
                    f"{kind} {n}" if n else kind,
                    f"react: {kind}",
                    button_style="info" if kind in p["my_reactions"] else "",
                )
                b.on_click(lambda _b, k=kind: self.toggle_reaction(k))
                buttons.append(b)
            if not self.is_reply:
                reply = button("Reply")
                reply.on_click(lambda _b: self.open_reply())
                buttons.append(reply)
            dots = button("More", "edit, delete, flag")
            dots.on_click(lambda _b: self.open_more())
            buttons.append(dots)
        panel.actions.children = buttons
        panel.more.children = ()

    def _do(self, action: Callable[[], Any], done: str = "") -> None:
        try:
            action()
            self.expand().note.value = status(done, ok=True) if done else ""
        except ClientError as exc:
            self.expand().note.value = status(exc.message)

    def refresh(self) -> None:
        fresh = self.client.get_post(self.post["id"])
        fresh["replies"] = self.post.get("replies", [])
        self.post = fresh
        self.render()

    def toggle_reaction(self, kind: str) -> None:
        def act() -> None:
            if kind in self.post["my_reactions"]:
                self.client.unreact(self.post["id"], kind)
            else:
                self.client.react(self.post["id"], kind)
            self.refresh()

        self._do(act)

    def open_reply(self) -> None:
        self.expand()
        if self.reply_box is None:
            self.reply_box = Composer(self.thread.conn, self.send_reply, "Reply")
            self.render()

    def send_reply(self, text: str) -> dict[str, Any]:
        assert self.reply_box is not None  # send_reply is the reply box's action
        post = self.client.post(
            self.thread.anchor, text, parent_id=self.post["id"], key=self.reply_box.draft_key
        )
        card = PostCard(self.thread, post, reply=True)
        if self.replies is None:
            self.replies = w.VBox([card])
            self.render()
        else:
            self.replies.children += (card,)
        self.thread.count(+1)
        return post

    def open_more(self) -> None:
        p, own = self.post, self.post["author"]["id"] == self.thread.conn.member_id
        items: list[w.Widget] = []
        if p["can_edit"]:
            edit = button("Edit")
            edit.on_click(lambda _b: self.open_edit())
            items.append(edit)
        if p["can_delete"]:
            delete = button("Delete", button_style="danger")
            delete.on_click(lambda _b: self.confirm_delete(own))
            items.append(delete)
        if not own:
            flag = button("Flag", "flag for a facilitator's review")
            flag.on_click(lambda _b: self.open_flag())
            items.append(flag)
        if self.thread.conn.is_staff:
            action = "restore" if p["hidden"] else "hide"
            mod = button(action.capitalize(), f"{action} this post (logged with your reason)")
            mod.on_click(lambda _b: self.open_reason(action))
            items.append(mod)
        self.expand().more.children = items

    def open_edit(self) -> None:
        box = Composer(self.thread.conn, self.send_edit, "Save")
        box.text.value = self.post.get("markdown") or ""
        self.expand().more.children = (box,)

    def send_edit(self, text: str) -> dict[str, Any]:
        updated = self.client.edit(self.post["id"], text)
        updated["replies"] = self.post.get("replies", [])
        self.post = updated
        self.render()
        return updated

    def confirm_delete(self, own: bool) -> None:
        if own:
            sure = button("Really delete", button_style="danger")
            sure.on_click(
                lambda _b: self._do(lambda: self._deleted(self.client.delete(self.post["id"])))
            )
            self.expand().more.children = (sure,)
        else:
            self.open_reason("delete")

    def _deleted(self, post: dict[str, Any]) -> None:
        self.post = {**post, "replies": self.post.get("replies", [])}
        self.render()

    def open_flag(self) -> None:
        self.open_reason("flag")

    def open_reason(self, action: str) -> None:
        reason = w.Text(placeholder=f"why {action}?", layout=w.Layout(width="60%"))
        go = button(f"Confirm {action}", button_style="warning")

        def act() -> None:
            pid = self.post["id"]
            if action == "flag":
                self.client.flag(pid, reason.value)
            elif action == "delete":
                self.client.delete(pid, reason.value)
            else:
                self.client.moderate(pid, action, reason.value)
            self.refresh()

        go.on_click(lambda _b: self._do(act, f"{action}: done"))
        self.expand().more.children = (reason, go)


class Discussion(w.VBox):
    """A thread shown in place: newest page first, 'show earlier' for the rest."""

    def __init__(self, anchor: str, conn: Connection, page_size: int | None = None) -> None:
        self.anchor, self.conn, self.page_size = anchor, conn, page_size
        self.reactions: list[str] = conn.me.get("rules", {}).get("reactions", ["helpful"])
        self.header = w.HTML()
        self.earlier = button("Show earlier")
        self.earlier.on_click(lambda _b: self.load_earlier())
        self.posts = w.VBox()
        self.composer = Composer(conn, self.send, "Post")
        self.total = 0
        self._oldest: int | None = None
        super().__init__([style(), self.header, self.earlier, self.posts, self.composer])
        self._show(conn.client.thread(anchor, limit=page_size), prepend=False)
        if self.total:
            conn.client.mark_read(anchor)  # private: reads are never shown per person

    def count(self, delta: int) -> None:
        self.total += delta
        n = self.total
        what = f"{n} post{'s' if n != 1 else ''}" if n else "no posts yet: start the discussion"
        self.header.value = (
            f'<div class="nbc-head">Discussion · <code>'
            f"{html.escape(self.anchor)}</code> · {what}</div>"
        )

    def _show(self, page: dict[str, Any], *, prepend: bool) -> None:
        cards = tuple(PostCard(self, p) for p in page["posts"])
        self.posts.children = cards + self.posts.children if prepend else cards
        if page["posts"]:
            self._oldest = page["posts"][0]["id"]
        self.earlier.layout.display = None if page["has_more"] else "none"
        self.total = page["total"]
        self.count(0)

    def load_earlier(self) -> None:
        try:
            page = self.conn.client.thread(self.anchor, before=self._oldest, limit=self.page_size)
        except ClientError as exc:
            self.composer.status.value = status(exc.message)
            return
        self._show(page, prepend=True)

    def send(self, text: str) -> dict[str, Any]:
        post = self.conn.client.post(self.anchor, text, key=self.composer.draft_key)
        self.posts.children += (PostCard(self, post),)
        self.count(+1)
        return post


def discussion(anchor: str, *, page_size: int | None = None) -> w.Widget:
    """The cohort's thread for ``anchor`` (e.g. ``"module-1/loading-data"``), or one calm
    line when the community cannot be reached. Never raises into the notebook."""
    try:
        return Discussion(anchor, connect(), page_size)
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
