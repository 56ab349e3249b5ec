"""Who is acting, and what each role may do. Every authorization decision is made here."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import ApiToken, Member, utcnow
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.errors import Conflict, Forbidden, NotFound, Unauthorized

__all__ = [
    "PERMISSIONS",
    "Actor",
    "NotOnRoster",
    "RoleChanged",
    "authenticate_token",
    "may_grant_role",
    "mint_token",
    "require",
    "revoke_all_tokens",
    "revoke_tokens",
    "still_as_authenticated",
    "token_digest",
]

_STAFF = frozenset({"facilitator", "instructor"})
_PARTICIPANTS = frozenset({"learner", "champion", "facilitator", "instructor", "alumni"})

# action -> roles allowed. Sponsors read; alumni keep discussing; staff moderate and run the roster.
PERMISSIONS: dict[str, frozenset[str]] = {
    "cohort.read": _PARTICIPANTS | {"sponsor"},
    "member.list": _PARTICIPANTS | {"sponsor"},
    "thread.read": _PARTICIPANTS | {"sponsor"},
    "post.create": _PARTICIPANTS,
    "post.react": _PARTICIPANTS,
    "post.flag": _PARTICIPANTS,
    "post.moderate": _STAFF,
    "roster.manage": _STAFF,
    # Making another member leave (their posts kept or removed) is for instructors; any
    # member may leave themselves (services/leaving.py).
    "member.remove": frozenset({"instructor"}),
    # The pulse survey: participants answer; everyone in the cohort reads its aggregates
    # (above the threshold, once closed); its free-text answers are for staff and sponsors.
    "pulse.answer": _PARTICIPANTS,
    "pulse.results": _PARTICIPANTS | {"sponsor"},
    "pulse.comments": _STAFF | {"sponsor"},
    # Tokens are minted by the local administrator (the CLI) only: a token is an identity,
    # and no member, staff included, may hold someone else's.
    "token.mint": frozenset(),
    "prompt.answer": _PARTICIPANTS,
    "prompt.manage": _STAFF | {"champion"},
    "practice.apply": _PARTICIPANTS,
    "artifact.read": _PARTICIPANTS | {"sponsor"},
    "artifact.share": _PARTICIPANTS,
    # Peer review: staff run rounds and override scores; participants review and are reviewed.
    "review.run": _STAFF,
    "review.take": _PARTICIPANTS,
    # The cohort's rhythm: staff publish the charter; participants acknowledge it and sign up
    # for clinics (reading both is cohort.read).
    "charter.publish": _STAFF,
    "charter.ack": _PARTICIPANTS,
    "event.signup": _PARTICIPANTS,
    # Recognition and champions (#16): staff revoke badges (with a reason) and edit the
    # spotlight; instructors appoint champions; champions pin, welcome and host routines.
    "badge.revoke": _STAFF,
    "spotlight.edit": _STAFF,
    "champion.suggest": _STAFF,
    "champion.appoint": frozenset({"instructor"}),
    "post.pin": _STAFF | {"champion"},
    "post.welcome": _STAFF | {"champion"},
    "routine.host": _STAFF | {"champion"},
    # Moderation (#16 part 8): champions and staff read the queue and approve or reject held
    # posts; staff answer appeals; a participant appeals a decision about their own post.
    "moderation.queue": _STAFF | {"champion"},
    "post.approve": _STAFF | {"champion"},
    "appeal.decide": _STAFF,
    "appeal.file": _PARTICIPANTS,
    # Graduation (#16): instructors end the formal course; in the community of practice the
    # cohort graduated into, participants start topics and everyone reads the community.
    "cohort.graduate": frozenset({"instructor"}),
    "topic.create": _PARTICIPANTS,
    "community.read": _PARTICIPANTS | {"sponsor"},
    # Ideas to pilots (#16 part 3): participants mark their own posts as ideas (champions
    # and staff anyone's: services/ideas.py) and endorse others'; staff turn an escalated
    # idea into a pilot or decline it; a pilot's owner (or staff) posts its updates.
    "idea.mark": _PARTICIPANTS,
    "idea.endorse": _PARTICIPANTS,
    "idea.decide": _STAFF,
    "pilot.update": _PARTICIPANTS,
    # Leader nudges (#16 part 4): sponsors (and staff) read them, and sponsors reply in
    # threads (a reply, not a new top-level post), under a sponsor label.
    "nudge.read": _STAFF | {"sponsor"},
    "post.reply": _PARTICIPANTS | {"sponsor"},
    # The nbgrader exchange as a service (#18 part 3): staff release assignments, collect
    # and release feedback; learners on the roster fetch, submit and read their own.
    "exchange.manage": _STAFF,
    "exchange.submit": frozenset({"learner", "champion"}),
}


@dataclass(frozen=True)
class Actor:
    """The member a request acts for; ``system`` is the local administrator (the CLI)."""

    member_id: int | None
    cohort_id: int | None
    role: str
    name: str = ""
    username: str = ""
    team: str = ""
    timezone: str = "UTC"

    @classmethod
    def system(cls) -> Actor:
        return cls(member_id=None, cohort_id=None, role="system", name="nbcohort")

    @classmethod
    def of(cls, member: Member) -> Actor:
        return cls(
            member.id,
            member.cohort_id,
            member.role,
            member.name,
            member.username,
            member.team,
            member.timezone,
        )

    def public(self) -> dict[str, object]:
        """The actor as other members see them (the same fields as ``member_dict``)."""
        return {
            "id": self.member_id,
            "username": self.username,
            "name": self.name,
            "role": self.role,
            "team": self.team,
            "timezone": self.timezone,
        }

    @property
    def is_system(self) -> bool:
        return self.role == "system"

    def can(self, action: str) -> bool:
        return self.is_system or self.role in PERMISSIONS[action]


class NotOnRoster(Forbidden):
    """A member no longer on the roster (they left), or a hub user no cohort's roster has."""

    code = "not_on_roster"


