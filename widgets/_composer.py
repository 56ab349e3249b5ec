"""A compose box with preview, used by the discussion and the micro-prompt: the text stays in
the box until the service accepts it, under one request key, so pressing again after an error
never posts twice."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection
from nbcohort.widgets._style import button, status

__all__ = ["Composer"]


class Composer(w.VBox):
    """A compose box with preview; the text stays in the box until the service accepts it."""

    def __init__(
        self,
        conn: Connection,
        send: Callable[[str], Any],
        label: str = "Post",
        placeholder: str = "Write in Markdown; @username mentions a member",
    ) -> None:
        self.conn, self._send = conn, send
        self._draft: tuple[str, str] | None = None  # (text, its key): see draft_key
        # The text reaches the kernel when the box loses focus, not per keystroke: ipywidgets
        # holds back a model's updates while one is unanswered, so with a busy kernel a
        # click on Post could overtake the last keystrokes and post a cut text.
        self.text = w.Textarea(
            placeholder=placeholder,
            continuous_update=False,
            layout=w.Layout(width="auto", height="80px"),
        )
        self.preview_button = button("Preview")
        self.send_button = button(label, kind="primary")
        self.preview = w.HTML()
        self.status = w.HTML()
        self.preview_button.on_click(lambda _b: self.show_preview())
        self.send_button.on_click(lambda _b: self.submit())
        super().__init__(
            [self.text, w.HBox([self.send_button, self.preview_button]), self.preview, self.status]
        )

    def show_preview(self) -> None:
        try:
            self.preview.value = self.conn.client.preview(self.text.value)
            self.status.value = ""
        except ClientError as exc:
            self.status.value = status(exc.message)

    @property
    def draft_key(self) -> str:
        """A name for the text in the box, the same until the service accepts it or the
        text changes: a post sent again after an error (a timeout, a lost answer) is then
        written once (``Client.post(key=...)``)."""
        if self._draft is None or self._draft[0] != self.text.value:
            self._draft = (self.text.value, uuid.uuid4().hex)
        return self._draft[1]

    def submit(self) -> Any:
        try:
            result = self._send(self.text.value)
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        self.text.value, self.preview.value, self.status.value = "", "", ""
        self._draft = None
        return result
