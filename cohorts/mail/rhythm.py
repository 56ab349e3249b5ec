"""The rhythm's email, queued by ``nbcohort cadence tick`` (its ``mail`` step) and sent by
``nbcohort mail send``:

- each onboarding step a member has just been notified of, under the dedupe key its
  notification's email has anyway (``notification:<id>``), so the tick and ``mail send``
  (``queue_notifications``) never queue it twice;
- each routine post and weekly highlights post, once per member (``cadence:<item>:<member>``):
  a routine to members who want every notification, the highlights also to those who want a
  digest.

``queue_message`` decides who gets what (no address, left the cohort, ``email_pref``). Only
items published in the last ``RECENT`` are looked at: a tick killed halfway is made good by
the next, and a tick with nothing published costs one indexed query on the plan.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from nbcohort.cohorts.mail.mailer import Mailer
from nbcohort.cohorts.mail.queue import queue_message
from nbcohort.cohorts.mail.render import TemplateProblem
from nbcohort.cohorts.models import CadenceItem, Cohort, Member, Notification, Post
from nbcohort.cohorts.sanitize import render_markdown
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.notifications import describe, section_link
from nbcohort.cohorts.store import Store

__all__ = ["RECENT", "queue_cadence_mail", "queue_onboarding_mail"]

log = logging.getLogger("nbcohort.mail")
RECENT = timedelta(minutes=30)
_CHUNK = 500  # members per transaction
_KINDS = ("routine", "highlights")
_EXCERPT = 1500  # characters of a post's text in the plain-text email


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def queue_onboarding_mail(store: Store, mailer: Mailer, cohort: Cohort, now: datetime) -> int:
    """Queue the email of each onboarding notification of ``cohort`` made at ``now`` (the
    tick's onboarding step stamps them with its clock). Returns how many were queued."""
    with store.read() as s:
        ids = list(
            s.scalars(
                select(Notification.id)
                .join(Member, Member.id == Notification.member_id)
                .where(
                    Member.cohort_id == cohort.id,
                    Notification.kind == "onboarding",
                    Notification.created_at == now,
                    Member.email.is_not(None),
                )
                .order_by(Notification.id)
            )
        )
    queued = 0
    for chunk in _chunks(ids):
        with store.write() as s:
            for note, member in s.execute(
                select(Notification, Member)
                .join(Member, Member.id == Notification.member_id)
                .where(Notification.id.in_(chunk))
            ).all():
                row = describe(s, Actor.of(member), s.merge(cohort), [(note, None, None, None)])[0]
                row["url"] = mailer.notebook_url(row["link"])
                queued += _queue(s, mailer, member, "onboarding", f"notification:{note.id}", n=row)
    return queued


def queue_cadence_mail(store: Store, mailer: Mailer, cohort: Cohort, now: datetime) -> int:
    """Queue the email of each routine and highlights post ``cohort`` published in the last
    ``RECENT``, once per member. Returns how many were queued."""
    with store.read() as s:
        items = list(
            s.scalars(
                select(CadenceItem).where(
                    CadenceItem.cohort_id == cohort.id,
                    CadenceItem.state == "published",
                    CadenceItem.kind.in_(_KINDS),
                    CadenceItem.published_at > now - RECENT,
                    CadenceItem.published_at <= now,
                )
            )
        )
        if not items:
            return 0
        prefs = ["all", "digest"]
        members = list(
            s.scalars(
                select(Member.id)
                .where(
                    Member.cohort_id == cohort.id,
                    Member.active.is_(True),
                    Member.email.is_not(None),
                    Member.email_pref.in_(prefs),
                )
                .order_by(Member.id)
            )
        )
        contexts = [(item.id, item.kind, _item_context(s, cohort, mailer, item)) for item in items]
    queued = 0
    for item_id, kind, context in contexts:
        if context is None:
            continue
        for chunk in _chunks(members):
            with store.write() as s:
                for member in s.scalars(select(Member).where(Member.id.in_(chunk))):
                    key = f"cadence:{item_id}:{member.id}"
                    queued += _queue(s, mailer, member, kind, key, item=context)
    return queued


def _item_context(
    s: Session, cohort: Cohort, mailer: Mailer, item: CadenceItem
) -> dict[str, Any] | None:
    post_id = (item.result or {}).get("post_id")
    post = s.get(Post, post_id) if post_id else None
    if post is None or post.deleted:
        return None  # skipped when published (no routine any more, nothing to post)
    text = post.body_md if len(post.body_md) <= _EXCERPT else post.body_md[:_EXCERPT] + "…"
    anchor = (item.result or {}).get("anchor", "")
    link = section_link(cohort, anchor)
    return {
        "title": item.title or item.kind,
        "text": text,
        "html": Markup(render_markdown(post.body_md)),  # the one sanitizer's output
        "anchor": anchor,
        "url": mailer.notebook_url(link),
    }


def _queue(s: Session, mailer: Mailer, member: Member, kind: str, key: str, **ctx: Any) -> int:
    try:
        return int(queue_message(s, mailer, member, kind, key, **ctx))
    except TemplateProblem as exc:  # one message, not the whole run (it is logged)
        log.error("%s not emailed to member %s: %s", key, member.id, exc)
        return 0
