"""``search()``: find posts, threads and artifacts of the cohort by their words.

Every word must appear; quotes, ``*`` or ``-`` are not operators, just separators. What the
member may not see (another cohort, hidden posts, prompt answers they may not read yet) is
left out by the service, not here.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._style import button, search_box, search_row, status, style, when

__all__ = ["Search", "search"]

_KINDS = {"post": "Posts", "thread": "Threads", "artifact": "Artifacts"}


class Search(w.VBox):
    def __init__(self, conn: Connection, kind: str | None, limit: int) -> None:
        self.conn, self.kind, self.limit = conn, kind, limit
        what = _KINDS.get(kind or "", "posts, threads and artifacts").lower()
        self.query = search_box("Search", f"words to find in {what}")
        self.query.observe(lambda _change: self.submit(), names="value")
        self.go = button("Search", f"Search the cohort's {what}")
        self.go.on_click(lambda _b: self.submit())
        self.status = w.HTML()
        self.results = w.HTML()
        super().__init__(
            [style(), search_row(self.query, self.go), self.status, self.results],
            layout=w.Layout(width="100%"),
        )

    def submit(self) -> dict[str, Any] | None:
        """Search for the box's words; show the results, or why there are none."""
        text = self.query.value.strip()
        if not text:
            self.results.value, self.status.value = "", ""
            return None
        try:
            found = self.conn.client.search(text, kind=self.kind, limit=self.limit)
        except ClientError as exc:
            self.results.value = ""
            self.status.value = status(exc.message or "community offline: try again")
            return None
        self.status.value = ""
        if found.get("ignored_words"):
            ignored = " ".join(found["ignored_words"])
            self.status.value = status(f"searched the first words only; left out: {ignored}")
        self.results.value = render(found)
        return found


def render(found: dict[str, Any]) -> str:
    """The results as HTML: one section per kind, each result with its snippet (the
    service's snippets are escaped text and <mark> only)."""
    sections = []
    for kind, title in _KINDS.items():
        rows = found.get(f"{kind}s") or []
        if not rows:
            continue
        items = "".join(f'<li class="nbc-card">{_item(kind, r)}</li>' for r in rows)
        sections.append(
            f'<section aria-label="{title}"><div class="nbc-head">{title} ({len(rows)})</div>'
            f'<ul style="list-style:none;padding:0;margin:0">{items}</ul></section>'
        )
    if not sections:
        words = " ".join(found.get("words") or [])
        return f'<div class="nbc-meta">Nothing found for {html.escape(words)}.</div>'
    return "".join(sections)


def _item(kind: str, r: dict[str, Any]) -> str:
    if kind == "post":
        where = f"prompt {r['prompt']}" if r.get("prompt") else r.get("thread_title") or r["anchor"]
        hidden = ' · <span class="nbc-hidden">hidden</span>' if r.get("hidden") else ""
        return (
            f'<div class="nbc-meta"><b>{html.escape(r["author"]["name"])}</b> in '
            f"{html.escape(where)} · {when(r['created_at'])}{hidden}</div>"
            f"<div>{r['snippet']}</div>"
        )
    if kind == "thread":
        return f"<div>{r['snippet']}</div>"
    return (
        f"<div><b>{r['title_html']}</b> · {html.escape(r['author']['name'])} · "
        f'{html.escape(r["license"])}</div><div class="nbc-meta">{r["snippet"]}</div>'
    )


def search(kind: str | None = None, limit: int = 10) -> w.Widget:
    """A search box over the cohort's posts, threads and artifacts (``kind``: one of post,
    thread, artifact); one calm line when the community cannot be reached."""
    try:
        return Search(connect(), kind, limit)
    except Offline as exc:
        return offline(str(exc))
