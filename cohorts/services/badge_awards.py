"""Who sees which badges, revoking one (staff, with a reason, logged), and a member's own
recognition preferences (hide my badges; never suggest me as a champion)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import BadgeAward, Cohort, Member, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.badges import rules_of
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound

__all__ = ["list_badges", "member_badges", "revoke_badge", "set_recognition_prefs"]

MAX_REASON = 500


def list_badges(
    session: Session, actor: Actor, cohort: Cohort, member_ids: list[int] | None = None
) -> dict[int, list[dict[str, Any]]]:
    """member id -> the badges shown beside their name. Revoked badges are not shown; a
    member who hides their badges shows none to others (they and staff still see them, with
    ``hidden``)."""
    require(actor, "cohort.read", cohort.id)
    titles = {r.key: r.title for r in rules_of(cohort)}
    staff = actor.can("post.moderate")
    query = (
        select(BadgeAward, Member.badges_hidden)
        .join(Member, Member.id == BadgeAward.member_id)
        .where(Member.cohort_id == cohort.id, BadgeAward.revoked_at.is_(None))
        .order_by(BadgeAward.member_id, BadgeAward.awarded_at, BadgeAward.id)
    )
    if member_ids is not None:
        query = query.where(BadgeAward.member_id.in_(member_ids))
    out: dict[int, list[dict[str, Any]]] = {}
    for award, hidden in session.execute(query):
        if hidden and not staff and award.member_id != actor.member_id:
            continue
        item: dict[str, Any] = {
            "badge": award.badge,
            "title": titles.get(award.badge, award.badge),
            "reason": award.reason,
            "awarded_at": award.awarded_at.isoformat(),
        }
        if hidden:
            item["hidden"] = True
        out.setdefault(award.member_id, []).append(item)
    return out


def member_badges(session: Session, actor: Actor, cohort: Cohort, member_id: int) -> dict[str, Any]:
    """One member's badges, revoked ones included for staff and the member themselves."""
    require(actor, "cohort.read", cohort.id)
    member = session.get(Member, member_id)
    if member is None or member.cohort_id != cohort.id:
        raise NotFound(f"no member {member_id}", field="member_id")
    own, staff = actor.member_id == member_id, actor.can("post.moderate")
    shown = list_badges(session, actor, cohort, [member_id]).get(member_id, [])
    out: dict[str, Any] = {"member_id": member_id, "badges": shown, "hidden": member.badges_hidden}
    if own or staff:
        out["revoked"] = [
            {"badge": a.badge, "reason": a.revoke_reason, "revoked_at": a.revoked_at.isoformat()}
            for a in session.scalars(
                select(BadgeAward).where(
                    BadgeAward.member_id == member_id, BadgeAward.revoked_at.is_not(None)
                )
            )
            if a.revoked_at is not None
        ]
    return out


def revoke_badge(
    session: Session, actor: Actor, cohort: Cohort, member_id: int, badge: str, reason: object
) -> BadgeAward:
    """Take a shown badge back (staff only), saying why; the row stays so that no later
    evaluation awards it again, and the member sees the reason."""
    require(actor, "badge.revoke", cohort.id)
    if not isinstance(reason, str) or not reason.strip():
        raise Invalid("say why the badge is revoked", field="reason")
    if len(reason) > MAX_REASON:
        raise Invalid(f"a reason is limited to {MAX_REASON} characters", field="reason")
    award = session.scalar(
        select(BadgeAward)
        .join(Member, Member.id == BadgeAward.member_id)
        .where(
            BadgeAward.member_id == member_id,
            BadgeAward.badge == badge,
            Member.cohort_id == cohort.id,
        )
    )
    if award is None:
        raise NotFound(f"member {member_id} has no badge {badge!r}", field="badge")
    if award.revoked_at is not None:
        raise Conflict(f"badge {badge!r} was already revoked", field="badge")
    award.revoked_at, award.revoked_by, award.revoke_reason = (
        utcnow(),
        actor.member_id,
        reason.strip(),
    )
    record(
        session,
        cohort.id,
        actor.member_id,
        "badge.revoke",
        award,
        member=member_id,
        badge=badge,
        reason=reason.strip(),
    )
    return award


def set_recognition_prefs(
    session: Session,
    actor: Actor,
    member: Member,
    *,
    badges_hidden: bool | None = None,
    champion_opt_out: bool | None = None,
) -> Member:
    """A member's own choices: hide their badges from others; never be suggested as a
    champion. Only the member (or the local administrator) changes them."""
    if not actor.is_system and actor.member_id != member.id:
        raise Forbidden("members choose their own recognition settings")
    changed: dict[str, bool] = {}
    for name, value in (("badges_hidden", badges_hidden), ("champion_opt_out", champion_opt_out)):
        if value is None:
            continue
        if not isinstance(value, bool):
            raise Invalid(f"{name} must be true or false", field=name)
        if getattr(member, name) != value:
            setattr(member, name, value)
            changed[name] = value
    if changed:
        member.updated_at = utcnow()
        record(session, member.cohort_id, actor.member_id, "member.recognition", member, **changed)
    return member
