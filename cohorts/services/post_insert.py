"""Writing a post's row: one INSERT, and the request key that makes a resend write nothing.

A post may carry the author's client's name for it (``request_key``, one per draft). The
keyed INSERT .. ON CONFLICT DO NOTHING writes it once however often it is sent; a resend
is answered with the post already written, and a key reused for other text is refused.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached

from nbcohort.cohorts.models import Post, Thread
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Invalid

__all__ = ["check_key", "insert_post", "sent_before"]


_POST = cast(Table, Post.__table__)
_INSERT_POST = insert(_POST)
_INSERT_KEYED_POST = {  # both databases: ON CONFLICT (the author's key) DO NOTHING
    name: dialect.insert(_POST).on_conflict_do_nothing().returning(_POST.c.id)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}
_POST_BY_KEY = (
    select(Post, Thread.anchor)
    .join(Thread, Post.thread_id == Thread.id)
    .where(Post.author_id == bindparam("author_id"), Post.request_key == bindparam("key"))
)


def sent_before(
    session: Session, actor: Actor, key: str, anchor: str, text: str, parent_id: int | None
) -> Post | None:
    """The actor's post already written under ``key``, when this is the same post again.

    A key names one post: reusing it for other text or another place is refused rather than
    answered with a post the member did not mean (a client bug, not a resend).
    """
    row = session.execute(_POST_BY_KEY, {"author_id": actor.member_id, "key": key}).first()
    if row is None:
        return None
    post, post_anchor = row
    if post.body_md != text or post_anchor != anchor or not _same_parent(session, post, parent_id):
        raise Invalid(
            f"request key {key!r} already names your post {post.id}, with other text or in "
            "another place; send a new post with a new key",
            field="request_key",
        )
    return post


def check_key(key: str) -> None:
    if not 1 <= len(key) <= 64 or not key.isascii() or not key.isprintable():
        raise Invalid("a request key is 1 to 64 printable ASCII characters", field="request_key")


def _same_parent(session: Session, post: Post, parent_id: int | None) -> bool:
    """Whether ``parent_id`` is where ``post`` went: its parent, or a reply it joined."""
    if parent_id is None or post.parent_id is None or parent_id == post.parent_id:
        return parent_id == post.parent_id
    asked = session.get(Post, parent_id)
    return asked is not None and asked.parent_id == post.parent_id


def insert_post(session: Session, values: dict[str, Any]) -> Post | None:
    """Insert a post with one plain INSERT and hand it back as a Post in the session; None
    when the author's request key already names a post (the keyed INSERT does nothing then,
    so a resend costs no more than a new post: one statement).

    Posting is the hot write, and the ORM's flush of a new object costs more than the
    INSERT itself. The object is built from exactly the values written (every column), so it is
    persistent with nothing to read back or flush; its author loads as usual.
    """
    conn = session.connection()
    if values["request_key"] is None:
        key = conn.execute(_INSERT_POST, values).inserted_primary_key
    else:
        key = conn.execute(_INSERT_KEYED_POST[conn.dialect.name], values).first()
        if key is None:
            return None
    assert key is not None  # a one-row INSERT always reports its key
    post = Post(id=key[0], **values)
    make_transient_to_detached(post)
    session.add(post)
    return post
