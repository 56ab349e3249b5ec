"""Search across the cohort's posts, threads and artifacts, as the caller may see them."""

from __future__ import annotations

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import SearchQuery
from nbcohort.cohorts.api.routes.configured import configured
from nbcohort.cohorts.api.routes.paths import PREFIX
from nbcohort.cohorts.config import SearchSettings
from nbcohort.cohorts.services import search

__all__ = ["ROUTES"]


class SearchHandler(ApiHandler):
    async def get(self) -> None:
        q, rules = self.query(SearchQuery), self.ctx.rules
        settings = configured(SearchSettings, rules)
        kinds = [q.kind] if q.kind else None
        await self.run(
            lambda s, a, c: search.search(
                s, a, c, q.q, kinds=kinds, limit=q.limit or 10, rules=rules, settings=settings
            )
        )


ROUTES = [(rf"{PREFIX}/search", SearchHandler)]
