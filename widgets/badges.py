"""``badges()``: my badges (and why each was given or revoked), with my two recognition
choices: hide my badges from others, and never be suggested as a champion."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._style import status, style

__all__ = ["Badges", "badges"]


class Badges(w.VBox):
    """My badges and my recognition choices."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        me = conn.me["member"]
        self.list = w.HTML()
        self.hide = w.Checkbox(
            value=bool(me.get("badges_hidden")), description="Hide my badges from others"
        )
        self.opt_out = w.Checkbox(
            value=bool(me.get("champion_opt_out")), description="Don't suggest me as a champion"
        )
        self.status = w.HTML()
        self.hide.observe(lambda c: self.choose(badges_hidden=c["new"]), names="value")
        self.opt_out.observe(lambda c: self.choose(champion_opt_out=c["new"]), names="value")
        super().__init__([style(), self.list, self.hide, self.opt_out, self.status])
        self.add_class("nbc-badges")
        self.refresh()

    def refresh(self) -> None:
        try:
            mine = self.conn.client.member_badges(self.conn.member_id)
        except ClientError as exc:
            self.status.value = status(exc.message)
            return
        self.list.value = render(mine)

    def choose(self, **choice: bool) -> None:
        try:
            member = self.conn.client.set_recognition(**choice)
        except ClientError as exc:
            self.status.value = status(exc.message)
            return
        self.conn.me["member"].update(member)
        self.status.value = status("saved")
        self.refresh()


def render(mine: dict[str, Any]) -> str:
    """My badges as HTML: each with its reason; revoked ones with the facilitator's reason."""
    shown = mine.get("badges", [])
    lines = [
        f"<li>🏅 <b>{html.escape(b['title'])}</b>: {html.escape(b.get('reason', ''))}</li>"
        for b in shown
    ]
    lines += [
        f"<li><s>{html.escape(r['badge'])}</s> revoked: {html.escape(r['reason'])}</li>"
        for r in mine.get("revoked", [])
    ]
    if not lines:
        return '<div class="nbc-meta">No badges yet: a first post earns the first one.</div>'
    hidden = " (hidden from others)" if mine.get("hidden") else ""
    return f"<div><b>My badges</b>{hidden}<ul>{''.join(lines)}</ul></div>"


def badges() -> w.Widget:
    """My badges and recognition choices; one calm line offline or headless. Never raises."""
    try:
        return Badges(connect())
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
