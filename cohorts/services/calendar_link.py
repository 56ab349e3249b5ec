"""A member's calendar feed link, signed (``signing.py``) over the member and their
``Member.calendar_link_version``: a member whose link leaked asks for a new one, and every
earlier link then answers exactly as a link that never existed does. Only the member does it
for themselves (or the local administrator, ``nbcohort events url MEMBER --new``, at their
request); a member who left has no feed to renew. Version 0 signs as links did before there
was a version, so links given out before migration 0023 keep working until replaced."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Member, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Forbidden
from nbcohort.cohorts.signing import sign, verify

__all__ = ["calendar_member", "calendar_signature", "rotate_calendar_link"]

PURPOSE = "calendar"


def _parts(member_id: int, version: int) -> tuple[int, ...]:
    return (member_id,) if version == 0 else (member_id, version)


def calendar_signature(key: bytes, member_id: int, version: int) -> str:
    """The signature in the member's current feed link (``version``: theirs now)."""
    return sign(key, PURPOSE, *_parts(member_id, version))


def calendar_member(session: Session, key: bytes, member_id: int, token: str) -> Member | None:
    """The active member whose current feed link this is; None alike for a member who does
    not exist or left, a replaced link and a forged one (the signature is always checked)."""
    member = session.get(Member, member_id)
    version = member.calendar_link_version if member is not None else 0
    if not verify(key, token, PURPOSE, *_parts(member_id, version)):
        return None
    return member if member is not None and member.active else None


def rotate_calendar_link(session: Session, actor: Actor, member: Member) -> Member:
    """Give ``member`` a new feed link; the one they had stops working. Recorded in the
    activity log (by whom: the member, or the system for the local administrator)."""
    if not actor.is_system and actor.member_id != member.id:
        raise Forbidden("members replace only their own calendar link")
    if member.left_at is not None or not member.active:
        raise Forbidden("a member who left has no calendar link")
    # In the database, not from what was read: two renewals at once give two new links.
    member.calendar_link_version = session.execute(
        update(Member)
        .where(Member.id == member.id)
        .values(calendar_link_version=Member.calendar_link_version + 1, updated_at=utcnow())
        .returning(Member.calendar_link_version)
    ).scalar_one()
    record(
        session,
        member.cohort_id,
        actor.member_id,
        "member.calendar_link",
        member,
        version=member.calendar_link_version,
    )
    return member
