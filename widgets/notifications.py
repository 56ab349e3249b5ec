"""``notifications()``: what is waiting for me (replies, mentions, reviews assigned and of my
work, my onboarding step), what the cohort's rhythm asks today, unread counts, mark-read,
links that open the right notebook at the right cell, and my email setting."""

from __future__ import annotations

import html
import os
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import ipywidgets as w

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.widgets._community import community_link
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._live import follow_views, watcher
from nbcohort.widgets._style import button, status, style, when

__all__ = ["Notifications", "notebook_href", "notifications"]

EMAIL_CHOICES = [
    ("Email me each notification", "all"),
    ("Email me a digest when I am away", "digest"),
    ("No email", "none"),
]
_KIND_WORDS = {
    "reply": ("reply", "replies"),
    "mention": ("mention", "mentions"),
    "review": ("review reminder", "review reminders"),
    "review_assigned": ("review to write", "reviews to write"),
    "review_received": ("review of my work", "reviews of my work"),
    "onboarding": ("onboarding step", "onboarding steps"),
}


def notebook_href(link: dict[str, Any] | None) -> str | None:
    """Where a link goes from this notebook: a path relative to it when the target notebook
    is found beside or above it (JupyterLab then opens it in a tab and scrolls to the cell),
    else JupyterLab's own address for it (``JUPYTERHUB_SERVICE_PREFIX`` on a hub)."""
    if not link:
        return None
    if link.get("url"):
        return str(link["url"])
    notebook = str(link.get("notebook") or "")
    if not notebook:
        return None
    fragment = f"#cell-id={quote(str(link['cell']))}" if link.get("cell") else ""
    session = os.environ.get("JPY_SESSION_NAME", "")
    here = Path(session).parent if os.path.isabs(session) else Path.cwd()
    for root in [here, *here.parents][:6]:
        try:
            found = (root / notebook).is_file()
        except OSError:
            found = False
        if found:
            rel = os.path.relpath(root / notebook, here)
            return quote(Path(rel).as_posix()) + fragment
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/").rstrip("/")
    return f"{prefix}/lab/tree/{quote(notebook)}{fragment}"


def _link(text: str, link: dict[str, Any] | None) -> str:
    href = notebook_href(link)
    if href is None:
        return f"<b>{html.escape(text)}</b>"
    return f'<a href="{html.escape(href, quote=True)}"><b>{html.escape(text)}</b></a>'


def _rich(markup: str, plain: str) -> w.Output:
    """HTML in an Output widget: JupyterLab renders it as a notebook output, so a relative
    link opens the notebook inside JupyterLab instead of leaving the page."""
    out = w.Output(layout=w.Layout(flex="1 1 auto"))
    out.outputs = (
        {
            "output_type": "display_data",
            "data": {"text/html": markup, "text/plain": plain},
            "metadata": {},
        },
    )
    return out


