"""Publishing one cadence item, exactly once.

``publish_item`` runs in the caller's unit of work (one transaction per item). Its first
statement flips the item from ``planned`` to ``published`` only if it is still planned
(``UPDATE ... WHERE state = 'planned' RETURNING id``); the publishing itself (a prompt
opened, a post written, a clinic's thread) follows in the same transaction. So a second
tick running at the same moment waits for the row and then finds nothing to do (PostgreSQL's
row lock; SQLite's one writer), and a tick killed halfway leaves no trace: its transaction
rolls back whole and the item is still planned for the next tick.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nbcohort.cohorts.cohort_file import CohortFile, render
from nbcohort.cohorts.local_time import in_zone, local_label
from nbcohort.cohorts.models import CadenceItem, Cohort, Event, Member, Prompt
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.rhythm import facilitator

__all__ = ["LATE_KINDS", "Waiting", "publish_item"]

# Kinds that make no sense long after their time (a "Friday Wins" post on a Monday): past
# CadenceSettings.max_lateness_hours they are marked missed instead. A prompt still opens
# and a clinic's thread still helps.
LATE_KINDS = frozenset({"routine", "highlights"})


class Waiting(Exception):
    """The item cannot be published yet (nobody to post as); it stays planned."""


def publish_item(
    session: Session,
    cohort: Cohort,
    spec: CohortFile,
    item_id: int,
    now: datetime,
    max_lateness: timedelta,
) -> str | None:
    """Publish the planned item ``item_id``; returns its new state, or None when another
    tick has already published it."""
    row = session.execute(
        select(CadenceItem.kind, CadenceItem.due_at).where(CadenceItem.id == item_id)
    ).first()
    if row is None:
        return None
    state = "missed" if row.kind in LATE_KINDS and row.due_at < now - max_lateness else "published"
    flipped = session.execute(
        update(CadenceItem)
        .where(CadenceItem.id == item_id, CadenceItem.state == "planned")
        .values(state=state, published_at=now)
        .returning(CadenceItem.id)
        .execution_options(synchronize_session=False)
    ).first()
    if flipped is None:
        return None
    item = session.get_one(CadenceItem, item_id)
    if state == "published":
        item.result = _PUBLISHERS[item.kind](session, cohort, spec, item)
    record(session, cohort.id, None, f"cadence.{state}", item, key=item.key, kind=item.kind)
    return state


def _author(session: Session, cohort: Cohort, spec: CohortFile, host: str = "") -> Member:
    if host:
        member = session.scalar(
            select(Member).where(
                Member.cohort_id == cohort.id, Member.username == host, Member.active.is_(True)
            )
        )
        if member is not None:
            return member
    member = facilitator(session, cohort, spec)
    if member is None:
        raise Waiting("no active facilitator or instructor to post as: import the roster")
    return member


def _post(
    session: Session,
    cohort: Cohort,
    author: Member,
    item: CadenceItem,
    anchor: str,
    body: str,
    title: str,
) -> int:
    # Imported here: a tick with nothing due (every minute, from cron) never loads the code
    # that writes posts (the sanitizer, thread pages).
    from nbcohort.cohorts.services.posts import create_post

    post = create_post(
        session,
        Actor.of(author),
        cohort,
        anchor,
        body,
        title=title,
        request_key=f"cadence-{cohort.id}-{item.id}",
    )
    return post.id


def _prompt(
    session: Session, cohort: Cohort, spec: CohortFile, item: CadenceItem
) -> dict[str, Any]:
    key = item.payload["prompt"]
    prompt = session.scalar(select(Prompt).where(Prompt.cohort_id == cohort.id, Prompt.key == key))
    if prompt is None and item.payload.get("source") == "library":
        prompt = Prompt(cohort_id=cohort.id, key=key, text=item.payload["text"])
        session.add(prompt)
    if prompt is None:
        return {"prompt": key, "skipped": "the course no longer has this prompt"}
    if prompt.opens_at is None or prompt.opens_at > item.due_at:
        prompt.opens_at = item.due_at
    return {"prompt": key}


def _routine(
    session: Session, cohort: Cohort, spec: CohortFile, item: CadenceItem
) -> dict[str, Any]:
    routine = next((r for r in spec.cadence.routines if r.key == item.payload["routine"]), None)
    if routine is None:
        return {"skipped": "the routine is no longer in the cohort file"}
    wanted = (item.payload or {}).get("host") or routine.host  # a champion who volunteered
    author = _author(session, cohort, spec, wanted)
    host = author.name if wanted and author.username == wanted else ""
    day = datetime.fromisoformat(item.payload["date"])
    body = render(
        routine.prompt,
        {
            "cohort": cohort.title,
            "routine": routine.title,
            "host": host,
            "date": f"{day:%A} {day.day} {day:%B}",
            "week": item.payload["week"],
        },
    )
    anchor = item.payload["anchor"]
    post_id = _post(session, cohort, author, item, anchor, body, routine.title)
    return {"post_id": post_id, "anchor": anchor, "author": author.id}


def _highlights(
    session: Session, cohort: Cohort, spec: CohortFile, item: CadenceItem
) -> dict[str, Any]:
    from nbcohort.cohorts.services.highlights import gather_highlights

    anchor, top = item.payload["anchor"], item.payload["top"]
    found = gather_highlights(
        session, cohort, datetime.fromisoformat(item.payload["since"]), item.due_at, top, anchor
    )
    if spec.badges.enabled and spec.badges.spotlight.enabled:
        from nbcohort.cohorts.services.spotlight import publish_spotlight

        since = datetime.fromisoformat(item.payload["since"])
        found.spotlight = publish_spotlight(
            session, cohort, spec.badges.spotlight, since, item.due_at
        )
    author = _author(session, cohort, spec)
    body = found.markdown(in_zone(cohort.timezone))
    post_id = _post(session, cohort, author, item, anchor, body, "Weekly highlights")
    return {"post_id": post_id, "anchor": anchor, **found.summary()}


def _clinic(
    session: Session, cohort: Cohort, spec: CohortFile, item: CadenceItem
) -> dict[str, Any]:
    p = item.payload
    event = session.scalar(select(Event).where(Event.cohort_id == cohort.id, Event.key == item.key))
    starts = datetime.fromisoformat(p["starts_at"])
    if event is None:  # planned before the event existed (or it was removed by hand)
        event = Event(
            cohort_id=cohort.id,
            kind="clinic",
            title=p["title"],
            key=item.key,
            starts_at=starts,
            ends_at=datetime.fromisoformat(p["ends_at"]),
            location=p["location"],
        )
        session.add(event)
    author = _author(session, cohort, spec)
    when = local_label(starts, in_zone(cohort.timezone))
    intro = render(
        spec.cadence.clinic.intro,
        {"cohort": cohort.title, "clinic": p["title"], "when": when, "location": p["location"]},
    )
    post_id = _post(session, cohort, author, item, p["anchor"], intro, p["title"])
    event.anchor = p["anchor"]
    session.flush()
    return {"event_id": event.id, "post_id": post_id, "anchor": p["anchor"]}


def _pulse(session: Session, cohort: Cohort, spec: CohortFile, item: CadenceItem) -> dict[str, Any]:
    from nbcohort.cohorts.services.pulse import open_survey  # only when a pulse is due

    p = item.payload
    survey = open_survey(
        session,
        cohort,
        item.key,
        title=item.title,
        questions=p["questions"],
        free_text=p["free_text"],
        opens_at=item.due_at,
        closes_at=datetime.fromisoformat(p["closes_at"]),
        min_answers=int(p["min_answers"]),
    )
    return {"survey_id": survey.id}


_PUBLISHERS: dict[str, Callable[[Session, Cohort, CohortFile, CadenceItem], dict[str, Any]]] = {
    "prompt": _prompt,
    "routine": _routine,
    "highlights": _highlights,
    "clinic": _clinic,
    "pulse": _pulse,
}
