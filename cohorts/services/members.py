"""Members of a cohort: validation shared by the CLI, the roster import and the service."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import ROLES
from nbcohort.cohorts.models import Cohort, Member, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, may_grant_role, require, revoke_all_tokens
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.graduated_roles import arriving_role, lock_cohort

__all__ = [
    "FORMER_MEMBER",
    "add_member",
    "clean_member_fields",
    "find_member",
    "list_members",
    "member_dict",
    "note_visits",
    "public_member",
    "set_active",
    "set_email_pref",
    "username_from_email",
]

EMAIL_PREFS = ("all", "digest", "none")
# How a member who left appears to everyone: no name, no username, no team.
FORMER_MEMBER = "former member"

# One plain address (RFC 5322's dot-atom; \w lets an internationalised one through): no
# comma, semicolon, angle bracket, quote, parenthesis or space, which would make the To: header
# name other addresses than the one the message is sent to.
_EMAIL = re.compile(r"^[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(\.[\w-]+)+$")
# A username becomes a folder name in nbgrader's exchange and gradebook: never "..", never
# hidden, so it starts with a letter, a digit or "_".
_USERNAME = re.compile(r"^\w[\w.+-]{0,127}$")


def username_from_email(email: str) -> str:
    """The default username: the email's local part (JupyterHub usernames usually match),
    without the characters a username may not hold."""
    local = re.sub(r"[^\w.+-]", "", email.split("@", 1)[0].lower())
    return re.sub(r"^[.+-]+", "", local) or "member"


def clean_member_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise member fields; raise Invalid naming the first bad field.
    The email may be left out when a username is given: such a member gets everything in
    the notebook and nothing by email (``email`` is then None)."""
    name = unicodedata.normalize("NFC", str(raw.get("name") or "")).strip()
    if not name:
        raise Invalid("name is empty", field="name")
    if len(name) > 200:
        raise Invalid("name is longer than 200 characters", field="name")
    email: str | None = str(raw.get("email") or "").strip().lower() or None
    given_username = str(raw.get("username") or "").strip()
    if email is None and not given_username:
        raise Invalid(
            "give an email address, or a username for a member without one", field="email"
        )
    if email is not None and (not _EMAIL.match(email) or len(email) > 254):
        raise Invalid(f"{email!r} is not an email address", field="email")
    role = str(raw.get("role") or "learner").strip().lower()
    if role not in ROLES:
        raise Invalid(f"role {role!r} is not one of {', '.join(ROLES)}", field="role")
    team = str(raw.get("team") or "").strip()
    if len(team) > 100:
        raise Invalid("team is longer than 100 characters", field="team")
    tz = str(raw.get("timezone") or "UTC").strip()
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"unknown timezone {tz!r} (use an IANA name like Europe/Paris)", field="timezone"
        ) from None
    username = given_username or username_from_email(email or "")
    if not _USERNAME.match(username):
        raise Invalid(
            f"username {username!r} may hold letters, digits and . _ + - only, and starts "
            "with a letter, a digit or _",
            field="username",
        )
    return {
        "name": name,
        "email": email,
        "role": role,
        "team": team,
        "timezone": tz,
        "username": username,
    }


def add_member(session: Session, actor: Actor, cohort: Cohort, **fields: Any) -> Member:
    """Add one member; a duplicate email or username in the cohort is a conflict."""
    require(actor, "roster.manage", cohort.id)
    clean = clean_member_fields(fields)
    # Alumni once graduated: asked of the row locked until this commits, not of the caller's
    # copy, so a graduation running meanwhile cannot leave a learner behind it.
    clean["role"] = arriving_role(lock_cohort(session, cohort.id), clean["role"])
    if not may_grant_role(actor, clean["role"]):
        raise Forbidden(f"only an instructor can make someone a {clean['role']}")
    same = Member.username == clean["username"]
    if clean["email"] is not None:  # never "email IS NULL": members without one do not clash
        same = same | (Member.email == clean["email"])
    clash = session.scalar(select(Member).where(Member.cohort_id == cohort.id, same))
    if clash is not None:
        which = "email" if clean["email"] and clash.email == clean["email"] else "username"
        raise Conflict(
            f"{which} {clean[which]!r} is already a member of {cohort.slug}", field=which
        )
    member = Member(cohort_id=cohort.id, **clean)
    session.add(member)
    record(session, cohort.id, actor.member_id, "member.add", member, role=clean["role"])
    return member


