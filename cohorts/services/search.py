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
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings, SearchSettings
from nbcohort.cohorts.models import Cohort, Post, Prompt, Thread
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.members import public_member
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


class _PromptAccess:
    """``visibility``'s decisions about micro-prompts for one viewer, asked only about the
    prompt threads a search finds, and remembered for the rest of the search."""

    def __init__(
        self, session: Session, actor: Actor, cohort: Cohort, rules: CommunitySettings
    ) -> None:
        self.session, self.actor, self.cohort, self.rules = session, actor, cohort, rules
        self.me = actor.member_id if actor.member_id is not None else -1
        self._prompts: dict[str, Prompt] | None = None
        self._mine: dict[str, Post] | None = None  # the viewer's own answers, by thread
        self._opened: dict[str, bool] = {}
        self._readable: dict[str, bool] = {}

    def _prompt(self, anchor: str) -> Prompt | None:
        if self._prompts is None:
            found = select(Prompt).where(Prompt.cohort_id == self.cohort.id)
            self._prompts = {f"prompt/{p.key}": p for p in self.session.scalars(found)}
        return self._prompts.get(anchor)

    def opened(self, anchor: str) -> bool:
        """Whether the viewer may see this prompt's thread (a prompt that is not there:
        no, as ``reach_post`` says)."""
        if anchor not in self._opened:
            prompt = self._prompt(anchor)
            self._opened[anchor] = prompt is not None and prompt_opened(prompt, self.actor)
        return self._opened[anchor]

    def _answer(self, anchor: str) -> Post | None:
        """The viewer's answer in a prompt's thread (all of them read at once: one query
        rather than one per prompt for a member who answers them)."""
        if self._mine is None:
            found = (
                select(Post, Thread.anchor)
                .join(Thread, Post.thread_id == Thread.id)
                .where(
                    Thread.cohort_id == self.cohort.id,
                    Thread.kind == "prompt",
                    Post.author_id == self.me,
                    Post.parent_id.is_(None),
                    Post.deleted.is_(False),
                )
            )
            self._mine = {a: post for post, a in self.session.execute(found)}
        return self._mine.get(anchor)

    def readable(self, anchor: str) -> bool:
        """Whether the viewer may read others' answers in this prompt's thread."""
        if anchor not in self._readable:
            prompt = self._prompt(anchor)
            self._readable[anchor] = (
                prompt is not None
                and self.opened(anchor)
                and prompt_answers_visible(
                    self.session, self.actor, prompt, self.rules, self._answer(anchor)
                )
            )
        return self._readable[anchor]

    def refuses(self, kind: Kind, row: Any) -> bool:
        """Whether ``row`` (a post or a thread found) is one the viewer may not see."""
        if kind == "artifact" or row.kind != "prompt":
            return False
        if kind == "thread":
            return not self.opened(row.anchor)
        return row.author_id != self.me and not self.readable(row.anchor)


def _found(
    session: Session, stmt: Any, params: dict[str, Any], kind: Kind, access: _PromptAccess | None
) -> Sequence[Any]:
    """The rows of ``stmt``; for a viewer who is not staff, again without the prompt threads
    they may not see among them, until none is left (each round leaves out one more: the
    statement fills the places of what it leaves out)."""
    if access is None:
        return session.execute(stmt, params).all()
    denied: set[str] = set()
    while True:
        rows = session.execute(stmt, {**params, "denied": sorted(denied)}).all()
        more = {row.anchor for row in rows if access.refuses(kind, row)} - denied
        if not more:
            return rows
        denied |= more


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
    access = None if staff else _PromptAccess(session, actor, cohort, rules)
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
        params["me"] = access.me
    out: dict[str, Any] = {"q": q, "words": searched, "ignored_words": ignored}
    for kind in KINDS:
        rows: Sequence[Any] = ()
        if kind in chosen:
            rows = _found(session, statement(dialect, kind, staff=staff), params, kind, access)
        out[f"{kind}s"] = [_SHAPE[kind](row, searched) for row in rows]
    return out


def _author(row: Any) -> dict[str, Any]:
    return public_member(row, "author_id")


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
    description = _description_text(row.description or "")
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


@lru_cache(maxsize=2048)
def _description_text(markdown: str) -> str:
    """An artifact's description as members read it (rendered by the one sanitizer), as
    text; kept, since the same artifacts come back search after search."""
    return plain_text(render_markdown(markdown))


_SHAPE = {"post": _post, "thread": _thread, "artifact": _artifact}
