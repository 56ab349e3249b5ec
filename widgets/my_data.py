"""``my_data()``: download your own data (posts, artifacts, reviews written, badges, applied
practices, charter acknowledgements) as a ZIP next to the notebook, and, behind a second
step, leave the cohort."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._style import button, status, style

__all__ = ["MyData", "my_data"]


class MyData(w.VBox):
    def __init__(self, conn: Connection, folder: Path) -> None:
        self.conn, self.folder = conn, folder
        self.download = button("Download my data (ZIP)", button_style="primary")
        self.download.on_click(lambda _b: self.export())
        self.confirm = w.Text(
            placeholder="type leave to confirm", description="Leave:", layout={"width": "320px"}
        )
        self.leave_button = button("Leave the cohort")
        self.leave_button.on_click(lambda _b: self.leave())
        self.status = w.HTML()
        head = w.HTML(
            '<div class="nbc-head">My data</div><div class="nbc-meta">Your posts, artifacts '
            "and their files, reviews you wrote, badges, practices you applied and charter "
            "acknowledgements. Other members appear as “a member”.</div>"
        )
        leaving = w.HTML(
            '<details><summary>Leaving the cohort</summary><div class="nbc-meta">Your tokens '
            "stop working, email stops, and your name is no longer shown anywhere; the "
            "charter says whether your posts stay (under “former member”) or are removed. "
            "Download your data first: this cannot be undone.</div></details>"
        )
        super().__init__(
            [
                style(),
                head,
                self.download,
                leaving,
                w.HBox([self.confirm, self.leave_button]),
                self.status,
            ]
        )

    def export(self) -> Path | None:
        name = f"my-cohort-data-{datetime.now(UTC):%Y%m%d-%H%M%S}.zip"
        dest = self.folder / name
        try:
            size = self.conn.client.export_my_data(dest)
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        except OSError as exc:
            self.status.value = status(f"could not write {name}: {exc.strerror}")
            return None
        self.status.value = status(
            f"✔ Saved {html.escape(name)} ({size // 1024 + 1} KB) next to this notebook.", ok=True
        )
        return dest

    def leave(self) -> None:
        if self.confirm.value.strip() != "leave":
            self.status.value = status("Type leave in the box to confirm.")
            return
        try:
            done = self.conn.client.leave()
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return
        self.download.disabled = self.leave_button.disabled = self.confirm.disabled = True
        moved = sum((done.get("reviews_moved") or {}).values())
        handed = f" {moved} review(s) you owed went to other reviewers." if moved else ""
        self.status.value = status(
            f"You have left the cohort (your posts: {done['posts']}).{handed} "
            "Thank you for taking part."
        )


def my_data(folder: str | Path = ".") -> w.Widget:
    """Your own data as a ZIP (saved into ``folder``), and leaving; one calm line offline."""
    try:
        return MyData(connect(), Path(folder))
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
