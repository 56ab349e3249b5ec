"""``pulse()``: the cohort's pulse survey open now (Likert 1-5 questions and one free text).
Answers are kept without your name; results appear once enough members answered."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._style import button, status, style

__all__ = ["Pulse", "pulse"]

_LEVELS = [("1 · strongly disagree", 1), ("2", 2), ("3", 3), ("4", 4), ("5 · strongly agree", 5)]


class Pulse(w.VBox):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.head = w.HTML()
        self.form = w.VBox()
        self.status = w.HTML()
        self.choices: list[w.ToggleButtons] = []
        self.text = w.Textarea(layout={"width": "100%"})
        self.send = button("Send my answers", button_style="primary")
        self.send.on_click(lambda _b: self.submit())
        super().__init__([style(), self.head, self.form, self.status])
        self.show(conn.client.pulse())

    def show(self, data: dict[str, Any]) -> None:
        self.data = data
        survey = data["survey"]
        if survey is None:
            self.head.value = '<div class="nbc-head">Pulse survey</div>'
            self.form.children = []
            self.status.value = status("No pulse survey is open right now.")
            return
        self.head.value = (
            f'<div class="nbc-head">{html.escape(survey["title"])}</div><div class="nbc-meta">'
            f"Open until {survey['closes_at'][:16].replace('T', ' ')} UTC. Your answers are "
            "kept without your name; no one sees results until enough members answered.</div>"
        )
        if data["answered"] or not data["may_answer"]:
            self.form.children = []
            self.status.value = status(
                "✔ Thank you: your answers are in." if data["answered"] else "", ok=True
            )
            return
        self.choices = [
            w.ToggleButtons(options=_LEVELS, value=None, style={"button_width": "auto"})
            for _q in survey["questions"]
        ]
        rows: list[w.Widget] = []
        for question, choice in zip(survey["questions"], self.choices, strict=True):
            rows += [w.HTML(f"<b>{html.escape(question)}</b>"), choice]
        self.text.placeholder = survey["free_text"]
        rows += [w.HTML(html.escape(survey["free_text"])), self.text, self.send]
        self.form.children = rows

    def submit(self) -> None:
        scores = [c.value for c in self.choices]
        if any(s is None for s in scores):
            self.status.value = status("Choose an answer for every question.")
            return
        try:
            self.conn.client.answer_pulse(
                int(self.data["survey"]["id"]), [int(s) for s in scores], self.text.value
            )
            self.show(self.conn.client.pulse())
        except ClientError as exc:
            self.status.value = status(exc.message or "community offline: try again")


def pulse() -> w.Widget:
    """The pulse survey open now; one calm line when offline."""
    try:
        return Pulse(connect())
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        return offline(f"community offline: {exc.message}")
