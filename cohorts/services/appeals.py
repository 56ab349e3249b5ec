"""Appeals: a member asks, once, for a decision about their own post to be looked at
again: a post removed or hidden by a moderator (or by flags), a post flagged, or a post held
and not approved. Staff grant it (the post comes back, or the held post is published) or deny
it, with a reason the member reads. Every text is sanitized through the one sanitizer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Activity, Appeal, Cohort, Flag, HeldPost, Post, Thread, utcnow
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.moderation_hold import clean_reason, publish_held, tell_author
from nbcohort.cohorts.services.unique import add_unique
from nbcohort.cohorts.services.visibility import reach_post

__all__ = ["appeal_dict", "appealable_posts", "decide_appeal", "file_appeal", "my_appeals"]


def appeal_dict(appeal: Appeal) -> dict[str, Any]:
    return {
        "id": appeal.id,
        "subject": appeal.subject,
        "post_id": appeal.post_id,
        "held_id": appeal.held_id,
        "html": appeal.body_html,
        "created_at": appeal.created_at.isoformat(),
        "status": appeal.status,
        "answer_html": appeal.answer_html,
        "decided_at": appeal.decided_at.isoformat() if appeal.decided_at else None,
    }


def _removed_by_others(session: Session, post: Post) -> bool:
    """Whether ``post`` was deleted by a moderator (the log says who deleted it)."""
    rows = session.scalars(
        select(Activity.data).where(
            Activity.verb == "post.delete",
            Activity.object_type == "post",
            Activity.object_id == post.id,
        )
    )
    return any(not (data or {}).get("own", True) for data in rows)


def _decided(session: Session, post: Post) -> bool:
    flagged = session.scalar(select(Flag.id).where(Flag.post_id == post.id).limit(1))
    return (
        post.hidden or flagged is not None or (post.deleted and _removed_by_others(session, post))
    )


def appealable_posts(session: Session, actor: Actor, cohort: Cohort) -> list[dict[str, Any]]:
    """The actor's own posts a moderator or the flags hid or removed, newest first (at most
    50): what they may appeal, with the reason given. The text is theirs, so they read it."""
    if actor.member_id is None:
        return []
    rows = session.execute(
        select(Post, Thread.anchor)
        .join(Thread, Thread.id == Post.thread_id)
        .where(
            Thread.cohort_id == cohort.id,
            Post.author_id == actor.member_id,
            (Post.hidden.is_(True)) | (Post.deleted.is_(True)),
        )
        .order_by(Post.id.desc())
        .limit(200)
    ).all()
    found = []
    for post, anchor in rows:
        removed = post.deleted and _removed_by_others(session, post)
        if not (removed or (post.hidden and not post.deleted)):
            continue  # deleted by its author: nothing to appeal
        found.append(
            {
                "post_id": post.id,
                "anchor": anchor,
                "html": "" if post.deleted else post.body_html,
                "state": "removed" if removed else "hidden",
                "reason": post.hidden_reason,
                "created_at": post.created_at.isoformat(),
            }
        )
        if len(found) == 50:
            break
    return found


def file_appeal(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    text: object,
    *,
    post_id: int | None = None,
    held_id: int | None = None,
) -> Appeal:
    """Appeal a decision about one's own post (``post_id``) or held post (``held_id``)."""
    require(actor, "appeal.file", cohort.id)
    if (post_id is None) == (held_id is None):
        raise Invalid("appeal either a post (post_id) or a held post (held_id)", field="post_id")
    body = clean_reason(text, "text")
    if post_id is not None:
        post = reach_post(session, actor, post_id, "read")
        if post.author_id != actor.member_id:
            raise Forbidden("you can only appeal a decision about your own post")
        if not _decided(session, post):
            raise Invalid(
                f"post {post_id} was not removed, hidden or flagged: there is nothing to appeal",
                field="post_id",
            )
        subject = f"post:{post_id}"
    else:
        held = session.get(HeldPost, held_id)
        if held is None or held.cohort_id != cohort.id:
            raise NotFound(f"no held post {held_id}", field="held_id")
        if held.author_id != actor.member_id:
            raise Forbidden("you can only appeal a decision about your own post")
        if held.status != "rejected":
            raise Invalid(
                f"held post {held_id} is {held.status}, not rejected: there is nothing to appeal",
                field="held_id",
            )
        subject = f"held:{held_id}"

    def find() -> Appeal | None:
        return session.scalar(select(Appeal).where(Appeal.subject == subject))

    row = Appeal(
        cohort_id=cohort.id,
        member_id=actor.member_id,
        subject=subject,
        post_id=post_id,
        held_id=held_id,
        body_html=render_markdown(body),
        created_at=utcnow(),
        status="open",
        answer_html="",
    )
    appeal, created = add_unique(session, row, find)
    if not created:
        raise Conflict(
            f"you appealed this once already (appeal {appeal.id}, {appeal.status}): "
            "an appeal is heard once",
            field="post_id" if post_id is not None else "held_id",
        )
    session.flush()
    record(session, cohort.id, actor.member_id, "appeal.file", appeal, subject=subject)
    return appeal


