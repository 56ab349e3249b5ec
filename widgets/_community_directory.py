"""The community page's two search boxes over the whole community (every graduated cohort of
it): the shared library, each artifact found with a button that saves a copy of it (a reuse,
credited to its author and cohort), and the member directory, a page at a time, with my own
choice to be listed and the skills it shows of me. What a member
may see is decided by the service; these only ask and show (member text escaped in
``community_sections``). A copy is saved as a new file only, never through a link
(``share.save_copy``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection
from nbcohort.widgets._style import button, search_box, search_row, status
from nbcohort.widgets.display.community_sections import library_items, member_items
from nbcohort.widgets.share import save_copy

__all__ = ["Directory", "LibrarySearch"]


class LibrarySearch(w.VBox):
    """Find artifacts of the community's library by title, file name or tag, and save a copy
    of one into ``folder``."""

    def __init__(self, conn: Connection, limit: int = 20, folder: Path = Path(".")) -> None:
        self.conn, self.limit, self.folder = conn, limit, folder
        self.query = search_box("Search the library", "words in a title, file name or tag")
        self.query.observe(lambda _c: self.submit(), names="value")
        self.go = button("Search", "Search the community's library")
        self.go.on_click(lambda _b: self.submit())
        self.status, self.results, self.copies = w.HTML(), w.HTML(), w.VBox()
        super().__init__([search_row(self.query, self.go), self.status, self.results, self.copies])
        self.add_class("nbc-library-search")

    def submit(self) -> list[dict[str, Any]] | None:
        text = self.query.value.strip()
        self.copies.children = ()
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
        self.copies.children = tuple(self._copy_button(a) for a in found)
        return found

    def _copy_button(self, artifact: dict[str, Any]) -> w.Button:
        title = str(artifact.get("title", ""))[:80]
        fetch = button(f"Get a copy of {title}", f"Save a copy of {title} next to this page")
        fetch.on_click(lambda _b, aid=int(artifact["id"]): self.fetch(aid))
        return fetch

    def fetch(self, artifact_id: int) -> Path | None:
        """Save a copy of artifact ``artifact_id`` in the folder; say where, and whose."""
        try:
            got = self.conn.client.copy_community_artifact(artifact_id)
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        try:
            target = save_copy(self.folder, str(got["filename"]), got["content"])
        except OSError as exc:
            self.status.value = status(f"cannot save a copy in {self.folder}: {exc.strerror}")
            return None
        credit = f"by {got['author']['name']}, {got['cohort']['title']}, licence {got['license']}"
        self.status.value = status(f"saved a copy as {target.name} ({credit})", ok=True)
        return target


class Directory(w.VBox):
    """The member directory: search by name or team and by skill, page through the answer;
    and my own choice to be listed in it (off until I tick it) and the skills it shows of me
    (comma-separated in the box; the service says what it refuses)."""

    def __init__(self, conn: Connection, first: dict[str, Any] | None, per_page: int = 25):
        self.conn, self.per_page, self.page = conn, per_page, 1
        self.listed = w.Checkbox(
            value=bool(conn.me["member"].get("directory_opt_in")),
            description="List me in the community's member directory",
            indent=False,
            layout=w.Layout(width="auto"),
        )
        self.listed.observe(lambda c: self.choose(bool(c["new"])), names="value")
        mine = conn.me["member"].get("directory_skills") or []
        self.skills = search_box("My skills", "comma-separated, e.g. pandas, SQL, dashboards")
        self.skills.value = ", ".join(str(k) for k in mine)
        self.save = button("Save my skills", "Save the skills the directory shows of you")
        self.save.on_click(lambda _b: self.set_skills())
        self.query = search_box("Find a member", "a name or team")
        self.query.observe(lambda _c: self.show(1), names="value")
        self.skill = search_box("With the skill", "one skill, e.g. pandas")
        self.skill.observe(lambda _c: self.show(1), names="value")
        self.go = button("Search", "Search the community's members")
        self.go.on_click(lambda _b: self.show(1))
        self.back = button("Previous page", "The previous page of members")
        self.next = button("Next page", "The next page of members")
        self.back.on_click(lambda _b: self.show(self.page - 1))
        self.next.on_click(lambda _b: self.show(self.page + 1))
        self.status, self.results = w.HTML(), w.HTML()
        super().__init__(
            [
                self.listed,
                search_row(self.skills, self.save),
                search_row(self.query, self.skill, self.go),
                self.status,
                self.results,
                search_row(self.back, self.next),
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

    def choose(self, listed: bool) -> None:
        """Ask the service to list me (or not), then show the directory as it is now."""
        try:
            member = self.conn.client.set_directory_opt_in(listed)
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return
        self.conn.me["member"].update(member)
        self.show(self.page)
        said = "You are listed in" if listed else "You are not listed in"
        self.status.value = status(f"{said} the member directory.", ok=True)

    def set_skills(self) -> list[str] | None:
        """Ask the service to save the skills in the box (as it cleaned them, or why not)."""
        given = [k.strip() for k in self.skills.value.split(",") if k.strip()]
        try:
            member = self.conn.client.set_directory_skills(given)
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        self.conn.me["member"].update(member)
        saved = [str(k) for k in member.get("directory_skills") or []]
        self.skills.value = ", ".join(saved)
        self.show(self.page)
        said = "Your skills are saved" if saved else "You show no skills"
        later = "" if member.get("directory_opt_in") else " (shown once you are listed)"
        self.status.value = status(f"{said}{later}.", ok=True)
        return saved

    def show(self, page: int) -> dict[str, Any] | None:
        """Page ``page`` of the members matching the boxes (everyone when they are empty)."""
        try:
            answer = self.conn.client.community_members(
                self.query.value.strip() or None,
                skill=self.skill.value.strip() or None,
                page=max(page, 1),
                per_page=self.per_page,
            )
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        self.status.value = ""
        self._draw(answer)
        return answer
