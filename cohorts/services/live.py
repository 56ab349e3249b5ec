"""What a live widget may watch, and the marks it compares: the rules behind the watch route.

A widget that shows a thread or a member's notifications keeps a *mark* of what it shows: a
thread's ``version`` (bumped by database triggers on every change its pages show; an anchor
nobody has posted to reads as 0), and for notifications ``"<newest unread id>:<unread
count>"``. Reading marks is one indexed query per cohort for any number of threads, and one
for any number of members' notifications, so a service can compare many waiting widgets at
once (``api/live.py``).

Who may watch what is decided here, once, when a watch starts: the reader must be allowed to
read threads in the cohort, and a micro-prompt's thread only when they may see its answers
(``visibility.py``): otherwise its version would tell them that someone answered.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Cohort, Notification, Prompt, Thread
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.threads import clean_anchor
from nbcohort.cohorts.services.visibility import prompt_answers_visible, prompt_opened

__all__ = ["notification_marks", "state_of", "thread_versions", "watchable"]

_CHUNK = 500  # ids or anchors per IN list

_VERSIONS = select(Thread.anchor, Thread.version).where(
    Thread.cohort_id == bindparam("cohort_id"),
    Thread.anchor.in_(bindparam("anchors", expanding=True)),
)
_MARKS = (
    select(Notification.member_id, func.max(Notification.id), func.count())
    .where(
        Notification.member_id.in_(bindparam("members", expanding=True)),
        Notification.read_at.is_(None),
    )
    .group_by(Notification.member_id)
)


def watchable(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    anchors: Iterable[str],
    rules: CommunitySettings | None = None,
) -> list[str]:
    """The anchors ``actor`` asks to watch, cleaned, or the refusal naming the first one they
    may not watch (``field="threads"``)."""
    require(actor, "thread.read", cohort.id)
    cleaned = []
    for raw in anchors:
        try:
            anchor = clean_anchor(raw)
        except Invalid as exc:  # named for the watch's field
            raise Invalid(exc.message, field="threads") from None
        if anchor.startswith("prompt/") and not actor.can("post.moderate"):
            _check_prompt(session, actor, cohort, anchor, rules)
        cleaned.append(anchor)
    return cleaned


def _check_prompt(
    session: Session, actor: Actor, cohort: Cohort, anchor: str, rules: CommunitySettings | None
) -> None:
    key = anchor.removeprefix("prompt/")
    prompt = session.scalar(select(Prompt).where(Prompt.cohort_id == cohort.id, Prompt.key == key))
    if prompt is None or not prompt_opened(prompt, actor):
        raise NotFound(f"no micro-prompt {key!r}", field="threads")
    if not prompt_answers_visible(session, actor, prompt, rules):
        raise Forbidden(
            f"the answers to the micro-prompt {key!r} are shown once you have answered it",
            field="threads",
        )


def thread_versions(session: Session, cohort_id: int, anchors: Iterable[str]) -> dict[str, int]:
    """Each anchor's thread version (0 for a thread nobody has posted to yet)."""
    wanted = sorted(set(anchors))
    found = dict.fromkeys(wanted, 0)
    conn = session.connection()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = conn.execute(_VERSIONS, {"cohort_id": cohort_id, "anchors": chunk})
        found.update({anchor: int(version) for anchor, version in rows})
    return found


def notification_marks(session: Session, member_ids: Iterable[int]) -> dict[int, str]:
    """Each member's notifications mark: changes when one arrives or is read."""
    wanted = sorted(set(member_ids))
    found = dict.fromkeys(wanted, "0:0")
    conn = session.connection()
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(_MARKS, {"members": wanted[start : start + _CHUNK]})
        found.update({int(m): f"{newest}:{count}" for m, newest, count in rows})
    return found


def state_of(
    session: Session, cohort_id: int, member_id: int | None, anchors: Iterable[str]
) -> dict[str, Any]:
    """One reader's marks now: ``{"threads": {anchor: version}, "notifications": mark}``."""
    marks = notification_marks(session, [member_id]) if member_id is not None else {}
    return {
        "threads": thread_versions(session, cohort_id, anchors),
        "notifications": marks.get(member_id) if member_id is not None else None,
    }