class Notifications(w.VBox):
    def __init__(self, conn: Connection, *, limit: int = 20) -> None:
        self.conn, self.limit = conn, limit
        self.mark: str | None = None  # what the live watcher compares (services/live.py)
        self.lock = threading.RLock()  # the kernel's live watcher refreshes this widget too
        self.header = w.HTML()
        self.today = w.VBox()
        self.items = w.VBox()
        self.status = w.HTML()
        self.show_read = w.ToggleButton(description="Show read", tooltip="show read ones too")
        self.show_read.layout = w.Layout(width="auto", height="28px")
        self.show_read.observe(lambda _c: self.refresh(), "value")
        self.mark_all = button("Mark all read")
        self.mark_all.on_click(lambda _b: self.read(None))
        self.reload = button("Refresh")
        self.reload.on_click(lambda _b: self.refresh())
        member = conn.me["member"]
        self.email = w.Dropdown(
            options=EMAIL_CHOICES,
            value=member.get("email_pref") or "all",
            description="Email:",
            layout=w.Layout(width="auto"),
        )
        self.email.observe(self._email_changed, "value")
        self.email_note = w.HTML()
        if not member.get("email"):
            self.email.disabled = True
            self.email_note.value = (
                '<div class="nbc-meta">No email address on file: everything stays here, '
                "in the notebook.</div>"
            )
        controls = w.HBox([self.mark_all, self.show_read, self.reload])
        super().__init__(
            [
                style(),
                self.header,
                self.today,
                self.items,
                controls,
                w.HBox([self.email, self.email_note]),
                self.status,
                community_link(),
            ]
        )
        self.refresh()
        follow_views(self)

    def refresh(self) -> None:
        try:
            feed = self.conn.client.notification_feed(
                unread_only=not self.show_read.value, limit=self.limit
            )
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return
        self.status.value = ""
        self.show(feed)

    # -- live (the kernel's watcher, _live.py) ----------------------------------------------
    def live_client(self) -> CohortClient:
        return self.conn.client

    def live_marks(self) -> tuple[dict[str, int], str | None]:
        return {}, self.mark

    def live_changed(self, threads: dict[str, int], notifications: str | None) -> None:
        if notifications is not None and notifications != self.mark:
            self.refresh()

    def live_offline(self, message: str | None) -> None:
        self.status.value = status(message) if message else ""

    def close(self) -> None:
        """Closed: no longer kept current."""
        watcher().remove(self)
        super().close()

    def show(self, feed: dict[str, Any]) -> None:
        with self.lock:
            self.mark = feed.get("mark", self.mark)
            self._show(feed)

    def _show(self, feed: dict[str, Any]) -> None:
        unread = int(feed.get("unread", 0))
        parts = []
        for kind, count in sorted(feed.get("unread_by_kind", {}).items()):
            one, many = _KIND_WORDS.get(kind, (kind, kind))
            parts.append(f"{count} {one if count == 1 else many}")
        detail = f" ({', '.join(parts)})" if parts else ""
        self.header.value = (
            f'<div class="nbc-head">Notifications · {unread} unread{html.escape(detail)}</div>'
        )
        self.today.children = tuple(
            _rich(
                f'<div class="nbc-card">Today · {_link(item["title"], item.get("link"))}'
                f"{': ' + html.escape(item['text']) if item.get('text') else ''}</div>",
                f"Today: {item['title']}",
            )
            for item in feed.get("today", [])
        )
        notes = feed.get("notifications", [])
        if not notes:
            self.items.children = (w.HTML('<div class="nbc-meta">Nothing new.</div>'),)
            return
        self.items.children = tuple(self._row(n) for n in notes)

    def _row(self, note: dict[str, Any]) -> w.Widget:
        meta = " · ".join(
            x for x in (html.escape(note.get("by") or ""), when(note.get("created_at"))) if x
        )
        excerpt = f"<div>{html.escape(note['excerpt'])}</div>" if note.get("excerpt") else ""
        css = "nbc-card" if not note.get("read") else "nbc-card nbc-reply"
        body = _rich(
            f'<div class="{css}" data-kind="{html.escape(note["kind"])}">'
            f"{_link(note['headline'], note.get('link'))}"
            f'<div class="nbc-meta">{meta}</div>{excerpt}</div>',
            note["headline"],
        )
        if note.get("read"):
            return body
        done = button("✓", "mark read")
        done.layout.width = "3em"
        done.on_click(lambda _b, nid=note["id"]: self.read([nid]))
        return w.HBox([body, done])

    def read(self, ids: list[int] | None) -> None:
        try:
            self.conn.client.mark_notifications_read(ids)
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return
        self.refresh()

    def _email_changed(self, change: dict[str, Any]) -> None:
        try:
            member = self.conn.client.set_email_pref(change["new"])
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return
        self.conn.me["member"].update(member)
        label = dict((v, k) for k, v in EMAIL_CHOICES)[member["email_pref"]]
        self.status.value = status(f"Saved: {label.lower()}.", ok=True)


def notifications(limit: int = 20) -> w.Widget:
    """My notifications and email setting; one calm line when the community is offline
    or the notebook runs headless. Never raises."""
    try:
        return Notifications(connect(), limit=limit)
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
