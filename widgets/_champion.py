"""Champions' actions in a thread (#16 part 2): pin or unpin a post, welcome a newcomer on
their first post, host the thread's next routine.

Offered to the roles the service allows them (``post.pin``, ``post.welcome`` and
``routine.host`` in ``services/auth.py``: champions and staff) and hidden from everyone
else; the service still refuses anyone else, and its refusal (not their first post, three
pins already, hosted by someone else) is shown beside the button.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as w

from nbcohort.cohorts.client import ClientError
from nbcohort.widgets._style import button, status

if TYPE_CHECKING:
    from nbcohort.widgets._connection import Connection
    from nbcohort.widgets._post import PostCard

__all__ = ["CHAMPION_ROLES", "HostLine", "champion_buttons", "is_champion"]

# The roles that may pin, welcome and host (the service's rule, mirrored to show buttons).
CHAMPION_ROLES = frozenset({"champion", "facilitator", "instructor"})


def is_champion(conn: Connection) -> bool:
    """Whether the member's role may pin, welcome and host."""
    return str(conn.me["member"]["role"]) in CHAMPION_ROLES


def champion_buttons(card: PostCard) -> list[w.Button]:
    """Pin (or unpin) and welcome, for a post a champion may act on."""
    post, thread = card.post, card.thread
    if not is_champion(thread.conn) or post["deleted"] or post["hidden"]:
        return []
    pinned = post["id"] in thread.pinned
    out = [
        card._action(
            "Unpin" if pinned else "Pin",
            lambda: _pin(card, not pinned),
            "unpin this post" if pinned else "pin this post to the top of the thread",
        )
    ]
    if not card.own and "welcome" not in post["reactions"]:
        out.append(
            card._action("Welcome", lambda: _welcome(card), "welcome a newcomer's first post")
        )
    return out


def _pin(card: PostCard, pin: bool) -> None:
    def act() -> None:
        card.client.pin(card.post["id"], pin)
        (card.thread.pinned.add if pin else card.thread.pinned.discard)(card.post["id"])
        card.render()

    card._do(act, "pinned" if pin else "unpinned")


def _welcome(card: PostCard) -> None:
    def act() -> None:
        card.client.welcome(card.post["id"])
        card.refresh()

    card._do(act, "welcomed")


class HostLine(w.HBox):
    """ "Host the next <routine>" in the thread a routine posts in, for champions: the next
    planned routine whose anchor is this thread's (none: nothing is shown)."""

    def __init__(self, conn: Connection, anchor: str) -> None:
        self.conn, self.anchor = conn, anchor
        self.routine: dict[str, Any] | None = None
        self.note = w.HTML()
        super().__init__()
        if not is_champion(conn):
            return
        try:
            upcoming = conn.client.cadence(days=14)["next"]
        except ClientError:
            return  # a thread without the offer is still a thread
        self.routine = next(
            (r for r in upcoming if r["kind"] == "routine" and r["anchor"] == anchor), None
        )
        if self.routine is None:
            return
        title, at = self.routine["title"], self.routine["local"]
        self.host_button = button(f"Host {title} ({at})", f"host the next {title}: it goes out "
                                  "under your name")  # fmt: skip
        self.host_button.on_click(lambda _b: self.host())
        self.children = [self.host_button, self.note]

    def host(self) -> dict[str, Any] | None:
        """Volunteer to host the next routine of this thread."""
        assert self.routine is not None
        try:
            got = self.conn.client.host_routine(self.routine["key"])
        except ClientError as exc:
            self.note.value = status(exc.message)
            return None
        self.note.value = status(f"you host {self.routine['title']}", ok=True)
        self.host_button.disabled = True
        return got
