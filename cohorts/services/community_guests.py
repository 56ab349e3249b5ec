"""Members of one cohort acting in a community topic another cohort of their community
started: as guests of that cohort, on every path (posting, replying, reacting, flagging,
editing their own words, a held post being approved), so a rule about topics holds however a
member gets there.

- A guest acts as ``alumni`` there (a participant; no staff rights in another cohort) or
  reads as a ``sponsor``; only in threads of kind ``community`` of a cohort that graduated
  into the same community as theirs. Another community's posts, and other cohorts' course
  threads (read-only), stay not found.
- @mentions in a topic resolve among the active members of every cohort of the community,
  never another community's.
- What a member does in a topic is logged in their own cohort's activity, so it counts in
  their cohort's metrics and badges, not in the starter's.
- Two members starting the same topic name at once: one succeeds (``claim_topic_name``).

This module imports nothing that posts: ``posts.py``, ``reactions.py`` and ``community.py`` use it.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from nbcohort.cohorts.config import CommunitySettings
from nbcohort.cohorts.models import Cohort, Member, Post, Thread
from nbcohort.cohorts.sanitize import find_mentions
from nbcohort.cohorts.services.auth import Actor, require
from nbcohort.cohorts.services.errors import Conflict
from nbcohort.cohorts.services.notifications import resolve_mentions
from nbcohort.cohorts.services.visibility import Action, reach_post

__all__ = [
    "TOPIC_KIND",
    "acting_on_post",
    "author_cohort_id",
    "claim_topic_name",
    "community_cohort_ids",
    "guest_in",
    "reach_acting",
    "thread_mentions",
    "topic_mentions",
]

TOPIC_KIND = "community"


def guest_in(actor: Actor, cohort_id: int) -> Actor:
    """The actor as they act in community cohort ``cohort_id``'s topic: themselves at home;
    elsewhere a participant acts as ``alumni`` (no staff rights there) and a sponsor reads."""
    if actor.cohort_id == cohort_id or actor.is_system:
        return actor
    role = "alumni" if actor.can("post.create") else "sponsor"
    return dataclasses.replace(actor, cohort_id=cohort_id, role=role)


def community_cohort_ids(session: Session, cohort_id: int) -> list[int]:
    """``cohort_id`` first, then the other graduated cohorts of the community it graduated
    into (by graduation); only ``cohort_id`` when it has not graduated."""
    home = session.get(Cohort, cohort_id)
    if home is None or home.graduated_at is None or not home.community:
        return [cohort_id]
    others = session.scalars(
        select(Cohort.id)
        .where(
            Cohort.community == home.community,
            Cohort.graduated_at.is_not(None),
            Cohort.id != cohort_id,
        )
        .order_by(Cohort.graduated_at, Cohort.slug)
    )
    return [cohort_id, *others]


_POST_PLACE = select(Thread.cohort_id, Thread.kind).join(Post, Post.thread_id == Thread.id)


def acting_on_post(session: Session, actor: Actor, post_id: int) -> Actor:
    """The actor as they act on post ``post_id``: a guest of its cohort when it sits in a
    community topic another cohort of their own community started; themselves otherwise
    (so every other cohort's post stays not found by ``visibility.reach_post``)."""
    if actor.is_system or actor.cohort_id is None or not isinstance(post_id, int):
        return actor
    row = session.execute(_POST_PLACE.where(Post.id == post_id)).first()
    if row is None or row.cohort_id == actor.cohort_id or row.kind != TOPIC_KIND:
        return actor
    if row.cohort_id not in community_cohort_ids(session, actor.cohort_id):
        return actor
    return guest_in(actor, row.cohort_id)


def reach_acting(
    session: Session,
    actor: Actor,
    post_id: int,
    action: Action,
    rules: CommunitySettings | None,
    permission: str | None = None,
) -> tuple[Actor, Post]:
    """The post ``action`` is on, reached as the actor acts there (``acting_on_post``), once
    that role holds ``permission``: (the acting actor, the post)."""
    acting = acting_on_post(session, actor, post_id)
    if permission is not None:
        require(acting, permission, acting.cohort_id)
    return acting, reach_post(session, acting, post_id, action, rules)


def author_cohort_id(session: Session, actor: Actor, fallback: int) -> int:
    """The cohort the acting member belongs to (a guest's own, not the topic's), where what
    they do is logged; ``fallback`` for the local administrator."""
    if actor.member_id is None:
        return fallback
    own = session.scalar(select(Member.cohort_id).where(Member.id == actor.member_id))
    return own if own is not None else fallback


def topic_mentions(
    session: Session,
    cohort_id: int,
    body: str,
    *,
    author: int | None = None,
    thread_id: int | None = None,
) -> dict[str, int]:
    """The @usernames in ``body`` that are active members of any cohort of the community
    ``cohort_id`` (the topic's cohort) graduated into and whom the author may find there:
    their own cohort's members (the ``author`` member's cohort, whichever cohort's topic
    they write in; the topic's cohort for the local administrator), the
    members who opted into the community's directory, and whoever posted in the topic
    (``thread_id``). Anyone else stays plain text, so a guessed username tells nothing of a
    member who chose not to be listed. A username in several cohorts (one person, several
    courses) is the member of the earliest: the topic's own cohort first."""
    names = find_mentions(body)
    if not names:
        return {}
    order = community_cohort_ids(session, cohort_id)
    rank = {cid: i for i, cid in enumerate(order)}
    own = cohort_id
    if author is not None:
        own = session.scalar(select(Member.cohort_id).where(Member.id == author)) or cohort_id
    posted: set[int] = set()
    if thread_id is not None:
        posted = set(session.scalars(select(Post.author_id).where(Post.thread_id == thread_id)))
    found: dict[str, tuple[int, int]] = {}
    rows = session.execute(
        select(Member.username, Member.id, Member.cohort_id, Member.directory_opt_in).where(
            Member.cohort_id.in_(order), Member.active.is_(True), Member.username.in_(names)
        )
    )
    for name, member_id, cid, listed in rows:
        if not (cid == own or listed or member_id in posted):
            continue
        if name not in found or rank[cid] < found[name][0]:
            found[name] = (rank[cid], member_id)
    return {name: member_id for name, (_rank, member_id) in found.items()}


def thread_mentions(
    session: Session,
    cohort_id: int,
    kind: str,
    body: str,
    *,
    author: int | None = None,
    thread_id: int | None = None,
) -> dict[str, int]:
    """The members ``body`` mentions in a thread of ``kind`` of cohort ``cohort_id``: in a
    community topic those of the community its author may find (``topic_mentions``), the
    cohort's elsewhere."""
    if kind == TOPIC_KIND:
        return topic_mentions(session, cohort_id, body, author=author, thread_id=thread_id)
    return resolve_mentions(session, cohort_id, body)


def claim_topic_name(session: Session, cohort: Cohort, anchor: str) -> None:
    """Before a community topic's thread is written in ``cohort``: wait for anyone starting
    the same name in the community at this moment, then refuse if it is taken.

    SQLite writers queue already; on PostgreSQL a transaction-scoped advisory lock on the
    community and name orders two starters, and the second (reading committed rows once
    the first is done) finds the first's topic. Every path that makes a topic thread comes
    here (``create_post``), a held first post approved later included.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = f"nbcohort-topic:{cohort.community or cohort.id}:{anchor}"
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": key})  # fmt: skip
    ids = community_cohort_ids(session, cohort.id)
    taken = session.execute(
        select(Cohort.slug)
        .join(Thread, Thread.cohort_id == Cohort.id)
        .where(Thread.anchor == anchor, Thread.kind == TOPIC_KIND, Thread.cohort_id.in_(ids))
        .order_by(Thread.id)
        .limit(1)
    ).scalar()
    if taken is not None:
        raise Conflict(
            f"a community topic {anchor!r} exists already (cohort {taken!r}): choose another name",
            field="name",
        )
