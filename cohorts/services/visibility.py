"""Who may see a post and act on it: the one decision every route that reaches a post makes.

Reading a post by id, replying to it, reacting, flagging, editing, deleting and moderating
all go through ``reach_post``, so a rule about posts holds however a member gets there:

- another cohort's posts do not exist (404);
- an answer to a micro-prompt is seen only by its author, staff, and members who may see
  the prompt's answers: the prompt has opened and, with ``prompt_answers_first``, they have
  answered it themselves (403 that says so; a prompt not yet open: 404);
- a hidden post (by flags or a facilitator) keeps its place but takes no reply or
  reaction until staff restore it (flags still count); a deleted post takes no reply,
  reaction, flag or edit;
- moderation is for staff.

What a member may see of a post they reach (hidden text, Markdown source) is
``pages.post_view``'s business; this module decides whether they reach it at all.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Post, Prompt, Thread, utcnow
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Forbidden, Invalid, NotFound

__all__ = ["Action", "answered_prompt", "prompt_answers_visible", "prompt_opened", "reach_post"]

Action = Literal["read", "reply", "react", "unreact", "flag", "edit", "delete", "moderate"]
_NEEDS_LIVE: frozenset[Action] = frozenset({"reply", "react", "flag", "edit"})
_NEEDS_SHOWN: frozenset[Action] = frozenset({"reply", "react"})

_POST_AND_THREAD = (
    select(Post, Thread.cohort_id, Thread.kind, Thread.anchor)
    .join(Thread, Post.thread_id == Thread.id)
    .where(Post.id == bindparam("post_id"))
)


def reach_post(
    session: Session,
    actor: Actor,
    post_id: int,
    action: Action,
    rules: CommunitySettings | None = None,
) -> Post:
    """The post ``actor`` wants to ``action``, or the refusal that says why they may not."""
    row = session.execute(_POST_AND_THREAD, {"post_id": post_id}).first()
    if row is None or (not actor.is_system and row.cohort_id != actor.cohort_id):
        raise NotFound(f"no post {post_id}", field="post_id")
    post: Post = row[0]
    staff = actor.can("post.moderate")
    if action == "moderate":
        require(actor, "post.moderate", None if actor.is_system else row.cohort_id)
    own = actor.member_id is not None and post.author_id == actor.member_id
    if row.kind == "prompt" and not staff and not own:
        _check_prompt_answer(session, actor, row.cohort_id, row.anchor, post_id, rules)
    if action in _NEEDS_LIVE and post.deleted:
        raise Invalid(f"post {post_id} was deleted", field="post_id")
    if action in _NEEDS_SHOWN and post.hidden and not staff:
        raise Forbidden(f"post {post_id} is hidden until a facilitator has looked at it")
    return post


def _check_prompt_answer(
    session: Session,
    actor: Actor,
    cohort_id: int,
    anchor: str,
    post_id: int,
    rules: CommunitySettings | None,
) -> None:
    key = anchor.removeprefix("prompt/")
    prompt = session.scalar(select(Prompt).where(Prompt.cohort_id == cohort_id, Prompt.key == key))
    if prompt is None or not prompt_opened(prompt, actor):
        raise NotFound(f"no post {post_id}", field="post_id")
    if not prompt_answers_visible(session, actor, prompt, rules):
        raise Forbidden(
            f"post {post_id} answers the micro-prompt {key!r}: answer it yourself to see "
            "the others' answers"
        )


def prompt_opened(prompt: Prompt, actor: Actor) -> bool:
    """Whether ``actor`` may see ``prompt`` yet: staff prepare prompts before they open."""
    return actor.can("post.moderate") or prompt.opens_at is None or prompt.opens_at <= utcnow()


def answered_prompt(session: Session, actor: Actor, prompt: Prompt) -> Post | None:
    """The actor's own answer to ``prompt`` (its thread's top-level post by them), if any."""
    if actor.member_id is None:
        return None
    return session.scalar(
        select(Post)
        .join(Thread, Post.thread_id == Thread.id)
        .where(
            Thread.cohort_id == prompt.cohort_id,
            Thread.anchor == f"prompt/{prompt.key}",
            Post.author_id == actor.member_id,
            Post.parent_id.is_(None),
            Post.deleted.is_(False),
        )
        .limit(1)
    )


def prompt_answers_visible(
    session: Session,
    actor: Actor,
    prompt: Prompt,
    rules: CommunitySettings | None = None,
    mine: Post | None = None,
) -> bool:
    """Whether ``actor`` may read others' answers to ``prompt`` (``mine``: their answer, when
    the caller has looked it up already)."""
    rules = rules or CommunitySettings()
    return (
        not rules.prompt_answers_first
        or prompt.show_answers_before_answering
        or actor.can("post.moderate")
        or (mine or answered_prompt(session, actor, prompt)) is not None
    )
