"""The community of practice after graduation: its cohorts, its topics, and the course threads
of every cohort in it, read-only.

Cohorts that graduated into the same community (``Cohort.community``, set by
``graduation.py``) form one community. Its members (any role of those cohorts) see:

- community topics (threads of kind ``community`` at ``topic/<name>``), started by members of
  any of those cohorts, stored in the starter's cohort and open to all of them for posting;
- the course threads (sections and course topics, never micro-prompt answers) of every cohort
  in the community, read-only, each marked with its cohort (``community_courses.py``).

Nothing else: a cohort that has not graduated has no community (refused with the reason), and
another community's cohorts do not exist (404). Inside a topic started in another cohort a
member acts as a guest: a participant posts and replies as ``alumni`` there (so a facilitator
of one cohort does not moderate another's posts), a sponsor reads.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Cohort, HeldPost, Member, Post, Thread
from nbcohort.cohorts.plain_text import unseen_characters
from nbcohort.cohorts.services.activity import record
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.community_guests import TOPIC_KIND, guest_in
from nbcohort.cohorts.services.errors import Conflict, Forbidden, Invalid, NotFound
from nbcohort.cohorts.services.moderation_hold import held_dict
from nbcohort.cohorts.services.pages import thread_page
from nbcohort.cohorts.services.posts import clean_body, create_post
from nbcohort.cohorts.services.rhythm import rhythm_of
from nbcohort.cohorts.services.threads import full_post

__all__ = [
    "clean_topic_name",
    "clean_topic_title",
    "cohort_mark",
    "community_cohorts",
    "community_summary",
    "create_topic",
    "list_topics",
    "post_in_topic",
    "read_topic",
    "visitor",
]

MAX_TOPIC_NAME = 63
MAX_TOPIC_TITLE = 120
_TOPIC_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


# -- input ------------------------------------------------------------------------------------
def clean_topic_name(raw: object) -> str:
    """A topic's name, the last part of its anchor ``topic/<name>``: one segment of lowercase
    ASCII letters, digits and '-' (no path, no look-alike or invisible characters)."""
    if not isinstance(raw, str):
        raise Invalid("a topic name must be text", field="name")
    name = raw.strip()
    if not name:
        raise Invalid("a topic needs a name", field="name")
    if len(name) > MAX_TOPIC_NAME:
        raise Invalid(
            f"a topic name is at most {MAX_TOPIC_NAME} characters; this one has {len(name)}",
            field="name",
        )
    if "/" in name or "\\" in name or ".." in name:
        raise Invalid(
            f"topic name {name!r} must be one name, not a path (no '/', '\\' or '..')",
            field="name",
        )
    if not name.isascii():
        raise Invalid(
            f"topic name {name!r} has characters outside a-z, 0-9 and '-' (look-alike or "
            "invisible characters are refused)",
            field="name",
        )
    if not _TOPIC_NAME.match(name):
        raise Invalid(
            f"topic name {name!r} must be lowercase letters a-z, digits and '-', starting "
            "with a letter or digit",
            field="name",
        )
    return name


def clean_topic_title(raw: object) -> str:
    """A topic's title: plain text shown as text, with something visible, no control or
    direction-changing characters, at most 120 characters."""
    if not isinstance(raw, str):
        raise Invalid("a topic title must be text", field="title")
    title = unicodedata.normalize("NFC", raw).strip()
    if len(title) > MAX_TOPIC_TITLE:
        raise Invalid(
            f"a topic title is at most {MAX_TOPIC_TITLE} characters; this one has {len(title)}",
            field="title",
        )
    bad = unseen_characters(title)
    if bad:
        raise Invalid(
            f"a topic title cannot hold control or invisible characters ({', '.join(bad)})",
            field="title",
        )
    if not any(not c.isspace() for c in title):
        raise Invalid("a topic needs a title", field="title")
    return title


# -- who is in the community ------------------------------------------------------------------
def _community(session: Session, actor: Actor, cohort: Cohort, action: str) -> list[Cohort]:
    """The cohorts of the community ``cohort`` graduated into (``cohort`` first), once the
    actor may ``action`` in ``cohort``; refused with the reason before graduation."""
    require(actor, action, cohort.id)
    # The row as it is now (the API hands over a copy cached for a few seconds, which may
    # predate the cohort's graduation).
    cohort = session.get_one(Cohort, cohort.id, populate_existing=True)
    if cohort.graduated_at is None or not cohort.community:
        raise Forbidden(
            f"cohort {cohort.slug!r} has not graduated: community topics open when the course "
            f"ends (nbcohort cohort graduate {cohort.slug})",
            field="community",
        )
    others = session.scalars(
        select(Cohort)
        .where(
            Cohort.community == cohort.community,
            Cohort.graduated_at.is_not(None),
            Cohort.id != cohort.id,
        )
        .order_by(Cohort.graduated_at, Cohort.slug)
    )
    return [cohort, *others]


def community_cohorts(session: Session, actor: Actor, cohort: Cohort) -> list[Cohort]:
    """The graduated cohorts of ``cohort``'s community (``cohort`` first), for an actor who
    may read the community; refused with the reason before graduation (for the library,
    events and member directory of ``community_library.py`` and ``community_directory.py``)."""
    return _community(session, actor, cohort, "community.read")


def visitor(actor: Actor, cohort_id: int) -> Actor:
    """The actor as a reader of community cohort ``cohort_id``: themselves at home, a
    sponsor elsewhere (reads what that cohort's members read, never more)."""
    if actor.cohort_id == cohort_id or actor.is_system:
        return actor
    return dataclasses.replace(actor, cohort_id=cohort_id, role="sponsor")


def cohort_mark(cohort: Cohort) -> dict[str, Any]:
    """How an item names the cohort it comes from, in every community answer."""
    return {"slug": cohort.slug, "title": cohort.title}


def community_summary(session: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
    """The community ``cohort`` graduated into: its name and title, and its cohorts (when each
    graduated, how many alumni)."""
    cohorts = _community(session, actor, cohort, "community.read")
    ids = [c.id for c in cohorts]
    alumni = dict(
        session.execute(
            select(Member.cohort_id, func.count())
            .where(Member.cohort_id.in_(ids), Member.role == "alumni", Member.left_at.is_(None))
            .group_by(Member.cohort_id)
        ).all()
    )
    spec = rhythm_of(cohorts[0])
    title = spec.community.title if spec is not None and spec.community is not None else ""
    return {
        "name": cohort.community,
        "title": title or cohort.community,
        "cohorts": [
            {
                **cohort_mark(c),
                "graduated_at": c.graduated_at.isoformat() if c.graduated_at else None,
                "alumni": alumni.get(c.id, 0),
                "mine": c.id == cohort.id,
            }
            for c in cohorts
        ],
    }


# -- topics -----------------------------------------------------------------------------------
def _topic(session: Session, cohorts: list[Cohort], name: str) -> Thread:
    by_id = {c.id: c for c in cohorts}
    thread = session.scalar(
        select(Thread)
        .where(
            Thread.cohort_id.in_(by_id),
            Thread.kind == TOPIC_KIND,
            Thread.anchor == f"topic/{name}",
        )
        .order_by(Thread.id)
        .limit(1)
    )
    if thread is None:
        raise NotFound(f"no community topic {name!r}", field="name")
    return thread


def list_topics(
    session: Session, actor: Actor, cohort: Cohort, *, limit: int = 100
) -> list[dict[str, Any]]:
    """The community's topics, most recently active first, each with its cohort."""
    if not 1 <= limit <= 500:
        raise Invalid("limit must be between 1 and 500", field="limit")
    cohorts = _community(session, actor, cohort, "community.read")
    by_id = {c.id: c for c in cohorts}
    last = func.max(Post.created_at)
    rows = session.execute(
        select(Thread, func.count(Post.id), last)
        .outerjoin(Post, (Post.thread_id == Thread.id) & Post.deleted.is_(False))
        .where(Thread.cohort_id.in_(by_id), Thread.kind == TOPIC_KIND)
        .group_by(Thread.id)
        .order_by(func.coalesce(last, Thread.created_at).desc(), Thread.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "name": t.anchor.removeprefix("topic/"),
            "anchor": t.anchor,
            "title": t.title,
            "cohort": cohort_mark(by_id[t.cohort_id]),
            "posts": int(n),
            "last_post_at": at.isoformat() if at else None,
            "created_at": t.created_at.isoformat(),
        }
        for t, n, at in rows
    ]


def create_topic(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    name: object,
    title: object,
    body: object,
    *,
    rules: CommunitySettings | None = None,
) -> dict[str, Any]:
    """Start a community topic with its first post (members of a graduated cohort)."""
    rules = rules or CommunitySettings()
    cohorts = _community(session, actor, cohort, "topic.create")
    if actor.member_id is None:
        raise Forbidden("only members start topics")
    name, title = clean_topic_name(name), clean_topic_title(title)
    clean_body(body, rules)  # refused before anything is written
    anchor = f"topic/{name}"
    taken = session.execute(
        select(Thread.kind, Cohort.slug)
        .join(Cohort, Cohort.id == Thread.cohort_id)
        .where(
            Thread.anchor == anchor,
            (Thread.cohort_id == cohort.id)
            | (Thread.cohort_id.in_([c.id for c in cohorts]) & (Thread.kind == TOPIC_KIND)),
        )
        .limit(1)
    ).first()
    if taken is not None:
        what = "a community topic" if taken.kind == TOPIC_KIND else "a course thread"
        raise Conflict(
            f"{what} {anchor!r} exists already (cohort {taken.slug!r}): choose another name",
            field="name",
        )
    post = create_post(
        session, actor, cohort, anchor, body, title=title, rules=rules, kind=TOPIC_KIND
    )
    if isinstance(post, HeldPost):  # a new member's post waits: the topic opens on approval
        return {"name": name, "anchor": anchor, "title": title, "cohort": cohort_mark(cohort),
                "post": held_dict(post)}  # fmt: skip
    record(session, cohort.id, actor.member_id, "topic.create", post, anchor=anchor)
    return {
        "name": name,
        "anchor": anchor,
        "title": title,
        "cohort": cohort_mark(cohort),
        "post": full_post(session, actor, post),
    }


def read_topic(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    name: object,
    *,
    before: int | None = None,
    limit: int = 30,
) -> dict[str, Any]:
    """One page of a community topic, marked with the cohort it was started in."""
    cohorts = _community(session, actor, cohort, "community.read")
    thread = _topic(session, cohorts, clean_topic_name(name))
    home = next(c for c in cohorts if c.id == thread.cohort_id)
    page = thread_page(
        session, guest_in(actor, home.id), home, thread.anchor, before=before, limit=limit
    )
    return {**page, "name": thread.anchor.removeprefix("topic/"), "cohort": cohort_mark(home)}


def post_in_topic(
    session: Session,
    actor: Actor,
    cohort: Cohort,
    name: object,
    body: object,
    *,
    parent_id: int | None = None,
    request_key: str | None = None,
    rules: CommunitySettings | None = None,
) -> dict[str, Any]:
    """Post (or reply) in a community topic, whichever cohort of the community started it."""
    cohorts = _community(session, actor, cohort, "post.create")
    thread = _topic(session, cohorts, clean_topic_name(name))
    home = next(c for c in cohorts if c.id == thread.cohort_id)
    guest = guest_in(actor, home.id)
    post = create_post(
        session,
        guest,
        home,
        thread.anchor,
        body,
        parent_id=parent_id,
        rules=rules,
        request_key=request_key,
    )
    if isinstance(post, HeldPost):  # waits for a moderator of the cohort that started it
        return held_dict(post)
    return full_post(session, guest, post)
