"""``prompt("day-3")``: the cohort's micro-prompt, a quick answer box, and others' answers
once you have answered (or at once, if the cohort allows it)."""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._composer import Composer
from nbcohort.widgets._connection import Connection, Offline, connect, offline
from nbcohort.widgets._style import author_line, status, style

__all__ = ["Prompt", "prompt"]


class Prompt(w.VBox):
    def __init__(self, key: str | None, conn: Connection) -> None:
        self.key, self.conn = key, conn
        self.question = w.HTML()
        self.mine = w.HTML()
        self.answers = w.HTML()
        self.composer = Composer(conn, self.write, "Answer", "Your answer, in a sentence or two")
        super().__init__([style(), self.question, self.mine, self.composer, self.answers])
        self.show(conn.client.prompt(key))

    def show(self, data: dict[str, Any]) -> None:
        self.key = data["key"]
        self.question.value = (
            f'<div class="nbc-head">Micro-prompt · {html.escape(data["key"])}'
            f"</div><div>{html.escape(data['text'])}</div>"
        )
        mine = data["my_answer"]
        self.mine.value = (
            f'<div class="nbc-card">{author_line(mine)}{mine["html"]}</div>' if mine else ""
        )
        self.composer.send_button.description = "Update my answer" if mine else "Answer"
        if data["answers_visible"]:
            others = [p for p in data["answers"] if p["author"]["id"] != self.conn.member_id]
            cards = "".join(
                f'<div class="nbc-card">{author_line(p)}{p["html"]}</div>' for p in others
            )
            n = len(others)
            self.answers.value = (
                f'<div class="nbc-meta">{n} answer{"s" if n != 1 else ""} '
                f"from the cohort</div>{cards}"
            )
        else:
            n = data["answer_count"]
            self.answers.value = (
                f'<div class="nbc-meta">{n} member{"s" if n != 1 else ""} '
                "answered; their answers appear once you answer.</div>"
            )

    def write(self, text: str) -> dict[str, Any]:
        post = self.conn.client.answer_prompt(self.key or "current", text)
        self.show(self.conn.client.prompt(self.key))
        if post.get("held"):  # a new member's first answer waits for approval: mine alone
            self.mine.value = (
                '<div class="nbc-card nbc-held"><div class="nbc-meta">Your answer is waiting '
                f"for approval by a champion or facilitator</div>{post['html']}</div>"
            )
        return post


def prompt(key: str | None = None) -> w.Widget:
    """The micro-prompt ``key`` (``"day-3"``), or today's when no key is given.
    One calm line when the community cannot be reached; never raises."""
    try:
        return Prompt(key, connect())
    except Offline as exc:
        return offline(str(exc))
    except ClientError as exc:
        if exc.status == 404:
            return w.HTML(status(exc.message))
        return offline(f"community offline: {exc.message}")
