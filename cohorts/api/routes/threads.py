"""What the cohort activity page asks beyond the other routes: the active threads, and the
caller's own progress in each peer-review round."""

from __future__ import annotations

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import ThreadsQuery
from nbcohort.cohorts.api.routes.paths import PREFIX
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


ROUTES = [(rf"{PREFIX}/threads", ThreadsHandler), (rf"{PREFIX}/me/reviews", MyReviewsHandler)]
