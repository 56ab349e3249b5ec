"""``peer_review("project-1")``: the reviewer's inbox with a rubric form per packet, the
author's reviews and result, and publishing the reviewed notebook after the round."""

from __future__ import annotations

import html
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._files import folder_fd, write_new
from nbcohort.widgets._review_author import AuthorView, PublishForm
from nbcohort.widgets._review_form import ReviewForm
from nbcohort.widgets._style import button, status, style, when

__all__ = ["PacketRow", "PeerReview", "peer_review", "place_file"]

_STATES = {None: "not started", True: "draft", False: "submitted"}


def place_file(folder: Path, relpath: str, content: bytes) -> Path:
    """Write ``content`` at ``folder/relpath`` and return where it went. Never overwrites: a
    file already there with other content (the reviewer's edits) stays, and the packet's copy
    goes beside it as ``name (2).ext``; a file with the same content is reused as it is. The
    path comes from the service: it never leaves ``folder`` and no link on it is followed."""
    rel = PurePosixPath(relpath)
    if (
        rel.is_absolute()
        or not rel.parts
        or any(p in ("", ".", "..") for p in rel.parts)
        or "\\" in relpath
        or "\0" in relpath
    ):
        raise ValueError(f"unsafe path in packet: {relpath!r}")
    with folder_fd(folder, rel.parts[:-1]) as fd:
        name = write_new(fd, rel.name, content, reuse_same=True)
    return folder.joinpath(*rel.parts[:-1], name)


