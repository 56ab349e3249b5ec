"""``charter()``: the cohort's charter, what changed since you last acknowledged it, and the
button that records your acknowledgement (which version, when)."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._live import watcher
from nbcohort.widgets._style import button, status, style

__all__ = ["Charter", "charter"]


class Charter(w.VBox):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.head = w.HTML()
        self.changes = w.HTML()
        self.body = w.HTML()
        self.ack = button("I have read the charter and accept it", button_style="primary")
        self.ack.on_click(lambda _b: self.acknowledge())
        self.status = w.HTML()
        super().__init__([style(), self.head, self.changes, self.body, self.ack, self.status])
        self.show(conn.client.charter())

    def show(self, data: dict[str, Any]) -> None:
        self.data = data
        version = data["version"]
        if version is None:
            self.head.value = '<div class="nbc-head">Our charter</div>'
            self.body.value = data["html"] or status("No charter has been published yet.")
            self.body.value += _conduct(data)
            self.ack.layout.display = "none"
            return
        published = (data["published_at"] or "")[:10]
        self.head.value = (
            f'<div class="nbc-head">Our charter · version {version}</div>'
            f'<div class="nbc-meta">published {published}: {html.escape(data["note"])}</div>'
        )
        self.body.value = data["html"] + _conduct(data)
        self.changes.value = self._changes(data)
        if data["needs_ack"]:
            self.ack.layout.display = ""
            self.ack.description = f"I have read version {version} and accept it"
            self.status.value = ""
        else:
            self.ack.layout.display = "none"
            if data["acked_version"] is not None:
                when = (data["acked_at"] or "")[:10]
                self.status.value = status(
                    f"✔ You acknowledged version {data['acked_version']} on {when}.", ok=True
                )

    @staticmethod
    def _changes(data: dict[str, Any]) -> str:
        if not data["changes"]:
            return ""
        notes = "".join(
            f"<li>version {c['version']} ({c['published_at'][:10]}): {html.escape(c['note'])}</li>"
            for c in data["changes"]
        )
        diff = "".join(_diff_line(line) for line in data["diff"].splitlines())
        return (
            f'<div class="nbc-card"><div class="nbc-head">What changed since version '
            f"{data['acked_version']}, which you acknowledged</div><ul>{notes}</ul>"
            f'<details><summary>Show the changes line by line</summary><pre style="white-space:'
            f'pre-wrap;font-size:12px">{diff}</pre></details></div>'
        )

    def acknowledge(self) -> None:
        try:
            self.show(self.conn.client.ack_charter(int(self.data["version"])))
            watcher().acted()  # an onboarding() on screen moves on to the next step
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")


def _conduct(data: dict[str, Any]) -> str:
    """The code of conduct (the cohort file's, sanitized by the service), part of the charter."""
    text = data.get("code_of_conduct") or ""
    return (
        f'<div class="nbc-card"><div class="nbc-head">Code of conduct</div>{text}</div>'
        if text
        else ""
    )


def _diff_line(line: str) -> str:
    text = html.escape(line)
    if line.startswith("+") and not line.startswith("+++"):
        return f'<span style="background:#e6ffec">{text}</span>\n'
    if line.startswith("-") and not line.startswith("---"):
        return f'<span style="background:#ffebe9">{text}</span>\n'
    return text + "\n"


def charter() -> w.Widget:
    """The cohort's charter, and your acknowledgement of it; one calm line when offline."""
    try:
        return Charter(connect())
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
