"""Micro-prompts: one short question a day; answers are posts in the prompt's own thread."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Cohort, HeldPost, Post, Prompt, utcnow
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Invalid, NotFound
from nbcohort.cohorts.services.keyed_rows import sync_keyed
from nbcohort.cohorts.services.posts import create_post, edit_post
from nbcohort.cohorts.services.threads import post_dict, thread_page
from nbcohort.cohorts.services.visibility import (
    answered_prompt,
    prompt_answers_visible,
    prompt_opened,
)

__all__ = ["answer_prompt", "current_prompt_key", "get_prompt", "sync_prompts"]

_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_DAY = re.compile(r"^day-(\d{1,3})$")


def _opens_at(cohort: Cohort, key: str) -> datetime | None:
    day = _DAY.match(key)
    if cohort.starts_on is None or day is None:
        return None
    start = datetime.combine(cohort.starts_on, time(0, 0), tzinfo=UTC)
    return start + timedelta(days=int(day.group(1)) - 1)


def sync_prompts(session: Session, actor: Actor, cohort: Cohort, prompts: dict[str, str]) -> int:
    """Create or update the cohort's prompts from ``{key: text}`` (course.toml's [prompts]);
    returns how many changed."""
    require(actor, "prompt.manage", cohort.id)
    for key, text in prompts.items():
        if not _KEY.match(key):
            raise Invalid(
                f"prompt key {key!r} must be lowercase letters, digits and '-'", field="key"
            )
        if not isinstance(text, str) or not text.strip():
            raise Invalid(f"prompt {key!r} has no text", field=key)
    return sync_keyed(
        session,
        actor,
        cohort,
        Prompt,
        {k: t.strip() for k, t in prompts.items()},
        column="text",
        verb="prompt.sync",
        on_create=lambda key: {"opens_at": _opens_at(cohort, key)},
    )


def current_prompt_key(session: Session, cohort: Cohort) -> str | None:
    """The newest prompt that has opened (today's, on a cohort with a start date)."""
    now = utcnow()
    return session.scalar(
        select(Prompt.key)
        .where(Prompt.cohort_id == cohort.id, Prompt.opens_at.is_not(None), Prompt.opens_at <= now)
        .order_by(Prompt.opens_at.desc())
        .limit(1)
    )


def _prompt(session: Session, actor: Actor, cohort: Cohort, key: str | None) -> Prompt:
    """The prompt ``key`` (today's when None), if it has opened for ``actor``."""
    key = key or current_prompt_key(session, cohort)
    row = (
        None
        if key is None
        else session.scalar(select(Prompt).where(Prompt.cohort_id == cohort.id, Prompt.key == key))
    )
    if row is None or not prompt_opened(row, actor):
        raise NotFound(
            f"no micro-prompt {key!r} in this cohort" if key else "no micro-prompt has opened yet",
            field="key",
        )
    return row


def get_prompt(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    key: str | None = None,
    rules: CommunitySettings | None = None,
    before: int | None = None,
) -> dict[str, Any]:
    """The prompt, the actor's answer, and the others' answers once the actor may see them."""
    rules = rules or CommunitySettings()
    require(actor, "thread.read", cohort.id)
    prompt = _prompt(session, actor, cohort, key)
    mine = answered_prompt(session, actor, prompt)
    see_all = prompt_answers_visible(session, actor, prompt, rules, mine)
    page = thread_page(
        session, actor, cohort, f"prompt/{prompt.key}", before=before, limit=rules.page_size
    )
    return {
        "key": prompt.key,
        "text": prompt.text,
        "opens_at": prompt.opens_at.isoformat() if prompt.opens_at else None,
        "my_answer": post_dict(mine, actor) if mine is not None else None,
        "answers_visible": see_all,
        "answer_count": page["total"],
        "answers": page["posts"] if see_all else [],
        "has_more": page["has_more"] if see_all else False,
    }


def answer_prompt(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    key: str,
    body: object,
    rules: CommunitySettings | None = None,
) -> Post | HeldPost:
    """Answer a prompt; answering again edits the earlier answer (one answer per member).
    A new member's first answer may wait for approval (``HeldPost``, see create_post)."""
    require(actor, "prompt.answer", cohort.id)
    prompt = _prompt(session, actor, cohort, key)
    mine = answered_prompt(session, actor, prompt)
    if mine is not None:
        return edit_post(session, actor, mine.id, body, rules)
    return create_post(
        session,
        actor,
        cohort,
        f"prompt/{prompt.key}",
        body,
        rules=rules,
        kind="prompt",
        title=prompt.text[:200],
    )
