"""New members' posts, as the charter says (``[charter.moderation]`` in the cohort file):
their first posts held for approval, and at most so many posts an hour while they are new.

``create_post`` asks ``check_posting`` before it writes anything, so the rules hold on every
path that posts (the API, a prompt's answer, the CLI, the demo). A refusal is a 429 whose
``retry_after`` the API sends as Retry-After, and whose message says when the member may post
again, in their own time zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.charter_file import ModerationRules
from nbcohort.cohorts.local_time import in_zone
from nbcohort.cohorts.models import Cohort, HeldPost, Member, Post, utcnow
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import ServiceError
from nbcohort.cohorts.services.rhythm import rhythm_of

__all__ = ["PostingTooFast", "Standing", "check_posting", "moderation_rules", "standing"]

_HOUR = timedelta(hours=1)


class PostingTooFast(ServiceError):
    """A new member over the charter's posts per hour: try again in ``retry_after`` s."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, field="body")
        self.retry_after = retry_after


def moderation_rules(cohort: Cohort) -> ModerationRules:
    """The cohort file's ``[charter.moderation]``; a cohort without one holds and limits
    nothing."""
    spec = rhythm_of(cohort)
    charter = getattr(spec, "charter", None) if spec is not None else None
    rules = getattr(charter, "moderation", None)
    return rules if isinstance(rules, ModerationRules) else ModerationRules()


@dataclass(frozen=True)
class Standing:
    """Where a member stands with the charter's rules for new members."""

    new: bool  # within new_days and (if set) under new_posts
    hold: bool  # their next post waits for approval
    per_hour: int | None  # their limit while new (None: no limit)
    posted_last_hour: int
    retry_after: int | None  # seconds until they may post again, when at the limit
    new_until: datetime | None  # when they stop being new by the clock

    def as_dict(self, zone: str = "UTC") -> dict[str, object]:
        return {
            "new": self.new,
            "held": self.hold,
            "posts_per_hour": self.per_hour,
            "posted_last_hour": self.posted_last_hour,
            "retry_after": self.retry_after,
            "new_until": self.new_until.astimezone(in_zone(zone)).isoformat()
            if self.new_until
            else None,
        }


def standing(
    session: Session, actor: Actor, cohort: Cohort, now: datetime | None = None
) -> Standing:
    """What the rules say about ``actor``'s next post (staff, champions and the local
    administrator are never held or limited)."""
    rules = moderation_rules(cohort)
    if actor.member_id is None or actor.role not in rules.roles:
        return Standing(False, False, None, 0, None, None)
    now = now or utcnow()
    member = session.get_one(Member, actor.member_id)
    written = session.scalar(select(func.count()).where(Post.author_id == actor.member_id)) or 0
    new_until = member.joined_at + timedelta(days=rules.new_days)
    new = now < new_until and (rules.new_posts is None or written < rules.new_posts)
    hold = written < rules.hold_first_posts
    limit = rules.posts_per_hour if new else None
    if limit is None:
        return Standing(new, hold, None, 0, None, new_until if new else None)
    since = now - _HOUR
    times = list(
        session.scalars(
            select(Post.created_at).where(
                Post.author_id == actor.member_id, Post.created_at > since
            )
        )
    ) + list(
        session.scalars(
            select(HeldPost.created_at).where(
                HeldPost.author_id == actor.member_id, HeldPost.created_at > since
            )
        )
    )
    retry = None
    if len(times) >= limit:
        # The hour frees a place when the oldest post that still counts leaves it.
        times.sort()
        frees_at = times[len(times) - limit] + _HOUR
        retry = max(1, math.ceil((frees_at - now).total_seconds()))
    return Standing(new, hold, limit, len(times), retry, new_until)


def check_posting(session: Session, actor: Actor, cohort: Cohort) -> bool:
    """Refuse a new member over their posts per hour (429 with when to try again); return
    whether their post is held for approval."""
    rules = moderation_rules(cohort)
    if actor.member_id is None or actor.role not in rules.roles:
        return False
    if rules.posts_per_hour is not None and session.get_bind().dialect.name == "postgresql":
        # One new member's posts are counted one at a time: two sent at once cannot both
        # take the hour's last place (SQLite's writers already queue).
        # FOR NO KEY UPDATE serialises them all the same, and neither waits on nor blocks the
        # key-share locks that rows referring to the member take (no deadlock with those).
        session.execute(
            select(Member.id).where(Member.id == actor.member_id).with_for_update(key_share=True)
        )
    now = utcnow()
    where = standing(session, actor, cohort, now)
    if where.retry_after is not None:
        again = (now + timedelta(seconds=where.retry_after)).astimezone(in_zone(actor.timezone))
        minutes = math.ceil(where.retry_after / 60)
        raise PostingTooFast(
            f"new members may post {where.per_hour} times an hour (the charter's rule for "
            f"your first {rules.new_days} days); you may post again at {again:%H:%M} "
            f"{again.tzname()} (in {minutes} minute{'s' if minutes != 1 else ''})",
            retry_after=where.retry_after,
        )
    return where.hold