def my_appeals(session: Session, actor: Actor, cohort: Cohort) -> list[dict[str, Any]]:
    if actor.member_id is None:
        return []
    rows = session.scalars(
        select(Appeal)
        .where(Appeal.cohort_id == cohort.id, Appeal.member_id == actor.member_id)
        .order_by(Appeal.id.desc())
        .limit(100)
    )
    return [appeal_dict(a) for a in rows]


def decide_appeal(
    session: Session,
    actor: Actor,
    appeal_id: int,
    decision: str,
    reason: object,
    rules: CommunitySettings | None = None,
) -> Appeal:
    """Grant (the post comes back; a held post is published) or deny an appeal, with a reason
    the member reads (staff only; never one's own appeal)."""
    require(actor, "appeal.decide", None if actor.is_system else actor.cohort_id)
    if decision not in ("grant", "deny"):
        raise Invalid("decision must be 'grant' or 'deny'", field="decision")
    text = clean_reason(reason)
    appeal = session.scalar(select(Appeal).where(Appeal.id == appeal_id).with_for_update())
    if appeal is None or (not actor.is_system and appeal.cohort_id != actor.cohort_id):
        raise NotFound(f"no appeal {appeal_id}", field="appeal_id")
    if appeal.member_id == actor.member_id:
        raise Forbidden("you cannot decide your own appeal: another facilitator decides")
    if appeal.status != "open":
        raise Conflict(f"appeal {appeal_id} was already {appeal.status}", field="appeal_id")
    appeal.status = "granted" if decision == "grant" else "denied"
    appeal.decided_at, appeal.decided_by = utcnow(), actor.member_id
    appeal.answer_html = render_markdown(text)
    if decision == "grant":
        _undo(session, actor, appeal, rules)
    record(session, appeal.cohort_id, actor.member_id, f"appeal.{appeal.status}", appeal)
    post = session.get(Post, appeal.post_id) if appeal.post_id is not None else None
    held = session.get(HeldPost, appeal.held_id) if appeal.held_id is not None else None
    anchor = held.anchor if held is not None else _anchor_of(session, post)
    tell_author(session, actor, appeal.member_id, post.id if post else None, anchor,
                appeal.status, "appeal", text)  # fmt: skip
    return appeal


def _anchor_of(session: Session, post: Post | None) -> str:
    thread = session.get(Thread, post.thread_id) if post is not None else None
    return thread.anchor if thread is not None else ""


def _undo(session: Session, actor: Actor, appeal: Appeal, rules: CommunitySettings | None) -> None:
    """What granting an appeal gives back: the post shown again, its flags resolved."""
    if appeal.held_id is not None:
        held = session.get_one(HeldPost, appeal.held_id)
        held.status = "held"  # decided again, now by the appeal
        publish_held(session, actor, held, rules, tell=False)  # the appeal's answer tells
        return
    post = session.get_one(Post, appeal.post_id)
    now = utcnow()
    for flag in session.scalars(
        select(Flag).where(Flag.post_id == post.id, Flag.resolved_at.is_(None))
    ):
        flag.resolved_at, flag.resolved_by = now, actor.member_id
    post.hidden, post.hidden_reason = False, ""
    if post.deleted and post.body_md:  # removed by a moderator, its text kept
        post.deleted = False
    record(session, appeal.cohort_id, actor.member_id, "post.restore", post, appeal=appeal.id)