def _shown(path: Path) -> str:
    """The path as the reviewer would type it: relative to the working directory if inside."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


class PacketRow(w.VBox):
    """One assigned packet: what it is, its state, Open packet, and its rubric form."""

    def __init__(self, parent: PeerReview, item: dict[str, Any], number: int) -> None:
        self.parent, self.item, self.number = parent, item, number
        self.code = PurePosixPath(item["packet"]).name
        self.summary = w.HTML()
        self.open_button = button("Open packet", "copy the packet's files next to this notebook")
        self.open_button.on_click(lambda _b: self.open_packet())
        self.review_button = button("Review ▸", "show or hide the rubric form")
        self.review_button.on_click(lambda _b: self.toggle())
        self.link = w.HTML()
        data = parent.data
        self.form = ReviewForm(
            parent.conn,
            parent.assignment,
            item,
            data["rubric"],
            required_comments=data["required_comments"],
            saved=parent.refresh,
        )
        self.form.layout.display = "none"
        super().__init__(
            [w.HBox([self.summary, self.open_button, self.review_button]), self.link, self.form]
        )
        self.render()

    @property
    def state(self) -> str:
        review = self.item["review"]
        return _STATES[review["draft"] if "id" in review else None]

    def render(self) -> None:
        item = self.item
        if item["kind"] == "calibration":
            what = "Calibration item · the instructor scored it too; compare after you submit"
        elif item["kind"] == "self":
            what = "Your own work · self-assessment"
        else:
            by = f" by {item['author']}" if item.get("author") else ""
            what = f"Peer packet {self.number}{by}"
        due = f" · due {when(item['due_at'])}" if item.get("due_at") else ""
        css = "nbc-ok" if self.state == "submitted" else "nbc-meta"
        self.summary.value = (
            f"<div><b>{html.escape(what)}</b>"
            f'<div class="nbc-meta">{html.escape(self.code)}{html.escape(due)} · '
            f'<span class="{css}">{self.state}</span></div></div>'
        )

    def update(self, item: dict[str, Any]) -> None:
        """New data from the service for this allocation; what the reviewer is typing in
        any form stays as it is."""
        self.item = item
        self.form.sync(item)
        self.render()

    def toggle(self) -> None:
        shown = self.form.layout.display != "none"
        self.form.layout.display = "none" if shown else None
        self.review_button.description = "Review ▸" if shown else "Review ▾"

    def open_packet(self) -> list[Path]:
        """Copy the packet into ``peer-review/<assignment>/<packet>/`` and show where."""
        folder = self.parent.folder / "peer-review" / self.parent.assignment / self.code
        if self.code in ("", ".", ".."):
            self.link.value = status(f"packet {self.code!r}: not a packet name")
            return []
        try:
            files = self.parent.conn.client.review_packet(
                self.parent.assignment, self.item["allocation_id"]
            )
            written = [place_file(folder, rel, data) for rel, data in files.items()]
        except ClientError as exc:
            self.link.value = status(exc.message or "community offline: try again")
            return []
        except (OSError, ValueError) as exc:
            self.link.value = status(f"could not write the packet into {folder}: {exc}")
            return []
        links = " · ".join(
            f'<a href="{html.escape(quote(_shown(p)))}" target="_blank"><code>'
            f"{html.escape(_shown(p))}</code></a>"
            for p in written
            if p.suffix == ".ipynb"
        ) or html.escape(_shown(folder))
        self.link.value = f'<div class="nbc-meta">Opened: {links}</div>'
        return written


class PeerReview(w.VBox):
    """The whole peer review of one assignment for this member: header with progress, one
    row per packet to review, the author's view, and (after close) the publish form."""

    def __init__(self, assignment: str, conn: Connection, folder: Path) -> None:
        self.assignment, self.conn, self.folder = assignment, conn, folder
        self.data: dict[str, Any] = {}
        self.header = w.HTML()
        self.rows: list[PacketRow] = []
        self.inbox = w.VBox()
        self.author = AuthorView(conn, assignment)
        self.publisher = PublishForm(conn, assignment)
        self.status = w.HTML()
        super().__init__(
            [style(), self.header, self.inbox, self.author, self.publisher, self.status]
        )
        self.show(conn.client.review_inbox(assignment))

    @property
    def progress(self) -> tuple[int, int]:
        done = sum(1 for r in self.rows if r.state == "submitted")
        return done, len(self.rows)

    def show(self, data: dict[str, Any]) -> None:
        self.data = data
        items = data["inbox"]
        if [r.item["allocation_id"] for r in self.rows] == [i["allocation_id"] for i in items]:
            for row, item in zip(self.rows, items, strict=True):
                row.update(item)
        else:
            peers = iter(range(1, len(items) + 1))
            self.rows = [
                PacketRow(self, i, next(peers) if i["kind"] == "peer" else 0) for i in items
            ]
            self.inbox.children = self.rows
        self.header.value = self._header()
        self.author.show(data.get("own"), data["rubric"])
        closed = data["status"] == "closed" and data.get("own") is not None
        self.publisher.layout.display = None if closed else "none"

    def _header(self) -> str:
        data = self.data
        done, total = self.progress
        due = f" · reviews due {when(data['due_at'])}" if data.get("due_at") else ""
        state = " · round closed" if data["status"] == "closed" else ""
        work = (
            f"{done} of {total} submitted"
            if total
            else "No packets to review for you in this round."
        )
        return (
            f'<div class="nbc-head">Peer review · {html.escape(data["assignment"])}</div>'
            f'<div class="nbc-meta">{html.escape(work + due + state)}</div>'
        )

    def refresh(self) -> None:
        """Fetch the inbox again (progress, states, calibration scores after a submit)."""
        try:
            self.show(self.conn.client.review_inbox(self.assignment))
            self.status.value = ""
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")


def peer_review(assignment: str, folder: str = ".") -> w.Widget:
    """Your peer review for ``assignment``: packets to review (opened into ``folder``), your
    result and reviews, and publishing. One calm line when offline or headless; never raises."""
    try:
        return PeerReview(assignment, connect(), Path(folder).absolute())
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        if exc.status == 404 and exc.field == "assignment":
            return w.HTML(
                f'<div class="nbc-meta">No review round for {html.escape(assignment)} yet: '
                "your packets to review appear here when it opens.</div>"
            )
        if exc.status in (403, 404):
            return w.HTML(status(exc.message))
        return offline(f"community offline: {exc.message}")
