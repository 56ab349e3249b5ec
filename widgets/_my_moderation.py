"""A member's own side of moderation, under ``moderation()``: where they stand with the rules
for new members, their held posts and the posts a moderator hid or removed, each with the
reason given and, once, a way to appeal it; and their appeals with the answers. Every text
but the member's own plain reason box is HTML the service sanitized."""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection
from nbcohort.widgets._style import button, status, when

__all__ = ["MyModeration"]

_APPEAL_STATE = {"open": "waiting for staff", "granted": "granted", "denied": "denied"}


def _card(head: str, body: str = "") -> w.HTML:
    return w.HTML(f'<div class="nbc-card"><div class="nbc-meta">{head}</div>{body}</div>')


def standing_line(standing: dict[str, Any], rules: dict[str, Any]) -> str:
    """What the rules for new members mean for this member's next post, in one line."""
    if not standing.get("new"):
        return ""
    parts = []
    if standing.get("held"):
        parts.append("your first posts wait for a champion's or facilitator's approval")
    if standing.get("posts_per_hour"):
        parts.append(f"you may post {int(standing['posts_per_hour'])} times an hour")
    until = standing.get("new_until")
    day = datetime.fromisoformat(until).strftime("%d %b") if until else ""
    lead = f"You are new here until {day}" if day else "You are new here"
    if rules.get("new_posts"):
        lead += f" or your {int(rules['new_posts'])}th post"
    return f'<div class="nbc-meta">{html.escape(lead)}: {html.escape("; ".join(parts))}.</div>'


class MyModeration(w.VBox):
    """My held and moderated posts, with an appeal for each decision not yet appealed."""

    def __init__(self, conn: Connection, *, load: bool = True) -> None:
        self.conn = conn
        self.head = w.HTML('<div class="nbc-head">Your posts and moderation</div>')
        self.items = w.VBox()
        self.status = w.HTML()
        super().__init__([self.head, self.items, self.status])
        self.add_class("nbc-my-moderation")
        if load:
            self.refresh()

    def refresh(self) -> None:
        try:
            mine = self.conn.client.my_moderation()
        except ClientError as exc:
            self.items.children = [w.HTML(status(exc.message))]
            return
        appealed = {
            (a["held_id"], a["post_id"]): a for a in mine.get("appeals") or [] if a is not None
        }
        rows: list[w.Widget] = []
        line = standing_line(mine.get("standing") or {}, mine.get("rules") or {})
        if line:
            rows.append(w.HTML(line))
        for h in mine.get("held") or []:
            rows.append(self._held(h, appealed.get((h["id"], None))))
        for p in mine.get("decided") or []:
            rows.append(self._decided(p, appealed.get((None, p["post_id"]))))
        for a in mine.get("appeals") or []:
            rows.append(self._appeal(a))
        if not rows:
            rows = [w.HTML('<div class="nbc-meta">None of your posts is held or moderated.</div>')]
        self.items.children = rows

    def _held(self, h: dict[str, Any], appeal: dict[str, Any] | None) -> w.Widget:
        head = f"Your post in {html.escape(h['anchor'])} · {html.escape(h['status_text'])}"
        reason = h.get("reason_html") or ""
        body = h["html"] + (f'<div class="nbc-meta">Reason: {reason}</div>' if reason else "")
        parts: list[w.Widget] = [_card(f"{head} · {when(h['created_at'])}", body)]
        if h["status"] == "rejected" and appeal is None:
            parts.append(self._appeal_form(f"the decision on your held post {h['id']}",
                                           held_id=int(h["id"])))  # fmt: skip
        return w.VBox(parts)

    def _decided(self, p: dict[str, Any], appeal: dict[str, Any] | None) -> w.Widget:
        what = "removed" if p["state"] == "removed" else "hidden"
        head = f"Your post in {html.escape(p['anchor'])} was {what} by moderation"
        reason = p.get("reason") or ""
        body = p["html"] or '<div class="nbc-hidden">[removed]</div>'
        if reason:
            body += f'<div class="nbc-meta">Reason: {html.escape(reason)}</div>'
        parts: list[w.Widget] = [_card(f"{head} · {when(p['created_at'])}", body)]
        if appeal is None:
            parts.append(self._appeal_form(f"the decision on your post {p['post_id']}",
                                           post_id=int(p["post_id"])))  # fmt: skip
        return w.VBox(parts)

    def _appeal(self, a: dict[str, Any]) -> w.Widget:
        state = _APPEAL_STATE.get(a["status"], a["status"])
        what = f"held post {a['held_id']}" if a.get("held_id") else f"post {a['post_id']}"
        head = f"Your appeal on your {html.escape(what)} · {html.escape(state)}"
        answer = a.get("answer_html") or ""
        body = a["html"] + (f'<div class="nbc-meta">Answer: {answer}</div>' if answer else "")
        return _card(f"{head} · {when(a['created_at'])}", body)

    def _appeal_form(
        self, label: str, *, held_id: int | None = None, post_id: int | None = None
    ) -> w.Widget:
        """A reason box and an Appeal button: an appeal is heard once, by staff."""
        text = w.Textarea(
            placeholder="Why should staff look at this again? (an appeal is heard once)",
            continuous_update=False,
            layout=w.Layout(width="60%", height="56px"),
        )
        send = button("Appeal", f"Appeal {label}")

        def click(_b: w.Button) -> None:
            if not text.value.strip():
                self.status.value = status("Say why first: staff read it with the decision.")
                return
            try:
                self.conn.client.appeal(text.value, held_id=held_id, post_id=post_id)
            except ClientError as exc:
                self.status.value = status(exc.message)
                return
            self.status.value = status(
                "Appeal sent: the answer comes here and in your notifications.", ok=True
            )
            self.refresh()

        send.on_click(click)
        return w.HBox([text, send])
