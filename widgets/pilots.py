"""``pilots()``: the cohort's pilots with their status, owner and review date, each with its
updates and, for its owner and the facilitators, "Post update" (``_pilot_row``); for
facilitators, above them, the ideas escalated to them, each with "Make pilot" (owner, goal,
measure, review date) and "Decline" (with a reason its author sees)."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._pilot_row import PilotRow
from nbcohort.widgets._style import button, status, style

__all__ = ["Pilots", "pilots"]


class _IdeaRow(w.VBox):
    """One escalated idea with its two decisions; the form of one opens below it."""

    def __init__(self, owner: Pilots, idea: dict[str, Any]) -> None:
        self.owner, self.idea = owner, idea
        who = idea["author"]["name"]
        self.text = w.HTML(
            f'<div class="nbc-card"><div class="nbc-meta"><b>{html.escape(who)}</b> in '
            f"{html.escape(idea['anchor'])} · {idea['endorsements']} of {idea['threshold']} "
            f"endorsements</div>{html.escape(idea['excerpt'])}</div>"
        )
        self.make = button("Make pilot", f"make a pilot of {who}'s idea", kind="primary")
        self.decline = button("Decline", f"decline {who}'s idea, with a reason")
        self.make.on_click(lambda _b: self.open_make())
        self.decline.on_click(lambda _b: self.open_decline())
        self.form = w.VBox()
        self.note = w.HTML()
        super().__init__([self.text, w.HBox([self.make, self.decline]), self.form, self.note])

    def open_make(self) -> None:
        people = [
            (f"{m['name']} ({m['username']})", m["id"])
            for m in self.owner.members()
            if m["role"] != "sponsor"
        ]
        self.owner_pick = w.Dropdown(options=[("choose the owner", None), *people])
        self.owner_pick.description = "Owner"
        self.goal = w.Text(description="Goal", placeholder="what it sets out to change")
        self.measure = w.Text(description="Measure", placeholder="how we will know")
        self.review_on = w.Text(description="Review on", placeholder="YYYY-MM-DD")
        self.title = w.Text(description="Title", placeholder="optional")
        go = button("Create pilot", kind="primary")
        go.on_click(lambda _b: self.create())
        self.form.children = (self.owner_pick, self.goal, self.measure, self.review_on,
                              self.title, go)  # fmt: skip
        self.owner_pick.focus()

    def create(self) -> None:
        try:
            self.owner.conn.client.make_pilot(
                self.idea["id"],
                owner_id=self.owner_pick.value,
                goal=self.goal.value,
                measure=self.measure.value,
                review_on=self.review_on.value,
                title=self.title.value,
            )
        except ClientError as exc:
            self.note.value = status(exc.message)
            return
        self.owner.refresh("pilot made")

    def open_decline(self) -> None:
        self.reason = w.Text(description="Reason", placeholder="the author sees it")
        go = button("Confirm decline", kind="danger")
        go.on_click(lambda _b: self.do_decline())
        self.form.children = (self.reason, go)
        self.reason.focus()

    def do_decline(self) -> None:
        try:
            self.owner.conn.client.decline_idea(self.idea["id"], self.reason.value)
        except ClientError as exc:
            self.note.value = status(exc.message)
            return
        self.owner.refresh("idea declined")


class Pilots(w.VBox):
    """The pilots, and for facilitators the escalated ideas to decide on."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.decide = w.VBox()
        self.head = w.HTML()
        self.list = w.VBox()
        self.status = w.HTML()
        self._members: list[dict[str, Any]] | None = None
        super().__init__([style(), self.decide, self.head, self.list, self.status])
        self.add_class("nbc-pilots")
        self.refresh()

    def members(self) -> list[dict[str, Any]]:
        if self._members is None:
            try:
                self._members = self.conn.client.members()
            except ClientError:
                self._members = []
        return self._members

    def refresh(self, done: str = "") -> None:
        try:
            found = self.conn.client.pilots()
            ideas = self.conn.client.ideas(state="escalated") if self.conn.is_staff else []
        except ClientError as exc:
            self.status.value = status(exc.message)
            return
        head = '<div class="nbc-head">Ideas to decide on</div>'
        rows: list[w.Widget] = [_IdeaRow(self, i) for i in ideas]
        if self.conn.is_staff and not rows:
            rows = [w.HTML(head + '<div class="nbc-meta">No idea is waiting for you.</div>')]
        elif rows:
            rows.insert(0, w.HTML(head))
        self.decide.children = rows
        self.head.value = head_html(found)
        self.list.children = [PilotRow(self.conn, p, self.refresh) for p in found]
        self.status.value = status(done, ok=True)


def head_html(found: list[dict[str, Any]]) -> str:
    """The Pilots heading, and what makes one when there is none yet."""
    if found:
        return '<div class="nbc-head">Pilots</div>'
    return (
        '<div class="nbc-head">Pilots</div><div class="nbc-meta">No pilots yet: an idea '
        "endorsed by enough members goes to the facilitators, who can make it one.</div>"
    )


def pilots() -> w.Widget:
    """The cohort's pilots (and, for facilitators, the ideas to decide on); one calm line
    offline or headless. Never raises."""
    try:
        return Pilots(connect())
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
