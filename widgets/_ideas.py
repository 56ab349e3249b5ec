"""What the discussion widget shows of ideas (#16 part 3): a post's idea line (endorsements
of the threshold, its state) and the actions beside it: "Mark as idea" for its author, a
champion or staff; "Endorse (n)" for the other members, once."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from nbcohort.widgets._style import button

if TYPE_CHECKING:
    from nbcohort.widgets._post import PostCard

__all__ = ["idea_buttons", "idea_line"]

_MARKERS = ("champion", "facilitator", "instructor")
_STATES = {
    "open": "open for endorsements",
    "escalated": "with the facilitators",
    "piloted": "now a pilot",
    "declined": "declined",
}


def idea_line(idea: dict[str, Any] | None) -> str:
    """The line under an idea's text: 💡 idea · n of t endorsements · where it stands."""
    if not idea:
        return ""
    n, t = idea["endorsements"], idea["threshold"]
    mine = " (you endorsed it)" if idea.get("endorsed") else ""
    reason = (
        f": {html.escape(idea['decline_reason'])}"
        if idea["state"] == "declined" and idea.get("decline_reason")
        else ""
    )
    state = html.escape(_STATES.get(idea["state"], idea["state"]))
    return (
        f'<div class="nbc-meta nbc-idea">💡 <b>Idea</b> · {n} of {t} endorsement'
        f"{'s' if t != 1 else ''}{mine} · {state}{reason}</div>"
    )


def idea_buttons(card: PostCard) -> list[w.Button]:
    """The idea actions a post's panel offers this member."""
    post, thread = card.post, card.thread
    if post["deleted"] or post["hidden"]:
        return []
    idea = thread.ideas.get(post["id"])
    role = thread.conn.me["member"]["role"]
    if idea is None:
        if card.own or role in _MARKERS:
            return [card._action("Mark as idea", lambda: _mark(card), "mark this post as an idea")]
        return []
    n = idea["endorsements"]
    if idea.get("can_endorse"):
        return [card._action(f"Endorse ({n})", lambda: _endorse(card, idea["id"]), "endorse")]
    if idea.get("endorsed"):
        done = button(f"✓ Endorsed ({n})", "you endorsed this idea")
        done.disabled = True
        done.add_class("nbc-mine")
        return [done]
    return []


def _mark(card: PostCard) -> None:
    def act() -> None:
        card.thread.ideas[card.post["id"]] = card.client.mark_idea(card.post["id"])
        card.render()

    card._do(act, "marked as an idea")


def _endorse(card: PostCard, idea_id: int) -> None:
    def act() -> None:
        card.thread.ideas[card.post["id"]] = card.client.endorse(idea_id)
        card.render()

    card._do(act, "endorsed")
