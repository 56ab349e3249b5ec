"""``applied("practice-id")``: "I applied this at work", with a short note."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._style import button, status, style

__all__ = ["Applied", "applied"]


class Applied(w.VBox):
    def __init__(self, practice: str, conn: Connection) -> None:
        self.practice, self.conn = practice, conn
        self.summary = w.HTML()
        self.note = w.Textarea(
            placeholder="Where and how did you apply it? (optional, short)",
            layout=w.Layout(width="100%", height="56px"),
        )
        self.mark = button("I applied this at work", kind="success")
        self.mark.on_click(lambda _b: self.submit())
        self.status = w.HTML()
        super().__init__([style(), self.summary, self.note, self.mark, self.status])
        self.show(conn.client.practice(practice))

    def show(self, data: dict[str, Any]) -> None:
        n = data["count"]
        others = f"{n} member{'s' if n != 1 else ''} of the cohort applied this"
        if data["applied"]:
            when = data["applied_at"][:10]
            self.summary.value = (
                f'<div class="nbc-ok">✔ You applied this on {when}. {html.escape(others)}.</div>'
            )
            self.note.value = data["note"]
            self.mark.description = "Update my note"
        else:
            self.summary.value = f'<div class="nbc-meta">{html.escape(others)}.</div>'

    def submit(self) -> None:
        try:
            self.show(self.conn.client.mark_applied(self.practice, self.note.value))
            self.status.value = ""
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")


def applied(practice: str) -> w.Widget:
    """The "I applied this" button for ``practice``; one calm line when offline."""
    try:
        return Applied(practice, connect())
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:  # the service answered: say what it said (a practice unknown)
        return offline(exc.message if exc.status else f"community offline: {exc.message}")
