"""A member's own notifications (replies, mentions, reviews, onboarding), what the cohort's
rhythm asks today, and the member's email setting."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import EmailPref, NotificationsQuery, NotificationsRead
from nbcohort.cohorts.api.routes.paths import PREFIX
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services import live, members, notifications
from nbcohort.cohorts.services.auth import Actor

__all__ = ["ROUTES"]


class NotificationsHandler(ApiHandler):
    async def get(self) -> None:
        query = self.query(NotificationsQuery)
        unread_only = query.all not in ("1", "true")

        def listing(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            counts = notifications.unread_counts(s, a)
            return {
                "notifications": notifications.list_notifications(
                    s, a, c, unread_only=unread_only, limit=query.limit, kind=query.kind
                ),
                "unread": sum(counts.values()),
                "unread_by_kind": counts,
                "today": notifications.today_items(s, a, c),
                "mark": live.state_of(s, c.id, a.member_id, ())["notifications"],
            }

        await self.run(listing)


class NotificationsReadHandler(ApiHandler):
    async def post(self) -> None:
        ids = self.body(NotificationsRead).ids

        def mark(s: Session, a: Actor, c: Cohort) -> dict[str, int]:
            if ids is None:
                return {"marked": notifications.mark_all_read(s, a)}
            return {"marked": notifications.mark_read(s, a, ids)}

        await self.run(mark, write=True, batch=True)


class EmailPrefHandler(ApiHandler):
    async def put(self) -> None:
        pref = self.body(EmailPref).email_pref

        def change(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            member = s.get_one(Member, a.member_id)
            members.set_email_pref(s, a, member, pref)
            return {"member": members.member_dict(member, private=True)}

        await self.run(change, write=True)


ROUTES = [
    (rf"{PREFIX}/notifications", NotificationsHandler),
    (rf"{PREFIX}/notifications/read", NotificationsReadHandler),
    (rf"{PREFIX}/me/email", EmailPrefHandler),
]
