"""A compose box with preview, used by the discussion and the micro-prompt: the text stays in
the box until the service accepts it, under one request key, so pressing again after an error
never posts twice."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection
from nbcohort.widgets._style import button, status

__all__ = ["Composer"]

LATE_TEXT_SECONDS = 2.0  # how long an empty box waits for text already on its way


class Composer(w.VBox):
    """A compose box with preview; the text stays in the box until the service accepts it."""

    def __init__(
        self,
        conn: Connection,
        send: Callable[[str], Any],
        label: str = "Post",
        placeholder: str = "Write in Markdown; @username mentions a member",
        anchor: str | None = None,
    ) -> None:
        """``anchor``: the thread the text is for, so that the preview resolves @mentions as
        posting there will (in a community topic: the whole community's members)."""
        self.conn, self._send, self.anchor = conn, send, anchor
        self._draft: tuple[str, str] | None = None  # (text, its key): see draft_key
        self._waiting: threading.Timer | None = None  # see _wait_for_text
        self._lock = threading.Lock()
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
            self.preview.value = self.conn.client.preview(self.text.value, anchor=self.anchor)
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
        """Send the text in the box; an empty box first waits a moment for its text."""
        if not self.text.value.strip():
            self._wait_for_text()
            return None
        return self._send_now()

    def _wait_for_text(self) -> None:
        """A click on the button can overtake the box's text: ipywidgets sends a widget's
        state once the kernel has answered the message before it, but a click at once. So
        an empty box waits up to ``LATE_TEXT_SECONDS``: text that arrives is sent; if none
        does, it is sent empty and the service says why that is refused."""

        def arrived(change: dict[str, Any]) -> None:
            if str(change["new"]).strip():
                done()

        def done() -> None:
            with self._lock:
                timer, self._waiting = self._waiting, None
            if timer is None:  # the other of the two came first
                return
            timer.cancel()
            self.text.unobserve(arrived, "value")
            self._send_now()

        with self._lock:
            if self._waiting is not None:  # pressed again while waiting
                return
            timer = self._waiting = threading.Timer(LATE_TEXT_SECONDS, done)
        timer.daemon = True
        self.text.observe(arrived, "value")
        timer.start()

    def _send_now(self) -> Any:
        try:
            result = self._send(self.text.value)
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")
            return None
        self.text.value, self.preview.value, self.status.value = "", "", ""
        self._draft = None
        return result
