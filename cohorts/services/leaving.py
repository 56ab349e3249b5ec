"""A member leaves the cohort: by their own request, or an instructor's.

Leaving is one transaction that: revokes every token; cancels email not yet sent to them
(outbox rows still queued or failed); wipes their name, email and team from the member row
and marks it left (``left_at``), so every view of them, whatever renders it (thread pages,
search, highlights, notifications, digests, the charter's lists), shows "former member"
and no username (``members.public_member``); applies the charter's rule for their posts
(``keep``: under "former member"; ``remove``: each post's text wiped and its place kept
with "post removed at the author's request", replies to it stay, and their words leave
the pilots too: ``leaving_pilots``); tells the facilitators about each active pilot they
owned; and records ``member.leave`` in the activity log (the moderation log) with who asked
and why.

What stays: their username (the key nbgrader's gradebook knows them by, so the reviews
they received and their grades stay with the instructor), their shared artifacts (under
"former member"), their reactions as counts, their pulse responses (never linked to
answers). A peer review they still owe in an open round moves to the backup pool in this
same transaction (``leaving_reviews``) when the round's packets are kept by the service;
otherwise (packets in the instructor's course folder, or no backup reviewer) it stays, and
each active instructor is told why, for ``nbcohort review reassign``. The report says what
moved (counts per assignment; never who reviews whom). Leaving twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import PrivacySettings
from nbcohort.cohorts.models import (
    Cohort,
    HeldPost,
    Member,
    OutboxMessage,
    Post,
    utcnow,
)
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require, revoke_all_tokens
from nbcohort.cohorts.services.errors import Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.leaving_pilots import orphan_pilots, remove_pilot_texts
from nbcohort.cohorts.services.leaving_reviews import lock_open_rounds, move_owed_reviews
from nbcohort.cohorts.services.members import FORMER_MEMBER
from nbcohort.cohorts.services.notifications import notify_members
from nbcohort.cohorts.services.pages import REMOVED_NOTE
from nbcohort.cohorts.services.rhythm import rhythm_of

__all__ = ["CONFIRM", "LeaveReport", "PostsRule", "leave", "posts_rule"]

PostsRule = Literal["keep", "remove"]
# What a member types to leave through the API (the widget asks for it too).
CONFIRM = "leave"
_UNSENT = ("queued", "failed")


@dataclass
class LeaveReport:
    """What leaving did (all zero, ``already`` True, when the member had left before)."""

    member_id: int
    already: bool = False
    posts: str = "keep"
    posts_removed: int = 0
    tokens_revoked: int = 0
    emails_cancelled: int = 0
    pilots_orphaned: list[int] = field(default_factory=list)  # active pilots they owned
    owed_reviews: list[str] = field(default_factory=list)  # assignments of open rounds
    reviews_moved: dict[str, int] = field(default_factory=dict)  # assignment -> to backups
    reviews_left: dict[str, str] = field(default_factory=dict)  # assignment -> why not moved

    def as_dict(self) -> dict[str, object]:
        return {
            "member_id": self.member_id,
            "already_left": self.already,
            "posts": self.posts,
            "posts_removed": self.posts_removed,
            "tokens_revoked": self.tokens_revoked,
            "emails_cancelled": self.emails_cancelled,
            "pilots_orphaned": self.pilots_orphaned,
            "owed_reviews": self.owed_reviews,
            "reviews_moved": self.reviews_moved,
            "reviews_left": self.reviews_left,
        }


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def posts_rule(cohort: Cohort, settings: PrivacySettings | None = None) -> PostsRule:
    """The charter's rule for a leaving member's posts: the cohort file's ``[leaving]
    posts``, else ``PrivacySettings.posts_when_leaving``."""
    spec = rhythm_of(cohort)
    chosen: str | None = spec.leaving.posts if spec is not None and spec.leaving else None
    if chosen is None:
        chosen = str((settings or PrivacySettings()).posts_when_leaving)
    return "remove" if chosen == "remove" else "keep"


def leave(
    session: Session,
    actor: Actor,
    member: Member,
    *,
    reason: str = "",
    posts: str | None = None,
    settings: PrivacySettings | None = None,
) -> LeaveReport:
    """``member`` leaves their cohort. A member may leave themselves (the charter's rule
    applies to their posts); an instructor (or the local administrator) may make anyone
    leave, choosing ``posts`` (``keep`` or ``remove``; default: the charter's rule)."""
    own = actor.member_id is not None and actor.member_id == member.id
    if not own:
        require(actor, "member.remove", member.cohort_id)
    elif posts is not None:
        raise Forbidden("the charter decides what happens to your posts", field="posts")
    if posts is not None and posts not in ("keep", "remove"):
        raise Invalid("posts must be 'keep' or 'remove'", field="posts")
    reason = reason.strip()
    if len(reason) > 500:
        raise Invalid("a reason is limited to 500 characters", field="reason")
    if not own and not reason:
        raise Invalid("an instructor gives a reason when a member is made to leave", field="reason")
    report = LeaveReport(member.id)
    # The cohort's open rounds first (as closing a round locks a round, then members), so
    # that two leaves take turns over the backup pool (services/leaving_reviews.py).
    rounds = lock_open_rounds(session, member.cohort_id)
    # The row, locked (PostgreSQL; SQLite's writers queue anyway): of two requests to leave
    # at once, the second waits and then finds the member already gone.
    session.refresh(member, with_for_update=True)
    if member.left_at is not None:
        report.already = True
        report.posts = "unchanged"
        return report
    cohort = session.get(Cohort, member.cohort_id)
    if cohort is None:
        raise NotFound("no such cohort")
    rule: PostsRule = "remove" if posts == "remove" else "keep"
    if posts is None:
        rule = posts_rule(cohort, settings)
    report.posts = rule
    now = utcnow()
    report.tokens_revoked = revoke_all_tokens(session, member)
    report.emails_cancelled = _count(
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.member_id == member.id, OutboxMessage.state.in_(_UNSENT))
            .values(state="cancelled", last_error="the member left the cohort")
            .execution_options(synchronize_session=False)
        )
    )
    if rule == "remove":  # pilots first: a default title is known by the post it came from
        remove_pilot_texts(session, member)
        report.posts_removed = _count(
            session.execute(
                update(Post)
                .where(Post.author_id == member.id, Post.deleted.is_(False))
                .values(
                    body_md="",
                    body_html="",
                    deleted=True,
                    hidden_reason=REMOVED_NOTE,
                    request_key=None,
                    edited_at=now,
                )
                .execution_options(synchronize_session=False)
            )
        )
    # Posts that were never published (held, or not approved) leave with them, whatever the
    # rule: nobody else ever saw them (services/moderation_hold.py).
    session.execute(
        delete(HeldPost)
        .where(HeldPost.author_id == member.id, HeldPost.status != "approved")
        .execution_options(synchronize_session=False)
    )
    owed = move_owed_reviews(session, member, rounds, settings or PrivacySettings())
    report.owed_reviews = sorted(owed.moved.keys() | owed.left.keys())
    report.reviews_moved, report.reviews_left = owed.moved, owed.why
    if owed.left:  # whoever asked, the instructors learn it: a learner leaving tells no one else
        instructors = session.scalars(
            select(Member.id).where(
                Member.cohort_id == member.cohort_id,
                Member.role == "instructor",
                Member.active.is_(True),
                Member.id != member.id,
            )
        )
        data = {
            "assignments": sorted(owed.left),
            "count": sum(owed.left.values()),
            "reasons": dict(owed.why),
        }
        notify_members(session, "reviews_orphaned", {i: data for i in instructors})
    report.pilots_orphaned = orphan_pilots(session, member)
    member.name = FORMER_MEMBER
    member.email = None
    member.team = ""
    member.directory_opt_in, member.directory_skills = False, []  # what the directory showed
    member.email_pref = "none"
    member.active = False
    member.left_at = now
    member.updated_at = now
    record(
        session,
        member.cohort_id,
        actor.member_id,
        "member.leave",
        member,
        by="self" if own else ("system" if actor.is_system else "instructor"),
        reason=reason,
        posts=rule,
        posts_removed=report.posts_removed,
        owed_reviews=report.owed_reviews,
        reviews_moved=report.reviews_moved,
        pilots_orphaned=report.pilots_orphaned,
    )
    session.flush()
    return report