class RoleChanged(Conflict):
    """The actor's role is not the member's any more: the request was checked with the old."""

    code = "role_changed"


_MEMBER_NOW = select(Member.__table__.c.active, Member.__table__.c.role).where(
    Member.__table__.c.id == bindparam("member_id")
)


def still_as_authenticated(session: Session, actor: Actor) -> None:
    """Before a write: the member ``actor`` names is still on the roster with the same role.
    A service process trusts an authenticated actor for a few seconds; a leave or a role
    change made through another process must stop writes at once, not after that time."""
    if actor.member_id is None:
        return
    # Core on the unit's connection: it runs before every write (an ORM select cost 10% of
    # the service's write throughput; this, a fifth of that).
    row = session.connection().execute(_MEMBER_NOW, {"member_id": actor.member_id}).one_or_none()
    if row is None or not row.active:
        raise NotOnRoster("you are no longer on this cohort's roster; nothing was saved")
    if row.role != actor.role:
        raise RoleChanged(
            f"your role changed a moment ago ({actor.role} -> {row.role}); nothing was saved: "
            "send it again"
        )


def require(actor: Actor, action: str, cohort_id: int | None = None) -> None:
    """Refuse ``action`` unless the actor's role allows it in ``cohort_id``."""
    if action not in PERMISSIONS:
        raise KeyError(f"unknown action {action!r}")
    if actor.is_system:
        return
    if cohort_id is not None and actor.cohort_id != cohort_id:
        # Another cohort's objects do not exist as far as this member is concerned.
        raise NotFound("not found")
    if not actor.can(action):
        raise Forbidden(f"a {actor.role} may not do '{action}'")


def may_grant_role(actor: Actor, role: str, current: str | None = None) -> bool:
    """Staff roles (facilitator, instructor) are granted or taken away by instructors only,
    so a facilitator who manages the roster cannot promote anyone, themselves included."""
    if role == current:
        return True  # nothing is granted or taken away
    touches_staff = role in _STAFF or current in _STAFF
    return not touches_staff or actor.is_system or actor.role == "instructor"


def token_digest(token: str) -> str:
    """What the store keeps of a token (and what caches key on)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def mint_token(
    session: Session,
    actor: Actor,
    member: Member,
    note: str = "",
    expires_at: datetime | None = None,
) -> str:
    """Create a token for ``member``; the plain token is returned once and never stored."""
    require(actor, "token.mint", member.cohort_id)
    if not member.active:
        raise Forbidden(f"member {member.username!r} is not active")
    token = "nbc_" + secrets.token_urlsafe(30)
    row = ApiToken(
        member_id=member.id,
        digest=token_digest(token),
        prefix=token[:8],
        note=note,
        expires_at=expires_at,
    )
    session.add(row)
    record(session, member.cohort_id, actor.member_id, "token.mint", row, member=member.id)
    return token


def revoke_tokens(session: Session, actor: Actor, member: Member) -> int:
    """Revoke every token of ``member``; returns how many were live."""
    require(actor, "token.mint", member.cohort_id)
    count = revoke_all_tokens(session, member)
    record(session, member.cohort_id, actor.member_id, "token.revoke", member, count=count)
    return count


def revoke_all_tokens(session: Session, member: Member) -> int:
    """Revoke a member's tokens (used when they leave: reactivation must not revive them)."""
    rows = session.scalars(
        select(ApiToken).where(ApiToken.member_id == member.id, ApiToken.revoked.is_(False))
    ).all()
    for row in rows:
        row.revoked = True
    return len(rows)


def authenticate_token(session: Session, token: str | None) -> Actor:
    """The actor a token stands for, or 401 for a missing, unknown, revoked or expired token."""
    if not token:
        raise Unauthorized("a token is required (Authorization: token <token>)")
    found = session.execute(
        select(ApiToken, Member)
        .join(Member, ApiToken.member_id == Member.id)
        .where(ApiToken.digest == token_digest(token))
    ).first()
    if found is None or found[0].revoked:
        raise Unauthorized("invalid or revoked token")
    row, member = found
    if row.expires_at is not None and row.expires_at <= utcnow():
        raise Unauthorized("token expired")
    if not member.active:
        raise Unauthorized("member is no longer active")
    return Actor.of(member)
