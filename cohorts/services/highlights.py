"""The weekly highlights: the week's most helpful posts (reactions and replies from others),
new artifacts and their reuses, and what members applied at work, as one post.

An @mention quoted in a highlight reads as the member's display name, as plain text (a
member who left: "former member"): the highlights post, its page and its email show the
same words, no link to anyone, and nobody is notified again. Who a mention names is decided
as posting decides it (``community_guests.thread_mentions``: the cohort's members, the
community's in a community topic); an @word that names no member stays text that mentions
nobody."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import (
    AppliedPractice,
    Artifact,
    ArtifactReuse,
    Cohort,
    Member,
    Post,
    Practice,
    Reaction,
    Thread,
)
from nbcohort.cohorts.sanitize import MENTION, find_mentions, markdown_text
from nbcohort.cohorts.services.community_guests import (
    thread_mentions,
)

__all__ = ["Highlights", "gather_highlights"]


@dataclass
class Highlights:
    since: datetime
    until: datetime
    posts: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[str] = field(default_factory=list)
    artifact_count: int = 0
    reuses: int = 0
    applied: dict[str, int] = field(default_factory=dict)  # practice title -> members
    spotlight: list[str] = field(default_factory=list)  # Markdown lines (services/spotlight.py)

    def summary(self) -> dict[str, Any]:
        """What the cadence item keeps as its result (the email side reads it)."""
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "posts": [p["id"] for p in self.posts],
            "artifacts": self.artifact_count,
            "reuses": self.reuses,
            "applied": sum(self.applied.values()),
        }

    def markdown(self, zone: Any) -> str:
        first, last = self.since.astimezone(zone), self.until.astimezone(zone)
        lines = [
            f"## Highlights of the week, {first:%a} {first.day} {first:%b} to "
            f"{last:%a} {last.day} {last:%b}",
            "",
        ]
        if self.posts:
            lines += ["**Most helpful posts**", ""]
            for n, p in enumerate(self.posts, start=1):
                counts = _counts(p["reactions"], p["replies"])
                lines.append(
                    f"{n}. **{markdown_text(p['author'])}** in `{p['anchor']}` ({counts}): "
                    f"{p['excerpt']}"
                )
            lines.append("")
        if self.artifact_count:
            named = ", ".join(f"*{markdown_text(t)}*" for t in self.artifacts)
            lines.append(
                f"**New in the library**: {self.artifact_count} "
                f"artifact{'s' if self.artifact_count != 1 else ''} ({named})."
            )
        if self.reuses:
            lines.append(
                f"**Reused**: artifacts were copied {self.reuses} "
                f"time{'s' if self.reuses != 1 else ''} by other members."
            )
        if self.applied:
            done = ", ".join(f"{markdown_text(t)} ({n})" for t, n in self.applied.items())
            lines.append(f"**I applied this at work**: {done}.")
        if self.spotlight:
            lines += ["", *self.spotlight]
        if not (self.posts or self.artifact_count or self.reuses or self.applied):
            lines.append(
                "A quiet week. What did you work on? A question, a tip or a notebook "
                "you share makes next week's highlights."
            )
        return "\n".join(lines).strip()


def _counts(reactions: int, replies: int) -> str:
    parts = []
    if reactions:
        parts.append(f"{reactions} reaction{'s' if reactions != 1 else ''}")
    if replies:
        parts.append(f"{replies} repl{'ies' if replies != 1 else 'y'}")
    return ", ".join(parts)


def _excerpt(body: str, names: dict[str, str] | None = None, limit: int = 140) -> str:
    """A post's first words as plain quoted text: no Markdown structure, and each @mention as
    the display name ``names`` gives (plain text); any other @word broken (a word joiner),
    so that a highlight never notifies the people it quotes again."""
    text = re.sub(r"```.*?```", " [code] ", body, flags=re.S)
    text = re.sub(r"[`*_#>\[\]|]", "", text)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    known = names or {}

    def shown(match: re.Match[str]) -> str:
        username = match.group(1).rstrip(".")
        if username not in known:
            return "@\u2060" + match.group(1)
        return markdown_text(known[username]) + match.group(1)[len(username) :]

    # A second pass: a name put in place can end so that an @ right after it now reads as a
    # mention ("@ann@bo"); that one is broken too. An address (ana@example.org) is no mention.
    out = MENTION.sub(lambda m: "@\u2060" + m.group(1), MENTION.sub(shown, text))
    return "“" + out + "”"


def _mentioned(
    session: Session, cohort_id: int, kind: str, body: str, author: int, thread_id: int
) -> dict[str, str]:
    """username -> display name of the members ``body`` mentions in its thread: those posting
    resolves (active members its author may find), then any other member of the author's
    cohort (one who left shows as "former member", the name leaving left them)."""
    wanted = find_mentions(body)
    if not wanted:
        return {}
    found = thread_mentions(session, cohort_id, kind, body, author=author, thread_id=thread_id)
    names: dict[int, str] = {
        member_id: name
        for member_id, name in session.execute(
            select(Member.id, Member.name).where(Member.id.in_(found.values()))
        )
    }
    out = {username: names[member_id] for username, member_id in found.items()}
    own = session.scalar(select(Member.cohort_id).where(Member.id == author))
    for username, name in session.execute(
        select(Member.username, Member.name)
        .where(Member.cohort_id == own, Member.username.in_(wanted - out.keys()))
        .order_by(Member.id)
    ):
        out.setdefault(username, name)
    return out


def gather_highlights(
    session: Session, cohort: Cohort, since: datetime, until: datetime, top: int, skip: str
) -> Highlights:
    """The highlights of [since, until); ``skip`` is the highlights thread's own anchor."""
    out = Highlights(since, until)
    reactions = (
        select(func.count())
        .select_from(Reaction)
        .where(Reaction.post_id == Post.id, Reaction.member_id != Post.author_id)
        .scalar_subquery()
    )
    reply = Post.__table__.alias("reply")
    replies = (
        select(func.count())
        .select_from(reply)
        .where(
            reply.c.thread_id == Post.thread_id,  # the thread's index serves
            reply.c.parent_id == Post.id,
            reply.c.author_id != Post.author_id,
            reply.c.deleted.is_(False),
        )
        .scalar_subquery()
    )
    score = reactions * 2 + replies
    rows = session.execute(
        select(
            Post.id,
            Post.body_md,
            Thread.anchor,
            Member.name,
            reactions,
            replies,
            Thread.cohort_id,
            Thread.kind,
            Post.author_id,
            Post.thread_id,
        )
        .join(Thread, Post.thread_id == Thread.id)
        .join(Member, Post.author_id == Member.id)
        .where(
            Thread.cohort_id == cohort.id,
            Thread.kind != "prompt",
            Thread.anchor != skip,
            Post.created_at >= since,
            Post.created_at < until,
            Post.deleted.is_(False),
            Post.hidden.is_(False),
            score > 0,
        )
        .order_by(score.desc(), Post.id)
        .limit(top)
    )
    out.posts = [
        {
            "id": pid,
            "excerpt": _excerpt(body, _mentioned(session, cid, kind, body, author, tid)),
            "anchor": anchor,
            "author": name,
            "reactions": r,
            "replies": n,
        }
        for pid, body, anchor, name, r, n, cid, kind, author, tid in rows
    ]
    in_week = and_(
        Artifact.cohort_id == cohort.id,
        Artifact.source == "share",
        Artifact.created_at >= since,
        Artifact.created_at < until,
    )
    titles = list(session.scalars(select(Artifact.title).where(in_week).order_by(Artifact.id)))
    out.artifact_count, out.artifacts = len(titles), titles[:5]
    out.reuses = (
        session.scalar(
            select(func.count())
            .select_from(ArtifactReuse)
            .join(Artifact, ArtifactReuse.artifact_id == Artifact.id)
            .where(
                Artifact.cohort_id == cohort.id,
                ArtifactReuse.created_at >= since,
                ArtifactReuse.created_at < until,
            )
        )
        or 0
    )
    applied = session.execute(
        select(func.coalesce(Practice.title, AppliedPractice.practice), func.count())
        .select_from(AppliedPractice)
        .outerjoin(
            Practice,
            and_(
                Practice.cohort_id == AppliedPractice.cohort_id,
                Practice.key == AppliedPractice.practice,
            ),
        )
        .where(
            AppliedPractice.cohort_id == cohort.id,
            AppliedPractice.created_at >= since,
            AppliedPractice.created_at < until,
        )
        .group_by(func.coalesce(Practice.title, AppliedPractice.practice))
        .order_by(func.count().desc())
    )
    out.applied = {title or "": n for title, n in applied}
    return out
