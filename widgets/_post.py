"""One post of a thread: its text, and beside it one button that opens its actions (react,
reply, edit, delete, flag, hide or restore). The actions are made only when opened."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._champion import champion_buttons
from nbcohort.widgets._composer import Composer
from nbcohort.widgets._ideas import idea_buttons, idea_line
from nbcohort.widgets._style import author_line, button, status, when

if TYPE_CHECKING:
    from nbcohort.widgets.discussion import Discussion

__all__ = ["PostCard"]

_BLOCK = re.compile(r"</?(?:p|br|div|li|ul|ol|pre|blockquote|h[1-6]|table|tr|td|th)\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")


def _excerpt(markup: str, length: int = 40) -> str:
    """The start of a post's text, to tell it from the author's other posts by ear."""
    text = " ".join(html.unescape(_TAG.sub("", _BLOCK.sub(" ", markup))).split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


class _Panel(w.VBox):
    """A post's actions, once opened: one row of buttons, then the form one of them opens
    (an edit box, a confirmation, a reason), then a status note."""

    def __init__(self, reply: bool) -> None:
        self.actions, self.form, self.note = w.HBox(), w.VBox(), w.HTML()
        self.actions.add_class("nbc-actions")
        super().__init__([self.actions, self.form, self.note])
        self.add_class("nbc-panel")
        if reply:
            self.add_class("nbc-reply")


class PostCard(w.VBox):
    """One post: its text in one HTML block, and beside it a small button that opens and
    closes its actions. The actions are made only when a member opens them, so a page of
    posts costs a few widgets each and a long thread opens as fast as a short one."""

    offers_ideas = True  # mark as idea, endorse (a community topic's cards do not)
    offers_champion = True  # pin, welcome (champions and staff)

    def __init__(self, thread: Discussion, post: dict[str, Any], reply: bool = False) -> None:
        self.thread, self.post, self.is_reply = thread, post, reply
        self.body = w.HTML(layout=w.Layout(flex="1 1 auto", width="auto", min_width="0"))
        # No text on it, so its accessible name is its tooltip, one per post: see render.
        self.more = button("", layout=w.Layout())
        self.more.add_class("nbc-more")
        self.more.on_click(lambda _b: self.toggle_actions())
        self.row = w.HBox([self.body, self.more])
        self.row.add_class("nbc-row")
        self.panel: _Panel | None = None  # made when first opened
        self.panel_open = False
        self._reaction_buttons: dict[str, w.Button] = {}
        self.replies: w.VBox | None = None
        self.reply_box: Composer | None = None
        super().__init__()
        if post.get("replies"):
            self.replies = w.VBox([type(self)(thread, r, reply=True) for r in post["replies"]])
        self.render()

    @property
    def client(self) -> Any:
        return self.thread.conn.client

    def may_moderate(self) -> bool:
        """Whether hide and restore are offered (staff; the service decides)."""
        return bool(self.thread.conn.is_staff)

    @property
    def own(self) -> bool:
        return bool(self.post["author"]["id"] == self.thread.conn.member_id)

    def render(self, refill: bool = True) -> None:
        """The post and what is open beside it (``refill``: its actions made again)."""
        self._paint()
        parts: list[w.Widget] = [self.row]
        if self.panel is not None and self.panel_open:
            if refill:
                self._fill_panel(self.panel)
            parts.append(self.panel)
        if self.replies is not None:
            parts.append(self.replies)
        if self.reply_box is not None:
            parts.append(self.reply_box)
        self.children = parts

    def _paint(self) -> None:
        """The post's text, reactions and the name of its actions button."""
        p = self.post
        css = "nbc-card nbc-reply" if self.is_reply else "nbc-card"
        if p.get("removed"):
            text = '<div class="nbc-hidden">[post removed at the author\'s request]</div>'
        elif p["deleted"]:
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
        badges = self.thread.badges.get(p["author"]["id"])
        idea = idea_line(self.thread.ideas.get(p["id"])) if not p["deleted"] else ""
        self.body.value = (
            f'<div class="{css}">{author_line(p, badges)}{text}{idea}{reactions}</div>'
        )
        what = "reply" if self.is_reply else "post"
        verb = "Close actions" if self.panel_open else "More actions"
        name = f"{verb} for {p['author']['name']}'s {what} of {when(p['created_at'])}"
        excerpt = _excerpt(p["html"]) if not p["deleted"] else ""
        self.more.tooltip = f"{name}: “{excerpt}”" if excerpt else name
        self.more.layout.visibility = "hidden" if p["deleted"] else None

    def toggle_actions(self) -> None:
        """Open this post's actions beside it, or close them; the focus stays on the button."""
        if self.panel_open:
            self.panel_open = False
            self.more.remove_class("nbc-open")
            self.render()
        else:
            self.expand()

    def expand(self) -> _Panel:
        """This post's actions, opened (made on first use)."""
        if self.panel is None:
            self.panel = _Panel(self.is_reply)
        if not self.panel_open:
            self.panel_open = True
            self.more.add_class("nbc-open")
            self.render()
        return self.panel

    def _fill_panel(self, panel: _Panel) -> None:
        p = self.post
        for old in panel.actions.children:
            old.close()  # made again for the post as it is now
        buttons: list[w.Button] = []
        self._reaction_buttons = {}
        if not p["deleted"]:
            for kind in self.thread.reactions:
                n, mine = p["reactions"].get(kind, 0), kind in p["my_reactions"]
                label = f"{kind} {n}" if n else kind
                b = button(f"✓ {label}" if mine else label, f"take back {kind}" if mine else kind)
                if mine:
                    b.add_class("nbc-mine")
                b.on_click(lambda _b, k=kind: self.toggle_reaction(k))
                buttons.append(b)
                self._reaction_buttons[kind] = b
            if self.offers_ideas:
                buttons += idea_buttons(self)
            if self.offers_champion:
                buttons += champion_buttons(self)
            if not self.is_reply:
                buttons.append(self._action("Reply", self.open_reply))
            if p["can_edit"]:
                buttons.append(self._action("Edit", self.open_edit))
            if p["can_delete"]:
                buttons.append(self._action("Delete", self.confirm_delete, kind="danger"))
            if not self.own:
                buttons.append(
                    self._action("Flag", self.open_flag, "flag for a facilitator's review")
                )
            if self.may_moderate():
                action = "restore" if p["hidden"] else "hide"
                buttons.append(
                    self._action(
                        action.capitalize(),
                        lambda: self.open_reason(action),
                        f"{action} this post (logged with your reason)",
                    )
                )
        panel.actions.children = buttons
        panel.form.children = ()

    @staticmethod
    def _action(label: str, act: Callable[[], Any], tooltip: str = "", kind: str = "") -> w.Button:
        b = button(label, tooltip, kind=kind)
        b.on_click(lambda _b: act())
        return b

    def action_labels(self) -> list[str]:
        """What the opened actions offer, as their buttons say it."""
        return [b.description for b in self.expand().actions.children]

    def _do(self, action: Callable[[], Any], done: str = "") -> bool:
        try:
            action()
        except ClientError as exc:
            self.expand().note.value = status(exc.message)
            return False
        self.expand().note.value = status(done, ok=True) if done else ""
        return True

    def update(self, fresh: dict[str, Any]) -> None:
        """The post as the service has it now (a live change): its text, reactions and
        replies. An open action panel or reply box stays as it is."""
        mine = {k: v for k, v in self.post.items() if k != "replies"}
        theirs = {k: v for k, v in fresh.items() if k != "replies"}
        known = {c.post["id"]: c for c in self.replies.children} if self.replies else {}
        newest = max(known, default=0)
        added = []
        for reply in fresh.get("replies", ()):
            card = known.get(reply["id"])
            if card is not None:
                card.update(reply)
            elif reply["id"] > newest:
                added.append(type(self)(self.thread, reply, reply=True))
        if added:
            if self.replies is None:
                self.replies = w.VBox(added)
            else:
                self.replies.children += tuple(added)
        if mine != theirs or added:
            shown = self.replies.children if self.replies is not None else ()
            self.post = {**fresh, "replies": [c.post for c in shown]}
            # An open panel's form may hold what the member is typing: it stays.
            self.render(refill=False)

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

        if self._do(act) and kind in self._reaction_buttons:
            self._reaction_buttons[kind].focus()  # the same reaction, its count updated

    def open_reply(self) -> None:
        if self.reply_box is None:
            self.reply_box = Composer(
                self.thread.conn, self.send_reply, "Reply", anchor=self.thread.anchor
            )
            self.render()
        self.reply_box.text.focus()

    def send_reply(self, text: str) -> dict[str, Any]:
        assert self.reply_box is not None  # send_reply is the reply box's action
        post = self.client.post(
            self.thread.anchor, text, parent_id=self.post["id"], key=self.reply_box.draft_key
        )
        with self.thread.lock:  # the watcher may have shown it already
            if self.replies is not None and any(
                c.post["id"] == post["id"] for c in self.replies.children
            ):
                return post
            card = PostCard(self.thread, post, reply=True)
            if self.replies is None:
                self.replies = w.VBox([card])
                self.render()
            else:
                self.replies.children += (card,)
            self.thread.added(post)
        return post

    def open_edit(self) -> None:
        box = Composer(self.thread.conn, self.send_edit, "Save", anchor=self.thread.anchor)
        box.text.value = self.post.get("markdown") or ""
        self.expand().form.children = (box,)
        box.text.focus()

    def send_edit(self, text: str) -> dict[str, Any]:
        updated = self.client.edit(self.post["id"], text)
        updated["replies"] = self.post.get("replies", [])
        self.post = updated
        self.render()
        self.more.focus()  # the edit box is gone: back to the post's own button
        return updated

    def confirm_delete(self) -> None:
        if self.own:
            sure = self._action("Really delete", self._delete_own, kind="danger")
            self.expand().form.children = (sure,)
        else:
            self.open_reason("delete")

    def _delete_own(self) -> None:
        if self._do(lambda: self._deleted(self.client.delete(self.post["id"]))):
            self.thread.summary.focus()  # nothing is left to act on here

    def _deleted(self, post: dict[str, Any]) -> None:
        self.post = {**post, "replies": self.post.get("replies", [])}
        self.panel_open = False
        self.render()

    def open_flag(self) -> None:
        self.open_reason("flag")

    def open_reason(self, action: str) -> None:
        reason = w.Text(placeholder=f"why {action}?", layout=w.Layout(width="60%"))
        go = button(f"Confirm {action}", kind="danger" if action == "delete" else "warning")

        def act() -> None:
            pid = self.post["id"]
            if action == "flag":
                self.client.flag(pid, reason.value)
            elif action == "delete":
                self.client.delete(pid, reason.value)
            else:
                self.client.moderate(pid, action, reason.value)
            self.refresh()

        def confirm() -> None:
            if self._do(act, f"{action}: done"):
                self.more.focus()

        go.on_click(lambda _b: confirm())
        self.expand().form.children = (reason, go)
        reason.focus()
