"""``my_calendar()``: the link to your own calendar feed (clinics, routines, deadlines and
your sign-ups) to subscribe to from a calendar application, and, behind a confirmation, a new
link when the old one was shared by mistake: the old one then stops working."""

from __future__ import annotations

import html

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._style import button, status, style

__all__ = ["MyCalendar", "my_calendar"]


class MyCalendar(w.VBox):
    def __init__(self, conn: Connection) -> None:
        self.conn, self.url = conn, ""
        self.link = w.HTML()
        self.confirm = w.Checkbox(description="My old link stops working", indent=False)
        self.renew = button("Get a new link")
        self.renew.on_click(lambda _b: self.new_link())
        self.status = w.HTML()
        head = w.HTML(
            '<div class="nbc-head">My calendar</div><div class="nbc-meta">Subscribe to this '
            "link in your calendar application. Anyone with the link sees the cohort's events "
            "and your sign-ups: if you shared it by mistake, get a new one (calendars "
            "subscribed to the old link stop updating).</div>"
        )
        self.show()
        super().__init__(
            [style(), head, self.link, w.HBox([self.confirm, self.renew]), self.status]
        )

    def show(self) -> None:
        try:
            self._show(self.conn.client.calendar_url())
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")

    def _show(self, url: str) -> None:
        self.url = url
        self.link.value = (
            '<div class="nbc-meta">Feed: <code style="user-select: all">'
            f"{html.escape(url)}</code></div>"
        )

    def new_link(self) -> None:
        if not self.confirm.value:
            self.status.value = status("Tick the box first: your old link stops working.")
            return
        try:
            self._show(self.conn.client.new_calendar_url())
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return
        self.confirm.value = False
        self.status.value = status(
            "✔ A new link: subscribe to it again; the old one no longer works.", ok=True
        )


def my_calendar() -> w.Widget:
    """Your calendar feed's link, and a new one on request; one calm line offline."""
    try:
        return MyCalendar(connect())
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
