"""``onboarding()``: your first fourteen days in the cohort, step by step: what you have done,
what to do next (and where), and what comes later, in your own time zone.

While a front end shows it, it moves on by itself (the kernel's live watcher, ``_live.py``):
it re-reads your steps when something a shown widget watches changed (your post in a thread,
a new notification such as the next step's) and when you acknowledge the charter in this
kernel; never headless."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._live import follow_views, watcher
from nbcohort.widgets._style import button, status, style

__all__ = ["Onboarding", "onboarding"]

_MARK = {"done": "✔", "todo": "➜", "upcoming": "○", "not needed": "–"}


class Onboarding(w.VBox):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.summary = w.HTML()
        self.steps = w.HTML()
        self.done = button("I did this step")
        self.done.on_click(lambda _b: self.mark_done())
        self.status = w.HTML()
        super().__init__([style(), self.summary, self.steps, self.done, self.status])
        self.show(conn.client.onboarding())
        follow_views(self)

    def show(self, data: dict[str, Any]) -> None:
        self.data = data
        nxt = data["next"]
        self.done.layout.display = "" if nxt else "none"
        if not data["active"]:
            self.summary.value = status("No onboarding for you in this cohort.", ok=True)
            self.steps.value = ""
            return
        if data["contributor"]:
            head = "✔ You are a contributor: welcome aboard, onboarding is complete."
        elif nxt:
            link = f" · open <code>{html.escape(nxt['link'])}</code>" if nxt["link"] else ""
            head = (
                f"<b>Next: {html.escape(nxt['title'])}</b><div>{html.escape(nxt['text'])}"
                f"{link}</div>"
            )
        else:
            head = "Nothing to do right now; your next step comes on its day."
        self.summary.value = (
            f'<div class="nbc-card"><div class="nbc-head">Getting started</div>{head}</div>'
        )
        rows = "".join(
            f'<div class="nbc-meta">{_MARK.get(s["status"], "")} day {s["day"]}: '
            f"<b>{html.escape(s['title'])}</b> · {html.escape(s['due_local'])} · "
            f"{s['status']}</div>"
            for s in data["steps"]
        )
        self.steps.value = rows

    def mark_done(self) -> None:
        nxt = self.data.get("next")
        if not nxt:
            return
        try:
            self.show(self.conn.client.onboarding_done(nxt["step"]))
            self.status.value = ""
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")

    # -- live (the kernel's watcher, _live.py) ----------------------------------------------
    def live_client(self) -> CohortClient:
        return self.conn.client

    def live_marks(self) -> tuple[dict[str, int], str | None]:
        return {}, None  # it watches nothing itself: it follows what the others watch

    def live_changed(self, threads: dict[str, int], notifications: str | None) -> None:
        if self.data["active"] and (self.data["next"] or not self.data["contributor"]):
            self.show(self.conn.client.onboarding())

    def live_acted(self) -> None:
        self.live_changed({}, None)

    def live_offline(self, message: str | None) -> None:
        self.status.value = status(message) if message else ""

    def close(self) -> None:
        """Closed: no longer kept current."""
        watcher().remove(self)
        super().close()


def onboarding() -> w.Widget:
    """Your onboarding steps and what to do next; one calm line when offline."""
    try:
        return Onboarding(connect())
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
