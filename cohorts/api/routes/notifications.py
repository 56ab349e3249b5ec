"""A member's own notifications (mentions, replies, review reminders)."""

from __future__ import annotations

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import NotificationsQuery
from nbcohort.cohorts.api.routes.paths import PREFIX
from nbcohort.cohorts.services import notifications

__all__ = ["ROUTES"]


class NotificationsHandler(ApiHandler):
    async def get(self) -> None:
        unread = self.query(NotificationsQuery).all not in ("1", "true")
        await self.run(
            lambda s, a, c: {
                "notifications": notifications.list_notifications(s, a, unread_only=unread)
            }
        )


class NotificationsReadHandler(ApiHandler):
    async def post(self) -> None:
        await self.run(lambda s, a, c: {"marked": notifications.mark_all_read(s, a)}, write=True)


ROUTES = [
    (rf"{PREFIX}/notifications", NotificationsHandler),
    (rf"{PREFIX}/notifications/read", NotificationsReadHandler),
]
