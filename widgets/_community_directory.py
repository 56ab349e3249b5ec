"""The community page's two search boxes over the whole community (every graduated cohort of
it): the shared library and the member directory, a page at a time. What a member may see
is decided by the service; these only ask and show (member text escaped in
``community_sections``)."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets.display.community_sections import library_items, member_items
from nbcohort.widgets._connection import Connection
from nbcohort.widgets._style import button, status

__all__ = ["Directory", "LibrarySearch"]


def _box(label: str, what: str) -> w.Text:
    """A search box with its own label (two on one page must not both read "Search")."""
    return w.Text(
        description=label,
        placeholder=what,
        continuous_update=False,
        layout=w.Layout(width="100%"),
        style={"description_width": "initial"},
    )


class LibrarySearch(w.VBox):
    """Find artifacts of the community's library by title, file name or tag."""

    def __init__(self, conn: Connection, limit: int = 20) -> None:
        self.conn, self.limit = conn, limit
        self.query = _box("Search the library", "words in a title, file name or tag")
        self.query.observe(lambda _c: self.submit(), names="value")
        self.go = button("Search", "Search the community's library")
        self.go.on_click(lambda _b: self.submit())
        self.status, self.results = w.HTML(), w.HTML()
        super().__init__([w.HBox([self.query, self.go]), self.status, self.results])
        self.add_class("nbc-library-search")

    def submit(self) -> list[dict[str, Any]] | None:
        text = self.query.value.strip()
        if not text:
            self.results.value = self.status.value = ""
            return None
        try:
            found = self.conn.client.community_artifacts(q=text, limit=self.limit)
        except ClientError as exc:
            self.results.value = ""
            self.status.value = status(exc.message or "community offline: try again")
            return None
        self.status.value = "" if found else status(f"No artifact found for {text!r}.")
        self.results.value = library_items(found) if found else ""
        return found


class Directory(w.VBox):
    """The member directory: search by name or team, page through the answer."""

    def __init__(self, conn: Connection, first: dict[str, Any] | None, per_page: int = 25):
        self.conn, self.per_page, self.page = conn, per_page, 1
        self.query = _box("Find a member", "a name or team")
        self.query.observe(lambda _c: self.show(1), names="value")
        self.go = button("Search", "Search the community's members")
        self.go.on_click(lambda _b: self.show(1))
        self.back = button("Previous page", "The previous page of members")
        self.next = button("Next page", "The next page of members")
        self.back.on_click(lambda _b: self.show(self.page - 1))
        self.next.on_click(lambda _b: self.show(self.page + 1))
        self.status, self.results = w.HTML(), w.HTML()
        super().__init__(
            [
                w.HBox([self.query, self.go]),
                self.status,
                self.results,
                w.HBox([self.back, self.next]),
            ]
        )
        self._draw(first)

    def _draw(self, answer: dict[str, Any] | None) -> None:
        if answer is None:
            self.back.disabled = self.next.disabled = True
            return
        self.page = int(answer.get("page") or 1)
        self.results.value = member_items(answer)
        self.back.disabled = self.page <= 1
        self.next.disabled = self.page >= int(answer.get("pages") or 0)

    def show(self, page: int) -> dict[str, Any] | None:
        """Page ``page`` of the members matching the box (everyone when it is empty)."""
        try:
            answer = self.conn.client.community_members(
                self.query.value.strip() or None, page=max(page, 1), per_page=self.per_page
            )
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        self.status.value = ""
        self._draw(answer)
        return answer
