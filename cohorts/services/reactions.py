"""Reactions to a post ("helpful", "+1", ...: ``CommunitySettings.reactions``): adding one
(once per member and kind, also from a guest in another cohort's community topic) and taking
it back, with every rule enforced here. Logged ``post.react`` / ``post.unreact``; badges and
metrics read those."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Reaction
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.community_guests import acting_on_post, reach_acting
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.unique import insert_if_absent
from nbcohort.cohorts.services.visibility import reach_post

__all__ = ["react", "unreact"]

_REACTION = cast(Table, Reaction.__table__)


def react(
    session: Session,
    actor: Actor,
    post_id: int,
    kind: str,
    rules: CommunitySettings | None = None,
) -> bool:
    """Add a reaction; reacting twice is a no-op. Returns whether a reaction was added."""
    rules = rules or CommunitySettings()
    acting = acting_on_post(session, actor, post_id)  # a guest in another cohort's topic
    require(acting, "post.react", acting.cohort_id)
    if kind not in rules.reactions:
        raise Invalid(f"reaction {kind!r} is not one of {', '.join(rules.reactions)}", field="kind")
    post = reach_post(session, acting, post_id, "react", rules)
    row = {"post_id": post.id, "member_id": actor.member_id, "kind": kind}
    if not insert_if_absent(session, _REACTION, row):
        return False
    record(
        session,
        actor.cohort_id or 0,
        actor.member_id,
        "post.react",
        post,
        kind=kind,
        author=post.author_id,
    )
    return True


def unreact(
    session: Session,
    actor: Actor,
    post_id: int,
    kind: str,
    rules: CommunitySettings | None = None,
) -> bool:
    """Take one's reaction back (allowed on any post one can reach, hidden ones included)."""
    _acting, post = reach_acting(session, actor, post_id, "unreact", rules, "post.react")
    row = session.scalar(
        select(Reaction).where(
            Reaction.post_id == post.id,
            Reaction.member_id == actor.member_id,
            Reaction.kind == kind,
        )
    )
    if row is None:
        return False
    session.delete(row)
    record(session, actor.cohort_id or 0, actor.member_id, "post.unreact", post, kind=kind)
    return True
