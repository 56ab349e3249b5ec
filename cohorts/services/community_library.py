"""The community of practice's shared library and events: the artifacts shared by members of
every graduated cohort of the community, and the clinics and events of each, every one
marked with its cohort.

Who may read: any member of a graduated cohort of the community (``community.read``); before
graduation the service's reason, and another community's cohorts are never part of it (see
``community.py``). Each cohort's own rules stay: authors who left are "former member"
(``members.public_member``), micro-prompt answers and grades are nowhere here, and another
cohort's events are listed as a reader of that cohort sees them (no sign-up of theirs shown).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer, joinedload

from nbcohort.cohorts.models import Artifact, ArtifactReuse, Cohort
from nbcohort.cohorts.services.artifacts import artifact_dict
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.calendar import upcoming_events
from nbcohort.cohorts.services.community import community_cohorts, visitor
from nbcohort.cohorts.services.errors import Invalid

__all__ = ["MAX_LIBRARY_QUERY", "clean_text_query", "community_artifacts", "community_events"]

MAX_LIBRARY_QUERY = 200


def mark(cohort: Cohort) -> dict[str, Any]:
    """A cohort as the community's lists name it."""
    return {"slug": cohort.slug, "title": cohort.title}


def clean_text_query(raw: object, *, field: str = "q", limit: int = MAX_LIBRARY_QUERY) -> str:
    """A search text matched literally (no wildcard or query syntax: ``%``, ``*``, ``"`` are
    characters like any other), case-insensitive; empty means everything. Control and
    invisible characters are refused, naming them."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise Invalid(f"{field} must be text", field=field)
    text = unicodedata.normalize("NFC", raw).strip()
    if len(text) > limit:
        raise Invalid(
            f"{field} is at most {limit} characters; this one has {len(text)}", field=field
        )
    bad = sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cf")})
    if bad:
        raise Invalid(
            f"{field} cannot hold control or invisible characters ({', '.join(bad)})",
            field=field,
        )
    return text.casefold()


def _matches(artifact: Artifact, text: str, tag: str) -> bool:
    """Whether ``artifact`` is one a search asks for; read from its columns, so a search
    renders the descriptions of only the artifacts it returns."""
    tags = list(artifact.tags)
    if tag and tag not in tags:
        return False
    haystack = " ".join([artifact.title, artifact.filename, " ".join(tags)])
    return not text or text in haystack.casefold()


def community_artifacts(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    *,
    q: object = None,
    tag: object = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """The community's shared library, newest first, each artifact with its reuse count and
    its cohort; ``q`` matches title, file name and tags, ``tag`` one tag exactly."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 500:
        raise Invalid("limit must be between 1 and 500", field="limit")
    text = clean_text_query(q)
    wanted = clean_text_query(tag, field="tag", limit=32)
    cohorts = community_cohorts(session, actor, cohort)
    by_id = {c.id: c for c in cohorts}
    reuses = (
        select(ArtifactReuse.artifact_id, func.count().label("n"))
        .group_by(ArtifactReuse.artifact_id)
        .subquery()
    )
    query = (
        select(Artifact, func.coalesce(reuses.c.n, 0))
        .options(joinedload(Artifact.author), defer(Artifact.content))  # no file bodies
        .outerjoin(reuses, reuses.c.artifact_id == Artifact.id)
        .where(Artifact.cohort_id.in_(by_id))
        .order_by(Artifact.created_at.desc(), Artifact.id.desc())
    )
    if not text and not wanted:  # matched here, in Python, alike on every database
        query = query.limit(limit)
    rows = session.execute(query).all()
    out = []
    for artifact, n in rows:
        if not _matches(artifact, text, wanted):
            continue
        item = artifact_dict(artifact, int(n))
        item["cohort"] = mark(by_id[artifact.cohort_id])
        item["mine"] = artifact.cohort_id == cohort.id  # copies: one's own cohort's only
        out.append(item)
        if len(out) == limit:
            break
    return out


def community_events(
    session: Session, actor: Actor, cohort: Cohort, days: int = 60
) -> list[dict[str, Any]]:
    """What happens in the next ``days`` in every cohort of the community, soonest first,
    in the actor's time zone, each with its cohort; sign-ups shown for one's own cohort."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
        raise Invalid("days must be between 1 and 366", field="days")
    out = []
    for member_cohort in community_cohorts(session, actor, cohort):
        home = member_cohort.id == cohort.id
        reader = visitor(actor, member_cohort.id)
        for event in upcoming_events(session, reader, member_cohort, days):
            if not home:
                event["signed_up"] = False
            out.append({**event, "cohort": mark(member_cohort), "mine": home})
    out.sort(key=lambda e: (datetime.fromisoformat(e["starts_at"]), e["cohort"]["slug"]))
    return out
