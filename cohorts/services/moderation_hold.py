"""Posts held for approval: a new member's first posts wait, apart from every other post,
until a champion or facilitator approves them (then they are written as posts through the
one posting path) or rejects them with a reason the author reads.

Only the author and those who moderate ever see a held post: it lives in ``held_post``,
which no thread page, list, count, search, live update, digest, metric or export reads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Cohort, HeldPost, Member, Notification, Post, utcnow
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.community_guests import guest_in
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.unique import add_unique

__all__ = [
    "MAX_REASON_CHARS",
    "WAITING",
    "approve_held",
    "clean_reason",
    "held_dict",
    "held_resent",
    "hold_post",
    "my_held",
    "publish_held",
    "reject_held",
]

MAX_REASON_CHARS = 1000
WAITING = "waiting for approval"


def clean_reason(reason: object, field: str = "reason", *, required: bool = True) -> str:
    """A moderator's reason or a member's appeal: text, not empty when required, within the
    limit (the API's own ceiling is larger: this is the rule)."""
    if not isinstance(reason, str):
        raise Invalid(f"{field} must be text", field=field)
    reason = reason.replace("\r\n", "\n").strip()
    if required and not reason:
        says = "say why you appeal" if field == "text" else f"say why: the member reads the {field}"
        raise Invalid(says, field=field)
    if len(reason) > MAX_REASON_CHARS:
        raise Invalid(
            f"{field} is limited to {MAX_REASON_CHARS} characters; this one has {len(reason)}",
            field=field,
        )
    return reason


def held_dict(held: HeldPost, author: Member | None = None) -> dict[str, Any]:
    """A held post as its author or a moderator sees it."""
    status = {"held": WAITING, "approved": "approved", "rejected": "not approved"}
    return {
        "id": held.id,
        "held": True,
        "anchor": held.anchor,
        "parent_id": held.parent_id,
        "title": held.title,
        "html": held.body_html,
        "created_at": held.created_at.isoformat(),
        "status": held.status,
        "status_text": status.get(held.status, held.status),
        "reason_html": held.reason_html,
        "decided_at": held.decided_at.isoformat() if held.decided_at else None,
        "post_id": held.post_id,
        "author": None
        if author is None
        else {"id": author.id, "name": author.name, "username": author.username},
    }


def held_resent(
    session: Session, actor: Actor, key: str, anchor: str, text: str
) -> HeldPost | None:
    """The actor's held post already sent under ``key`` (a resend after a lost answer)."""
    held = session.scalar(
        select(HeldPost).where(HeldPost.author_id == actor.member_id, HeldPost.request_key == key)
    )
    if held is None:
        return None
    if held.body_md != text or held.anchor != anchor:
        raise Invalid(
            f"request key {key!r} already names your held post {held.id}, with other text or "
            "in another place; send a new post with a new key",
            field="request_key",
        )
    return held


def hold_post(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    *,
    anchor: str,
    kind: str | None,
    title: str,
    parent_id: int | None,
    text: str,
    request_key: str | None,
) -> HeldPost:
    """Keep ``text`` for approval instead of posting it (``create_post`` decides when)."""
    assert actor.member_id is not None
    if request_key is not None:
        again = held_resent(session, actor, request_key, anchor, text)
        if again is not None:
            return again
    if kind == "prompt":  # answering a prompt again edits the answer, held or not
        pending = session.scalar(
            select(HeldPost).where(
                HeldPost.author_id == actor.member_id,
                HeldPost.anchor == anchor,
                HeldPost.status == "held",
            )
        )
        if pending is not None:
            pending.body_md, pending.body_html = text, render_markdown(text)
            return pending
    row = HeldPost(
        cohort_id=cohort.id,
        author_id=actor.member_id,
        anchor=anchor,
        kind=kind,
        title=title.strip()[:200],
        parent_id=parent_id,
        body_md=text,
        body_html=render_markdown(text),
        request_key=request_key,
        created_at=utcnow(),
        status="held",
        reason_html="",
    )
    if request_key is None:
        session.add(row)
        session.flush()
    else:
        row, _ = add_unique(
            session, row, lambda: held_resent(session, actor, request_key, anchor, text)
        )
        session.flush()
    record(session, cohort.id, actor.member_id, "post.hold", row, anchor=anchor)
    return row


def my_held(
    session: Session, actor: Actor, cohort: Cohort, anchor: str | None = None
) -> list[dict[str, Any]]:
    """The actor's own posts held or rejected (approved ones are posts now), newest first."""
    if actor.member_id is None:
        return []
    query = select(HeldPost).where(
        HeldPost.cohort_id == cohort.id,
        HeldPost.author_id == actor.member_id,
        HeldPost.status != "approved",
    )
    if anchor is not None:
        query = query.where(HeldPost.anchor == anchor)
    return [held_dict(h) for h in session.scalars(query.order_by(HeldPost.id.desc()).limit(50))]


def _decide(session: Session, actor: Actor, held_id: int) -> HeldPost:
    """The held post ``actor`` may decide on, locked, still waiting."""
    require(actor, "post.approve", None if actor.is_system else actor.cohort_id)
    held = session.scalar(select(HeldPost).where(HeldPost.id == held_id).with_for_update())
    if held is None or (not actor.is_system and held.cohort_id != actor.cohort_id):
        raise NotFound(f"no held post {held_id}", field="held_id")
    if held.author_id == actor.member_id:
        raise Forbidden("you cannot approve or reject your own post: another moderator decides")
    if held.status != "held":
        raise Conflict(f"held post {held_id} was already {held.status}", field="held_id")
    return held


def approve_held(
    session: Session,
    actor: Actor,
    held_id: int,
    rules: CommunitySettings | None = None,
) -> Post:
    """Publish a held post as its author wrote it, where they wrote it (a champion or staff)."""
    held = _decide(session, actor, held_id)
    return publish_held(session, actor, held, rules)


def publish_held(
    session: Session,
    actor: Actor,
    held: HeldPost,
    rules: CommunitySettings | None = None,
    *,
    tell: bool = True,
) -> Post:
    """Write ``held`` as a post by its author (approved, or granted on appeal); ``tell``: the
    author is notified of the approval."""
    from nbcohort.cohorts.services.posts import create_post  # posts imports this module

    author = session.get_one(Member, held.author_id)
    if not author.active:
        raise Conflict("its author has left the cohort: it cannot be published", field="held_id")
    cohort = session.get_one(Cohort, held.cohort_id)
    held.status, held.decided_at, held.decided_by = "approved", utcnow(), actor.member_id
    post = create_post(
        session,
        guest_in(Actor.of(author), cohort.id),  # another cohort's alumna in a community topic
        cohort,
        held.anchor,
        held.body_md,
        parent_id=held.parent_id,
        title=held.title,
        rules=rules,
        kind=held.kind,
        request_key=held.request_key,
        approved=True,
    )
    assert isinstance(post, Post)
    held.post_id = post.id
    record(session, cohort.id, actor.member_id, "post.approve", held, post=post.id)
    if tell:
        tell_author(session, actor, held.author_id, post.id, held.anchor, "approved", "held post")
    return post


def reject_held(session: Session, actor: Actor, held_id: int, reason: object) -> HeldPost:
    """Turn a held post down with a reason its author reads (sanitized); it is never shown
    to anyone else. The author may appeal once."""
    require(actor, "post.approve", None if actor.is_system else actor.cohort_id)
    text = clean_reason(reason)
    held = _decide(session, actor, held_id)
    held.status, held.decided_at, held.decided_by = "rejected", utcnow(), actor.member_id
    held.reason_html = render_markdown(text)
    record(session, held.cohort_id, actor.member_id, "post.reject", held, reason=text)
    tell_author(session, actor, held.author_id, None, held.anchor, "did not approve",
                "held post", text)  # fmt: skip
    return held


def tell_author(
    session: Session,
    actor: Actor,
    member_id: int,
    post_id: int | None,
    anchor: str,
    decision: str,
    what: str,
    reason: str = "",
) -> None:
    """A notification to the member a moderation decision is about, with the reason they read
    (in the notebook, and by email when the cohort mails the ``moderation`` kind)."""
    session.add(
        Notification(
            member_id=member_id,
            kind="moderation",
            post_id=post_id,
            actor_id=actor.member_id,
            data={"anchor": anchor, "decision": decision, "what": what, "reason": reason},
        )
    )
