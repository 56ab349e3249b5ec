"""``nudges()``: for sponsors, this week's few threads where a leader's reply would help
most: questions nobody answered, ideas close to the endorsement threshold, pilots due for
review. A reply from a sponsor carries a sponsor label in the discussion."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._style import button, status, style

__all__ = ["Nudges", "nudges"]


class Nudges(w.VBox):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.body = w.HTML()
        self.again = button("Refresh", "read the nudges again")
        self.again.on_click(lambda _b: self.refresh())
        super().__init__([style(), self.body, self.again])
        self.add_class("nbc-nudges")
        self.refresh()

    def refresh(self) -> None:
        try:
            self.body.value = render(self.conn.client.nudges())
        except ClientError as exc:
            self.body.value = status(exc.message)


def _where(row: dict[str, Any]) -> str:
    link = row.get("link") or {}
    notebook = link.get("notebook")
    return html.escape(notebook or row.get("anchor") or "")


def render(data: dict[str, Any]) -> str:
    """The nudges as HTML, one short list per kind; a sentence when there are none."""
    head = (
        f'<div class="nbc-head">Where a leader\'s reply would help · week of {data["week"]}</div>'
    )
    if not data.get("enabled", True):
        return head + '<div class="nbc-meta">Leader nudges are off in the cohort file.</div>'
    if not data["count"]:
        return head + '<div class="nbc-meta">Nothing waits for a leader this week.</div>'
    parts = [head]
    if data["unanswered"]:
        items = "".join(
            f"<li>{html.escape(q['author']['name'])}, {q['hours']} h ago in {_where(q)}: "
            f"{html.escape(q['excerpt'])}</li>"
            for q in data["unanswered"]
        )
        parts.append(f"<b>Questions nobody has answered</b><ul>{items}</ul>")
    if data["ideas"]:
        items = "".join(
            f"<li>{i['endorsements']} of {i['threshold']} endorsements in {_where(i)}: "
            f"{html.escape(i['excerpt'])}</li>"
            for i in data["ideas"]
        )
        parts.append(f"<b>Ideas close to the threshold</b><ul>{items}</ul>")
    if data["pilots"]:
        items = "".join(
            f"<li>{html.escape(p['title'])} (owner "
            f"{html.escape(p['owner']['name'] if p['owner'] else 'none')}), review on "
            f"{p['review_on']}</li>"
            for p in data["pilots"]
        )
        parts.append(f"<b>Pilots due for review</b><ul>{items}</ul>")
    return "".join(parts)


def nudges() -> w.Widget:
    """A sponsor's leader nudges; one calm line offline or headless. Never raises."""
    try:
        return Nudges(connect())
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
