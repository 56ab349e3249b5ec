"""Search across the cohort's posts, threads and artifacts, as the viewer may see them.

The member's words are words, never query syntax: the query keeps letters and digits only
(quotes, ``*``, ``-``, parentheses and the like separate words; ``NEAR``, ``AND`` or ``OR``
are words to find), and every word must appear (AND). Words are matched whole, without
stemming; SQLite also sets accents aside, PostgreSQL's ``simple`` configuration does not.

What a viewer finds follows the rules every route applies to posts (``visibility.py``):
another cohort's content never; a deleted post's words never (they leave the index); a
hidden post only for staff; an answer to a micro-prompt only for its author, staff, and
members who may read that prompt's answers (``prompt_answers_visible``); a prompt's thread
only once the prompt has opened for them. Results come per kind, most relevant first among
the newest matches (``search_sql.py``), each with a snippet of safe HTML (``snippets.py``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings, SearchSettings
from nbcohort.cohorts.models import Cohort, Post, Prompt, Thread
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.search_sql import Kind, statement
from nbcohort.cohorts.services.snippets import WORD, highlight, plain_text
from nbcohort.cohorts.services.visibility import prompt_answers_visible, prompt_opened

__all__ = ["KINDS", "MAX_LIMIT", "MAX_QUERY_CHARS", "MAX_WORDS", "query_words", "search"]

KINDS: tuple[Kind, ...] = ("post", "thread", "artifact")
MAX_QUERY_CHARS = 200  # a question, not a document
MAX_WORDS = 16  # words searched; the rest of a long query is ignored, and the answer says so
MAX_LIMIT = 50


def query_words(q: object) -> list[str]:
    """The distinct words of ``q`` (lower case, letters and digits), or 422 naming ``q``."""
    if not isinstance(q, str):
        raise Invalid("q must be text", field="q")
    if len(q) > MAX_QUERY_CHARS:
        raise Invalid(f"q must be at most {MAX_QUERY_CHARS} characters", field="q")
    words: list[str] = []
    for word in WORD.findall(unicodedata.normalize("NFKC", q).lower()):
        if word not in words:
            words.append(word)
    if not words:
        raise Invalid("q: type at least one word to search for (letters or digits)", field="q")
    return words


@dataclass
class _Access:
    """What of the cohort's prompt threads a viewer who is not staff may see."""

    me: int
    opened: set[str] = field(default_factory=set)  # prompt threads they may see
    readable: set[str] = field(default_factory=set)  # ...whose answers they may read


def _access(session: Session, actor: Actor, cohort: Cohort, rules: CommunitySettings) -> _Access:
    """The viewer's prompt access, decided prompt by prompt by ``visibility``'s own rules
    (their own answers looked up once, not once per prompt)."""
    me = actor.member_id if actor.member_id is not None else -1
    access = _Access(me)
    mine = {
        anchor: post
        for post, anchor in session.execute(
            select(Post, Thread.anchor)
            .join(Thread, Post.thread_id == Thread.id)
            .where(
                Thread.cohort_id == cohort.id,
                Thread.kind == "prompt",
                Post.author_id == me,
                Post.parent_id.is_(None),
                Post.deleted.is_(False),
            )
        )
    }
    for prompt in session.scalars(select(Prompt).where(Prompt.cohort_id == cohort.id)):
        if not prompt_opened(prompt, actor):
            continue
        anchor = f"prompt/{prompt.key}"
        access.opened.add(anchor)
        if prompt_answers_visible(session, actor, prompt, rules, mine.get(anchor)):
            access.readable.add(anchor)
    return access


def _kinds(kinds: Iterable[str] | None) -> tuple[Kind, ...]:
    if kinds is None:
        return KINDS
    chosen = tuple(k for k in KINDS if k in set(kinds))
    unknown = set(kinds) - set(KINDS)
    if unknown or not chosen:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}", field="kind")
    return chosen


def search(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    q: object,
    *,
    kinds: Iterable[str] | None = None,
    limit: int = 10,
    rules: CommunitySettings | None = None,
    settings: SearchSettings | None = None,
) -> dict[str, Any]:
    """The best ``limit`` matches of each kind for ``q`` that ``actor`` may see."""
    require(actor, "thread.read", cohort.id)
    words = query_words(q)
    chosen = _kinds(kinds)
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    rules, settings = rules or CommunitySettings(), settings or SearchSettings()
    searched, ignored = words[:MAX_WORDS], words[MAX_WORDS:]
    staff = actor.can("post.moderate")
    access = None if staff else _access(session, actor, cohort, rules)
    dialect = session.get_bind().dialect.name
    params: dict[str, Any] = {
        "cohort_id": cohort.id,
        "candidates": settings.ranked_matches,
        "limit": limit,
    }
    if dialect == "sqlite":
        params["match"] = " ".join(f'"{w}"' for w in searched)  # quoted: always a word
    else:
        params["words"] = " ".join(searched)
    if access is not None:
        params.update(me=access.me, readable=sorted(access.readable), opened=sorted(access.opened))
    out: dict[str, Any] = {"q": q, "words": searched, "ignored_words": ignored}
    for kind in KINDS:
        rows: Sequence[Any] = ()
        if kind in chosen:
            rows = session.execute(statement(dialect, kind, staff=staff), params).all()
        out[f"{kind}s"] = [_SHAPE[kind](row, searched) for row in rows]
    return out


def _author(row: Any) -> dict[str, Any]:
    return {
        "id": row.author_id,
        "username": row.username,
        "name": row.name,
        "role": row.role,
        "team": row.team,
        "timezone": row.timezone,
    }


def _prompt_key(kind: str, anchor: str) -> str | None:
    return anchor.removeprefix("prompt/") if kind == "prompt" else None


def _post(row: Any, words: list[str]) -> dict[str, Any]:
    return {
        "kind": "post",
        "id": row.id,
        "thread_id": row.thread_id,
        "parent_id": row.parent_id,
        "anchor": row.anchor,
        "thread_title": row.title,
        "prompt": _prompt_key(row.kind, row.anchor),
        "author": _author(row),
        "created_at": row.created_at.isoformat(),
        "hidden": bool(row.hidden),
        "snippet": highlight(plain_text(row.body_html), words),
    }


def _thread(row: Any, words: list[str]) -> dict[str, Any]:
    return {
        "kind": "thread",
        "id": row.id,
        "anchor": row.anchor,
        "title": row.title,
        "prompt": _prompt_key(row.kind, row.anchor),
        "created_at": row.created_at.isoformat(),
        "snippet": highlight(f"{row.title} · {row.anchor}" if row.title else row.anchor, words),
    }


def _artifact(row: Any, words: list[str]) -> dict[str, Any]:
    tags = row.tags if isinstance(row.tags, list) else []
    description = plain_text(render_markdown(row.description or ""))
    return {
        "kind": "artifact",
        "id": row.id,
        "title": row.title,
        "tags": [str(t) for t in tags],
        "license": row.license,
        "filename": row.filename,
        "size": row.size,
        "author": _author(row),
        "created_at": row.created_at.isoformat(),
        "title_html": highlight(row.title, words, span=60),
        "snippet": highlight(" ".join([description, *map(str, tags), row.filename]), words),
    }


_SHAPE = {"post": _post, "thread": _thread, "artifact": _artifact}
