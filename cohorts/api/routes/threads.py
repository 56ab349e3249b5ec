"""What the Voila pages ask beyond the other routes: the active threads, the caller's own
progress in each peer-review round, and the facilitator dashboard's tables (staff only)."""

from __future__ import annotations

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import DashboardQuery, ThreadsQuery
from nbcohort.cohorts.api.routes.paths import PREFIX
from nbcohort.cohorts.services.dashboard import facilitator_tables
from nbcohort.cohorts.services.review_progress import my_review_progress
from nbcohort.cohorts.services.thread_list import active_threads

__all__ = ["ROUTES"]


class ThreadsHandler(ApiHandler):
    async def get(self) -> None:
        q = self.query(ThreadsQuery)
        await self.run(
            lambda s, a, c: {"threads": active_threads(s, a, c, days=q.days, limit=q.limit)}
        )


class MyReviewsHandler(ApiHandler):
    async def get(self) -> None:
        await self.run(lambda s, a, c: {"rounds": my_review_progress(s, a, c)})


class DashboardHandler(ApiHandler):
    async def get(self) -> None:
        q = self.query(DashboardQuery)
        await self.run(
            lambda s, a, c: facilitator_tables(
                s, a, c, quiet_days=q.quiet_days, unanswered_hours=q.unanswered_hours
            )
        )


ROUTES = [
    (rf"{PREFIX}/threads", ThreadsHandler),
    (rf"{PREFIX}/me/reviews", MyReviewsHandler),
    (rf"{PREFIX}/dashboard", DashboardHandler),
]
