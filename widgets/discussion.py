"""``discussion(anchor)``: the thread anchored to a course location, in place in the notebook."""

from __future__ import annotations

import html
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

    def submit(self) -> Any:
        try:
            result = self._send(self.text.value)
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        self.text.value, self.preview.value, self.status.value = "", "", ""
        return result


class PostCard(w.VBox):
    """One post with its actions; a top-level card also holds its replies."""

    def __init__(self, thread: Discussion, post: dict[str, Any], reply: bool = False) -> None:
        self.thread, self.post, self.is_reply = thread, post, reply
        self.body = w.HTML()
        self.actions = w.HBox()
        self.more = w.HBox()
        self.note = w.HTML()
        self.replies = w.VBox()
        self.reply_box: Composer | None = None
        super().__init__()
        self.render()
        for r in post.get("replies", []):
            self.replies.children += (PostCard(thread, r, reply=True),)

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
        self.body.value = f'<div class="{css}">{author_line(p)}{text}</div>'
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
            dots = button("⋯", "more actions")
            dots.on_click(lambda _b: self.open_more())
            buttons.append(dots)
        self.actions.children = buttons
        self.more.children = ()
        self.children = [self.body, self.actions, self.more, self.note, self.replies] + (
            [self.reply_box] if self.reply_box is not None else []
        )

    def _do(self, action: Callable[[], Any], done: str = "") -> None:
        try:
            action()
            self.note.value = status(done, ok=True) if done else ""
        except ClientError as exc:
            self.note.value = status(exc.message)

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
        if self.reply_box is None:
            self.reply_box = Composer(self.thread.conn, self.send_reply, "Reply")
            self.render()

    def send_reply(self, text: str) -> dict[str, Any]:
        post = self.client.post(self.thread.anchor, text, parent_id=self.post["id"])
        self.replies.children += (PostCard(self.thread, post, reply=True),)
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
        self.more.children = items

    def open_edit(self) -> None:
        box = Composer(self.thread.conn, self.send_edit, "Save")
        box.text.value = self.post.get("markdown") or ""
        self.more.children = (box,)

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
            self.more.children = (sure,)
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
        self.more.children = (reason, go)


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
        post = self.conn.client.post(self.anchor, text)
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
