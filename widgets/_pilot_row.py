"""One pilot in ``pilots()``: its line (title, status, owner, review date, outcome), its status
updates on demand, and, for its owner and the facilitators while it is active, a form to post
an update or close it with an outcome. The service decides who may; the form only saves a
refusal."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection
from nbcohort.widgets._style import button, status, when

__all__ = ["PilotRow", "pilot_line"]

_CLOSING = (("still active", "active"), ("done", "done"), ("stopped", "stopped"))


def pilot_line(p: dict[str, Any]) -> str:
    """A pilot as one card: title, status, owner, review date (a due one said), outcome."""
    owner = p["owner"]["name"] if p["owner"] else "no owner"
    due = " · <b>review due</b>" if p["review_due"] else ""
    outcome = f"<br>Outcome: {html.escape(p['outcome'])}" if p["outcome"] else ""
    n = int(p["updates"])
    return (
        f'<div class="nbc-card"><b>{html.escape(p["title"])}</b> · '
        f"{html.escape(p['status'])} · owner {html.escape(owner)} · review on "
        f"{html.escape(p['review_on'])}{due} · {n} update{'s' if n != 1 else ''}<br>"
        f'<span class="nbc-meta">Goal: {html.escape(p["goal"])} · Measure: '
        f"{html.escape(p['measure'])}</span>{outcome}</div>"
    )


class PilotRow(w.VBox):
    """A pilot with "Updates" (its history) and, when this member may, "Post update"."""

    def __init__(self, conn: Connection, p: dict[str, Any], changed: Callable[[str], None]):
        self.conn, self.pilot, self.changed = conn, p, changed
        self.text = w.HTML(pilot_line(p))
        self.history = w.HTML()
        self.form = w.VBox()
        self.note = w.HTML()
        self.show = button(f"Updates ({int(p['updates'])})", f"the updates of {p['title']}")
        self.show.on_click(lambda _b: self.open_history())
        buttons = [self.show]
        mine = p["owner"] is not None and p["owner"].get("id") == conn.member_id
        if p["status"] == "active" and (mine or conn.is_staff):
            self.update = button("Post update", f"post an update on {p['title']}")
            self.update.on_click(lambda _b: self.open_form())
            buttons.append(self.update)
        super().__init__([self.text, w.HBox(buttons), self.history, self.form, self.note])

    def open_history(self) -> None:
        try:
            found = self.conn.client.pilot(int(self.pilot["id"]))
        except ClientError as exc:
            self.note.value = status(exc.message)
            return
        items = [
            f'<div class="nbc-card nbc-reply"><div class="nbc-meta">'
            f"<b>{html.escape((u['author'] or {}).get('name', 'someone'))}</b> · "
            f"{html.escape(u['status'])} · {when(u['created_at'])}</div>{u['html']}</div>"
            for u in found["history"]
        ]
        self.history.value = "".join(items) or '<div class="nbc-meta">No update yet.</div>'

    def open_form(self) -> None:
        self.text_box = w.Textarea(
            placeholder="What happened since the last update? (Markdown)",
            continuous_update=False,
            layout=w.Layout(width="auto", height="64px"),
        )
        self.state = w.Dropdown(options=_CLOSING, value="active", description="Pilot is")
        self.outcome = w.Text(description="Outcome", placeholder="when done or stopped")
        go = button("Send update", kind="primary")
        go.on_click(lambda _b: self.post_update())
        self.form.children = (self.text_box, self.state, self.outcome, go)
        self.text_box.focus()

    def post_update(self) -> None:
        try:
            self.conn.client.update_pilot(
                int(self.pilot["id"]),
                self.text_box.value,
                status=self.state.value,
                outcome=self.outcome.value,
            )
        except ClientError as exc:
            self.note.value = status(exc.message)
            return
        self.changed("update posted")
