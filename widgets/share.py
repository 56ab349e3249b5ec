"""``share(path)`` puts a learner's file into the cohort's artifact library; ``library()``
lists the library and fetches copies (each copy by someone else counts as a reuse). Neither
follows a link: only a regular file is shared, and a copy is always a new file."""

from __future__ import annotations

import html
import unicodedata
from pathlib import Path, PurePosixPath
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._files import NotAFile, folder_fd, read_regular, write_new
from nbcohort.widgets._style import button, status, style

__all__ = ["Library", "Share", "library", "share"]


def save_copy(folder: Path, filename: str, content: bytes) -> Path:
    """Save ``content`` in ``folder`` as ``filename`` (its last part only, without control
    characters or leading dots), or ``name (2).ext`` … when taken: never over an existing
    file, never through a link, never elsewhere, never hidden."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").lstrip(". ")
    if not name or len(name.encode()) > 200:  # nothing left, or too long for a file system
        name = "artifact" + PurePosixPath(name).suffix[:20]
    with folder_fd(folder) as fd:
        return folder / write_new(fd, name, content)


class Share(w.VBox):
    def __init__(self, path: str, conn: Connection) -> None:
        self.path, self.conn = Path(path), conn
        licenses = conn.me.get("rules", {}).get("licenses") or []
        self.title = w.Text(description="Title", value=self.path.stem.replace("-", " "))
        self.description = w.Textarea(
            description="What is it?", layout=w.Layout(width="100%", height="60px")
        )
        self.tags = w.Text(description="Tags", placeholder="pandas, groupby")
        self.license = w.Dropdown(
            description="License", options=licenses, value=licenses[0] if licenses else None
        )
        self.go = button(f"Share {self.path.name} with the cohort", kind="primary")
        self.go.on_click(lambda _b: self.submit())
        self.status = w.HTML()
        super().__init__(
            [
                style(),
                w.HTML('<div class="nbc-head">Share with the cohort</div>'),
                self.title,
                self.description,
                self.tags,
                self.license,
                self.go,
                self.status,
            ]
        )

    def submit(self) -> dict[str, Any] | None:
        try:
            content = read_regular(self.path)
        except NotAFile as exc:
            self.status.value = status(str(exc))
            return None
        except OSError as exc:
            self.status.value = status(f"cannot read {self.path}: {exc.strerror}")
            return None
        tags = [t.strip() for t in self.tags.value.replace(",", " ").split() if t.strip()]
        try:
            made = self.conn.client.share(
                self.path.name,
                content,
                self.title.value,
                self.description.value,
                tags,
                self.license.value,
            )
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        self.status.value = status(f"shared as artifact {made['id']}: thank you!", ok=True)
        return made


class Library(w.VBox):
    def __init__(self, conn: Connection, tag: str | None, folder: Path) -> None:
        self.conn, self.folder = conn, folder
        self.status = w.HTML()
        rows: list[w.Widget] = []
        for a in conn.client.artifacts(tag):
            fetch = button("Get a copy")
            fetch.on_click(lambda _b, aid=a["id"]: self.fetch(aid))
            by = html.escape(a["author"]["name"])
            tags = " ".join(f"#{html.escape(t)}" for t in a["tags"])
            rows.append(
                w.HBox(
                    [
                        w.HTML(
                            f'<div class="nbc-card"><b>{html.escape(a["title"])}</b> · {by} · '
                            f"{html.escape(a['license'])} · reused {a['reuses']}× {tags}"
                            f"{a['description_html']}</div>"
                        ),
                        fetch,
                    ]
                )
            )
        head = w.HTML(f'<div class="nbc-head">Artifact library · {len(rows)} shared</div>')
        super().__init__([style(), head, *rows, self.status])

    def fetch(self, artifact_id: int) -> Path | None:
        try:
            filename, content = self.conn.client.copy_artifact(artifact_id)
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        try:
            target = save_copy(self.folder, filename, content)
        except OSError as exc:
            self.status.value = status(f"cannot save a copy in {self.folder}: {exc.strerror}")
            return None
        self.status.value = status(f"saved a copy as {target.name}", ok=True)
        return target


def share(path: str) -> w.Widget:
    """A form to share ``path`` into the cohort's library; one calm line when offline."""
    try:
        return Share(path, connect())
    except Offline as exc:
        return offline(str(exc))


def library(tag: str | None = None, folder: str = ".") -> w.Widget:
    """The cohort's artifact library; copies are saved into ``folder``, never overwriting."""
    try:
        return Library(connect(), tag, Path(folder))
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
