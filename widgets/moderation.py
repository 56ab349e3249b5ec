"""``moderation()``: the moderation queue for champions and facilitators: held first posts
to approve or reject, flagged or hidden posts to hide or restore (staff), appeals to grant or
deny (staff). Each decision carries a reason the member reads. Below it, every member's own
side (``_my_moderation``): their held and moderated posts, appeals and answers. The service
decides who may see the queue: a member without it sees their own side alone."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._my_moderation import MyModeration
from nbcohort.widgets._style import button, status, style, when

__all__ = ["Moderation", "moderation"]


def _card(head: str, body: str) -> w.HTML:
    return w.HTML(f'<div class="nbc-card"><div class="nbc-meta">{head}</div>{body}</div>')


class Moderation(w.VBox):
    """The queue as the service shows it to this member, with the actions they may take."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.head = w.HTML('<div class="nbc-head">Moderation queue</div>')
        self.items = w.VBox()
        self.status = w.HTML()
        self.refresh_button = button("Refresh", "Read the queue again")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.mine = MyModeration(conn, load=False)
        super().__init__(
            [style(), self.head, self.items, self.status, self.mine, self.refresh_button]
        )
        self.add_class("nbc-moderation")
        self.refresh()

    def refresh(self) -> None:
        try:
            queue = self.conn.client.moderation_queue()
        except ClientError:  # not a moderator: their own side is the whole widget
            for part in (self.head, self.items, self.status):
                part.layout.display = "none"
            self.items.children = []
            self.mine.refresh()
            return
        self.mine.refresh()
        can = queue["can"]
        rows: list[w.Widget] = []
        for h in queue["held"]:
            rows.append(self._held(h, can))
        for f in queue["flags"]:
            rows.append(self._flagged(f, can))
        for a in queue["appeals"]:
            rows.append(self._appeal(a, can))
        if not rows:
            rows = [w.HTML('<div class="nbc-meta">Nothing waits for moderation.</div>')]
        self.items.children = rows
        counts = f"{len(queue['held'])} held · {len(queue['flags'])} flagged"
        if can.get("decide_appeals"):
            counts += f" · {len(queue['appeals'])} appeals"
        self.head.value = (
            f'<div class="nbc-head">Moderation queue</div><div class="nbc-meta">{counts}</div>'
        )

    def _act(self, do: Callable[[], Any], done: str) -> None:
        try:
            do()
        except ClientError as exc:
            self.status.value = status(exc.message)
            return
        self.status.value = status(done, ok=True)
        self.refresh()

    def _actions(
        self, label: str, actions: list[tuple[str, Callable[[str], Any], str, bool]]
    ) -> w.Widget:
        """Buttons named for ``label`` and a reason box; ``actions``: (name, call, done,
        needs a reason)."""
        reason = w.Text(placeholder="Reason (the member reads it)", layout=w.Layout(width="60%"))
        buttons = []
        for name, call, done, needs in actions:
            b = button(name, f"{name} {label}")

            def click(_b: w.Button, call: Callable[[str], Any] = call, done: str = done,
                      needs: bool = needs) -> None:  # fmt: skip
                if needs and not reason.value.strip():
                    self.status.value = status("Write a reason first: the member reads it.")
                    return
                self._act(lambda: call(reason.value), done)

            b.on_click(click)
            buttons.append(b)
        return w.HBox([*buttons, reason])

    def _held(self, h: dict[str, Any], can: dict[str, bool]) -> w.Widget:
        who = html.escape((h.get("author") or {}).get("name", ""))
        head = f"Held first post · <b>{who}</b> in {html.escape(h['anchor'])} · "
        head += when(h["created_at"])
        parts: list[w.Widget] = [_card(head, h["html"])]
        if can.get("approve"):
            client, held_id = self.conn.client, h["id"]
            parts.append(
                self._actions(
                    f"the held post by {who}",
                    [
                        ("Approve", lambda _r: client.approve_held(held_id), "Approved.", False),
                        ("Reject", lambda r: client.reject_held(held_id, r), "Rejected.", True),
                    ],
                )
            )
        return w.VBox(parts)

    def _flagged(self, f: dict[str, Any], can: dict[str, bool]) -> w.Widget:
        who = html.escape(f["author"]["name"])
        state = "hidden" if f["hidden"] else f"{f['open_flags']} open flag(s)"
        reasons = "".join(f"<li>{r}</li>" for r in f["flag_reasons"])
        body = f["html"] or '<div class="nbc-meta">(hidden)</div>'
        body += f'<ul class="nbc-meta">{reasons}</ul>' if reasons else ""
        parts: list[w.Widget] = [
            _card(
                f"Post {f['post_id']} · <b>{who}</b> in {html.escape(f['anchor'])} · {state}", body
            )
        ]
        if can.get("moderate"):
            client, post_id = self.conn.client, f["post_id"]
            parts.append(
                self._actions(
                    f"post {post_id}",
                    [
                        ("Hide", lambda r: client.moderate(post_id, "hide", r), "Hidden.", True),
                        (
                            "Restore",
                            lambda r: client.moderate(post_id, "restore", r),
                            "Restored.",
                            True,
                        ),
                    ],
                )
            )
        return w.VBox(parts)

    def _appeal(self, a: dict[str, Any], can: dict[str, bool]) -> w.Widget:
        who = html.escape(a["member"]["name"])
        head = f"Appeal {a['id']} · <b>{who}</b> on {html.escape(a['subject'])}"
        parts: list[w.Widget] = [_card(head, a["html"])]
        if can.get("decide_appeals"):
            client, appeal_id = self.conn.client, a["id"]
            parts.append(
                self._actions(
                    f"appeal {appeal_id}",
                    [
                        (
                            "Grant",
                            lambda r: client.decide_appeal(appeal_id, "grant", r),
                            "Granted.",
                            True,
                        ),
                        (
                            "Deny",
                            lambda r: client.decide_appeal(appeal_id, "deny", r),
                            "Denied.",
                            True,
                        ),
                    ],
                )
            )
        return w.VBox(parts)


def moderation() -> w.Widget:
    """The moderation queue (champions and facilitators) and every member's own held and
    moderated posts, with appeals; one calm line offline or headless. Never raises."""
    try:
        return Moderation(connect())
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
