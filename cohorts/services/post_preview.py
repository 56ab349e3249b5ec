"""The compose box's preview: a draft rendered exactly as posting it in its thread would
render it (the one sanitizer), saving nothing. Its @mentions resolve as posting resolves
them there (``community_guests.thread_mentions``): in a community topic, among the members
of every cohort of the community, whichever cohort started the topic; elsewhere, among the
cohort's own members."""

from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Cohort, Thread
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.community_guests import (
    TOPIC_KIND,
    community_cohort_ids,
    thread_mentions,
)
from nbcohort.cohorts.services.posts import clean_body
from nbcohort.cohorts.services.threads import clean_anchor

__all__ = ["preview_post"]


def preview_post(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    body: object,
    *,
    anchor: str | None = None,
    rules: CommunitySettings | None = None,
) -> str:
    """The HTML ``body`` would have as a post in the thread at ``anchor``: the cohort's own
    thread there, else a community topic of that name another cohort of the community
    started; a thread not yet written (or no ``anchor``) is one of the cohort's own."""
    text = clean_body(body, rules or CommunitySettings())
    where, kind, thread_id = cohort.id, "section", None
    if anchor is not None and actor.cohort_id is not None:
        anchor = clean_anchor(anchor)
        community = community_cohort_ids(session, cohort.id)
        found = session.execute(
            select(Thread.cohort_id, Thread.kind, Thread.id)
            .where(
                Thread.anchor == anchor,
                or_(
                    Thread.cohort_id == cohort.id,
                    and_(Thread.cohort_id.in_(community), Thread.kind == TOPIC_KIND),
                ),
            )
            .order_by(Thread.cohort_id != cohort.id, Thread.id)
            .limit(1)
        ).first()
        if found is not None:
            where, kind, thread_id = found.cohort_id, found.kind, found.id
    mentioned = thread_mentions(
        session, where, kind, text, author=actor.member_id, thread_id=thread_id
    )
    return render_markdown(text, mentioned)
