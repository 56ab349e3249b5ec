"""The community of practice's member directory: the members of every graduated cohort of
the community, with their role, team, cohort, skills, badges and how much they shared and
applied, searchable by name or team and found by skill, a page at a time.

Who may read: any member of a graduated cohort of the community (sponsors included); before
graduation the service's reason; another community's members are never listed. The directory
is opt-in: a member is listed only once they choose to appear (``Member.directory_opt_in``,
default off, set by the member alone with ``set_directory_opt_in``); so are the skills a member
sets (``skills.py``): never shown for a member who is not listed. A member who left (or
was deactivated) is not listed at all; no email is shown; a member who hides their badges
shows none here to anyone but themselves.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import AppliedPractice, Artifact, Cohort, Member, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.badge_awards import list_badges
from nbcohort.cohorts.services.community import community_cohorts, visitor
from nbcohort.cohorts.services.community_library import clean_text_query, mark
from nbcohort.cohorts.services.errors import Forbidden, Invalid
from nbcohort.cohorts.services.members import public_member
from nbcohort.cohorts.services.skills import clean_skill

__all__ = ["MAX_PAGE", "MAX_PER_PAGE", "MAX_SEARCH", "community_members", "set_directory_opt_in"]

MAX_PAGE = 100_000
MAX_PER_PAGE = 200
MAX_SEARCH = 100


def _whole(raw: object, field: str, top: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= top:
        raise Invalid(f"{field} must be a whole number between 1 and {top}", field=field)
    return raw


def _counts(session: Session, column: Any, ids: list[int]) -> dict[int, int]:
    rows = session.execute(select(column, func.count()).where(column.in_(ids)).group_by(column))
    return {int(k): int(n) for k, n in rows.all()}


def community_members(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    *,
    q: object = None,
    skill: object = None,
    page: object = 1,
    per_page: object = 50,
) -> dict[str, Any]:
    """One page of the community's directory, by name; ``q`` matches a name or team
    (literally, case-insensitive), ``skill`` one of a member's skills (whole, in any case).
    A page past the end is empty, with the total."""
    page = _whole(page, "page", MAX_PAGE)
    per_page = _whole(per_page, "per_page", MAX_PER_PAGE)
    text = clean_text_query(q, limit=MAX_SEARCH)
    wanted = None if skill is None or skill == "" else clean_skill(skill).casefold()
    cohorts = community_cohorts(session, actor, cohort)
    by_id = {c.id: c for c in cohorts}
    everyone = session.scalars(
        select(Member).where(
            Member.cohort_id.in_(by_id),
            Member.active.is_(True),
            Member.left_at.is_(None),
            Member.directory_opt_in.is_(True),
        )
    ).all()
    found = [m for m in everyone if not text or text in f"{m.name}\n{m.team}".casefold()]
    if wanted is not None:
        found = [m for m in found if wanted in {k.casefold() for k in _skills(m)}]
    found.sort(key=lambda m: (m.name.casefold(), by_id[m.cohort_id].slug, m.id))
    start = (page - 1) * per_page
    shown = found[start : start + per_page]
    ids = [m.id for m in shown]
    shared = _counts(session, Artifact.author_id, ids)
    applied = _counts(session, AppliedPractice.member_id, ids)
    badges: dict[int, list[dict[str, Any]]] = {}
    for cid in {m.cohort_id for m in shown}:
        here = [m.id for m in shown if m.cohort_id == cid]
        badges.update(list_badges(session, visitor(actor, cid), by_id[cid], here))
    members = []
    for m in shown:
        own = m.id == actor.member_id
        mine = [b for b in badges.get(m.id, []) if own or not b.get("hidden")]
        members.append(
            {
                **public_member(m),
                "cohort": mark(by_id[m.cohort_id]),
                "skills": _skills(m),
                "badges": mine,
                "shared": shared.get(m.id, 0),
                "applied": applied.get(m.id, 0),
            }
        )
    return {
        "members": members,
        "total": len(found),
        "page": page,
        "per_page": per_page,
        "pages": math.ceil(len(found) / per_page),
        "q": text,
        "skill": None if wanted is None else clean_skill(skill),
    }


def _skills(member: Member) -> list[str]:
    """What the member set, as text (the column is JSON: trust nothing else wrote it)."""
    got = member.directory_skills
    return [str(k) for k in got] if isinstance(got, list) else []


def set_directory_opt_in(session: Session, actor: Actor, member: Member, listed: object) -> Member:
    """Whether ``member`` appears in the community's member directory: their own choice
    (or the local administrator's), before or after graduation; off until they choose."""
    if not actor.is_system and actor.member_id != member.id:
        raise Forbidden("members choose for themselves whether the directory lists them")
    if not isinstance(listed, bool):
        raise Invalid("directory_opt_in must be true or false", field="directory_opt_in")
    if member.left_at is not None or not member.active:
        raise Forbidden("a member who left is not listed in the directory")
    if member.directory_opt_in != listed:
        member.directory_opt_in = listed
        member.updated_at = utcnow()
        record(
            session, member.cohort_id, actor.member_id, "member.directory", member, listed=listed
        )
    return member