def find_member(session: Session, cohort: Cohort, who: str) -> Member:
    """A member by username or email (as the CLI accepts either)."""
    who = who.strip()
    column = Member.email if "@" in who else Member.username
    member = session.scalar(
        select(Member).where(
            Member.cohort_id == cohort.id, column == who.lower() if "@" in who else column == who
        )
    )
    if member is None:
        raise NotFound(f"no member {who!r} in cohort {cohort.slug}", field="member")
    return member


def list_members(session: Session, actor: Actor, cohort: Cohort) -> list[Member]:
    require(actor, "member.list", cohort.id)
    return list(
        session.scalars(
            select(Member)
            .where(Member.cohort_id == cohort.id, Member.active.is_(True))
            .order_by(Member.name)
        )
    )


def set_active(session: Session, actor: Actor, member: Member, active: bool) -> Member:
    """Deactivate (leave the cohort) or reactivate a member; their posts stay."""
    require(actor, "roster.manage", member.cohort_id)
    if active and member.left_at is not None:
        raise Conflict(
            f"member {member.id} left the cohort; add them again as a new member", field="member"
        )
    if member.active != active:
        member.active = active
        member.updated_at = utcnow()
        if not active:
            revoke_all_tokens(session, member)
        verb = "member.reactivate" if active else "member.deactivate"
        record(session, member.cohort_id, actor.member_id, verb, member)
    return member


def public_member(row: Any, id_field: str = "id") -> dict[str, Any]:
    """A member (a Member, or a query row with its columns and ``left_at``) as others see
    them; one who left is "former member", with no username or team."""
    if getattr(row, "left_at", None) is not None:
        return {
            "id": getattr(row, id_field),
            "username": "",
            "name": FORMER_MEMBER,
            "role": "former",
            "team": "",
            "timezone": "UTC",
        }
    return {
        "id": getattr(row, id_field),
        "username": row.username,
        "name": row.name,
        "role": row.role,
        "team": row.team,
        "timezone": row.timezone,
    }


def member_dict(member: Member, *, private: bool = False) -> dict[str, Any]:
    """A member as other members see them; ``private`` adds the email."""
    out = public_member(member)
    if private:
        out["email"] = member.email
        out["email_pref"] = member.email_pref
        out["badges_hidden"] = member.badges_hidden
        out["champion_opt_out"] = member.champion_opt_out
        out["directory_opt_in"] = member.directory_opt_in
        out["directory_skills"] = list(member.directory_skills or [])
    return out


def set_email_pref(session: Session, actor: Actor, member: Member, pref: str) -> Member:
    """What email ``member`` wants: every notification (all), only the digest of what they
    missed (digest) or none. A member changes only their own (an unsubscribe link stands
    for the member it was made for); the local administrator anyone's."""
    if pref not in EMAIL_PREFS:
        raise Invalid(f"email_pref must be one of {', '.join(EMAIL_PREFS)}", field="email_pref")
    if not actor.is_system and actor.member_id != member.id:
        raise Forbidden("members choose their own email setting")
    if member.email_pref != pref:
        member.email_pref = pref
        member.updated_at = utcnow()
        record(session, member.cohort_id, actor.member_id, "member.email_pref", member, pref=pref)
    return member


def note_visits(session: Session, member_ids: list[int]) -> None:
    """Members ``member_ids`` visited now (their last visit decides who gets a digest)."""
    session.execute(update(Member).where(Member.id.in_(member_ids)).values(last_seen_at=utcnow()))
