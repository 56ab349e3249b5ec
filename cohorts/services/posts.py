"""Posting, editing, deleting, flagging and moderating, with every rule enforced here.
Reacting is ``reactions`` (``react`` and ``unreact`` stay importable from here)."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Cohort, Flag, HeldPost, Post, Thread, utcnow
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.community_guests import (
    TOPIC_KIND,
    author_cohort_id,
    claim_topic_name,
    reach_acting,
    thread_mentions,
)
from nbcohort.cohorts.services.errors import Forbidden, Invalid, ServiceError
from nbcohort.cohorts.services.moderation_gate import PostingTooFast, check_posting
from nbcohort.cohorts.services.moderation_hold import held_resent, hold_post
from nbcohort.cohorts.services.notifications import notify_post
from nbcohort.cohorts.services.post_insert import check_key, insert_post, sent_before
from nbcohort.cohorts.services.reactions import react, unreact
from nbcohort.cohorts.services.threads import clean_anchor
from nbcohort.cohorts.services.unique import add_unique
from nbcohort.cohorts.services.visibility import reach_post

__all__ = [
    "clean_body",
    "create_post",
    "delete_post",
    "edit_post",
    "flag_post",
    "get_post",
    "moderate_post",
    "react",
    "unreact",
]


_ASCII_VISIBLE = re.compile(r"[!-~]")  # any printable ASCII character but space
_INVISIBLE = ("Cf", "Cc", "Zs")


def clean_body(body: object, rules: CommunitySettings) -> str:
    """Post text: a string with something visible in it, within the size limit."""
    if not isinstance(body, str):
        raise Invalid("body must be text", field="body")
    body = body.replace("\r\n", "\n")
    if len(body) > rules.max_post_chars:
        raise Invalid(
            f"a post is limited to {rules.max_post_chars} characters; this one has {len(body)}",
            field="body",
        )
    if not _ASCII_VISIBLE.search(body) and not any(
        unicodedata.category(ch) not in _INVISIBLE and not ch.isspace() for ch in body
    ):
        raise Invalid("a post cannot be empty", field="body")
    return body


def get_post(
    session: Session, actor: Actor, post_id: int, rules: CommunitySettings | None = None
) -> Post:
    """A post the actor may read (``visibility.reach_post``: another cohort's posts are not
    found, but for its community topics' read as a guest; unopened prompts' answers neither,
    others' answers only once one has answered)."""
    return reach_acting(session, actor, post_id, "read", rules)[1]


_AT_ANCHOR = (Thread.cohort_id == bindparam("cohort_id"), Thread.anchor == bindparam("anchor"))
_THREAD_AT = select(Thread).where(*_AT_ANCHOR)
_THREAD_ROW_AT = select(Thread.id, Thread.locked, Thread.kind).where(*_AT_ANCHOR)


def create_post(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    anchor: str,
    body: object,
    *,
    parent_id: int | None = None,
    title: str = "",
    rules: CommunitySettings | None = None,
    kind: str | None = None,
    request_key: str | None = None,
    approved: bool = False,
) -> Post | HeldPost:
    """Post to the thread at ``anchor``, creating the thread with its first post.

    A reply to a reply joins its top-level post: threads keep one level of replies. With a
    ``request_key`` (the client's name for this post), sending the same post again returns
    the one already written, so a member who resends after a lost answer posts once.

    A new member's post goes through the charter's rules first (``moderation_gate``): over
    their posts per hour it is refused (429), and one of their first posts is kept for
    approval and returned as a ``HeldPost`` that no one else sees. ``approved``: a held post
    being published (``moderation_hold``), which has been through them.
    """
    rules = rules or CommunitySettings()
    # Sponsors reply (under a sponsor label) but start no thread of their own.
    require(actor, "post.create" if parent_id is None else "post.reply", cohort.id)
    if actor.member_id is None:
        raise Forbidden("only members post")
    anchor = clean_anchor(anchor)
    if anchor.startswith("prompt/") and kind != "prompt":
        raise Invalid("prompt/... threads are answered through the prompt", field="anchor")
    text = clean_body(body, rules)
    if request_key is not None:
        check_key(request_key)
    hold = False
    if not approved:
        try:
            hold = check_posting(session, actor, cohort)
        except PostingTooFast:
            # A resend of a post already written (or held) is answered, never refused.
            if request_key is not None:
                sent = sent_before(session, actor, request_key, anchor, text, parent_id)
                again = sent or held_resent(session, actor, request_key, anchor, text)
                if again is not None:
                    return again
            raise

    def find() -> Thread | None:
        return session.scalar(_THREAD_AT, {"cohort_id": cohort.id, "anchor": anchor})

    # The common case, an existing thread, needs only its id and lock: a row, not an object.
    thread: Any = (
        session.connection()
        .execute(_THREAD_ROW_AT, {"cohort_id": cohort.id, "anchor": anchor})
        .first()
    )
    parent = None
    if parent_id is not None:
        parent = _reply_to(session, actor, parent_id, rules)
        if thread is None or parent.thread_id != thread.id:
            raise Invalid(f"post {parent_id} is not in thread {anchor!r}", field="parent_id")
        if parent.parent_id is not None:
            parent = session.get(Post, parent.parent_id)
    if hold:  # kept apart until approved: no thread is made, nobody is notified
        if thread is not None and thread.locked:
            raise Forbidden(f"thread {anchor!r} is locked")
        sent = (
            sent_before(session, actor, request_key, anchor, text, parent_id)
            if (request_key is not None)
            else None
        )
        if sent is not None:
            return sent
        return hold_post(
            session,
            actor,
            cohort,
            anchor=anchor,
            kind=kind,
            title=title,
            parent_id=parent.id if parent is not None else None,
            text=text,
            request_key=request_key,
        )
    if thread is None:
        kind = kind or ("topic" if anchor.startswith("topic/") else "section")
        if kind == TOPIC_KIND:  # one topic of a name in the community, however started
            claim_topic_name(session, cohort, anchor)
        new = Thread(
            cohort_id=cohort.id,
            anchor=anchor,
            kind=kind,
            title=title.strip()[:200],
            created_by=actor.member_id,
        )
        made, created = add_unique(session, new, find)
        if created:
            record(session, cohort.id, actor.member_id, "thread.create", made, anchor=anchor)
        thread = made
    if thread.locked:
        if request_key is not None:  # written before the lock, the member hearing back?
            sent = sent_before(session, actor, request_key, anchor, text, parent_id)
            if sent is not None:
                return sent
        raise Forbidden(f"thread {anchor!r} is locked")
    topic = thread.kind == TOPIC_KIND  # a community topic: logged in its author's cohort
    mentioned = thread_mentions(
        session, cohort.id, thread.kind, text, author=actor.member_id, thread_id=thread.id
    )
    post = insert_post(
        session,
        {
            "thread_id": thread.id,
            "author_id": actor.member_id,
            "parent_id": parent.id if parent is not None else None,
            "body_md": text,
            "body_html": render_markdown(text, mentioned),
            "created_at": utcnow(),
            "edited_at": None,
            "deleted": False,
            "hidden": False,
            "hidden_reason": "",
            "request_key": request_key,
        },
    )
    if post is None:  # written before under this key (perhaps a moment ago, concurrently)
        assert request_key is not None
        sent = sent_before(session, actor, request_key, anchor, text, parent_id)
        assert sent is not None  # the conflicting row is committed: it is seen now
        return sent
    notify_post(session, post, mentioned, parent)
    record(
        session,
        author_cohort_id(session, actor, cohort.id) if topic else cohort.id,
        actor.member_id,
        "post.create",
        post,
        thread=thread.id,
        anchor=anchor,
        reply=parent is not None,
        chars=len(text),
        mentions=sorted(mentioned.values()),
    )
    return post


def _reply_to(session: Session, actor: Actor, parent_id: int, rules: CommunitySettings) -> Post:
    """The post a reply answers; refusals name ``parent_id``, the field the member sent."""
    try:
        return reach_post(session, actor, parent_id, "reply", rules)
    except ServiceError as exc:
        exc.field = "parent_id"
        raise


def edit_post(
    session: Session,
    actor: Actor,
    post_id: int,
    body: object,
    rules: CommunitySettings | None = None,
) -> Post:
    """Edit one's own post. Nobody edits someone else's words, staff included."""
    rules = rules or CommunitySettings()
    _acting, post = reach_acting(session, actor, post_id, "edit", rules)
    if post.author_id != actor.member_id:
        raise Forbidden("you can only edit your own posts")
    text = clean_body(body, rules)
    place = session.execute(
        select(Thread.cohort_id, Thread.kind).where(Thread.id == post.thread_id)
    ).one()
    cohort_id = place.cohort_id
    mentioned = thread_mentions(
        session,
        cohort_id,
        place.kind,
        text,
        author=actor.member_id,
        thread_id=post.thread_id,
    )
    post.body_md, post.body_html = text, render_markdown(text, mentioned)
    post.edited_at = utcnow()
    notify_post(session, post, mentioned, None)
    where = actor.cohort_id or cohort_id  # a guest's edit counts in their own cohort
    record(session, where, actor.member_id, "post.edit", post, chars=len(text))
    return post


def delete_post(
    session: Session,
    actor: Actor,
    post_id: int,
    reason: str = "",
    rules: CommunitySettings | None = None,
) -> Post:
    """Delete one's own post, or any post as staff; replies keep their place."""
    acting, post = reach_acting(
        session, actor, post_id, "delete", rules
    )  # a guest: no staff rights
    own = post.author_id == actor.member_id
    if not own:
        require(acting, "post.moderate")
        if not reason.strip():
            raise Invalid("say why you delete someone else's post", field="reason")
    if not post.deleted:
        post.deleted = True
        cohort_id = session.scalar(select(Thread.cohort_id).where(Thread.id == post.thread_id))
        record(
            session,
            cohort_id or 0,
            actor.member_id,
            "post.delete",
            post,
            own=own,
            reason=reason.strip(),
        )
    return post


def flag_post(
    session: Session,
    actor: Actor,
    post_id: int,
    reason: str = "",
    rules: CommunitySettings | None = None,
) -> Post:
    """Flag a post for review; enough distinct flags hide it until a facilitator looks."""
    rules = rules or CommunitySettings()
    acting, post = reach_acting(session, actor, post_id, "flag", rules, "post.flag")
    if post.author_id == actor.member_id:
        raise Invalid("you cannot flag your own post (edit or delete it instead)", field="post_id")
    if len(reason) > 500:
        raise Invalid("a flag reason is limited to 500 characters", field="reason")
    flag, created = add_unique(
        session,
        Flag(post_id=post.id, member_id=actor.member_id, reason=reason.strip()),
        lambda: session.scalar(
            select(Flag).where(Flag.post_id == post.id, Flag.member_id == actor.member_id)
        ),
    )
    if not created:
        if flag.resolved_at is None:
            return post  # flagging twice is a no-op
        # A restored post can be flagged again (it may have been edited since).
        flag.resolved_at, flag.resolved_by = None, None
        flag.reason, flag.created_at = reason.strip(), utcnow()
    record(session, actor.cohort_id or 0, actor.member_id, "post.flag", post)
    session.flush()
    open_flags = session.scalar(
        select(func.count())
        .select_from(Flag)
        .where(Flag.post_id == post.id, Flag.resolved_at.is_(None))
    )
    if not post.hidden and (open_flags or 0) >= rules.flag_threshold:
        post.hidden = True
        post.hidden_reason = f"hidden after {open_flags} flags, pending a facilitator's review"
        record(session, acting.cohort_id or 0, None, "post.autohide", post, flags=open_flags)
    return post


def moderate_post(session: Session, actor: Actor, post_id: int, action: str, reason: str) -> Post:
    """Hide or restore a post (staff only); every action is logged with who and why."""
    require(actor, "post.moderate", actor.cohort_id if not actor.is_system else None)
    if action not in ("hide", "restore"):
        raise Invalid("action must be 'hide' or 'restore'", field="action")
    if not reason.strip():
        raise Invalid("a moderation action needs a reason", field="reason")
    post = reach_post(session, actor, post_id, "moderate")
    post.hidden = action == "hide"
    post.hidden_reason = reason.strip() if post.hidden else ""
    if action == "restore":
        for flag in session.scalars(
            select(Flag).where(Flag.post_id == post.id, Flag.resolved_at.is_(None))
        ):
            flag.resolved_at, flag.resolved_by = utcnow(), actor.member_id
    cohort_id = session.scalar(select(Thread.cohort_id).where(Thread.id == post.thread_id))
    record(session, cohort_id or 0, actor.member_id, f"post.{action}", post, reason=reason.strip())
    return post
