"""The community of practice's shared parts across its cohorts: the library, the events and
the member directory. Every rule is ``services/community_library.py``'s and
``services/community_directory.py``'s."""

from __future__ import annotations

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import CommunityLibraryQuery, CommunityMembersQuery, DaysQuery
from nbcohort.cohorts.api.routes.paths import PREFIX
from nbcohort.cohorts.services.community_directory import community_members
from nbcohort.cohorts.services.community_library import community_artifacts, community_events

__all__ = ["ROUTES"]


class CommunityArtifactsHandler(ApiHandler):
    async def get(self) -> None:
        q = self.query(CommunityLibraryQuery)
        await self.run(
            lambda s, a, c: {
                "artifacts": community_artifacts(s, a, c, q=q.q, tag=q.tag, limit=q.limit)
            }
        )


class CommunityEventsHandler(ApiHandler):
    async def get(self) -> None:
        days = self.query(DaysQuery).days or 60
        await self.run(lambda s, a, c: {"events": community_events(s, a, c, days)})


class CommunityMembersHandler(ApiHandler):
    async def get(self) -> None:
        q = self.query(CommunityMembersQuery)
        await self.run(
            lambda s, a, c: community_members(s, a, c, q=q.q, page=q.page, per_page=q.per_page)
        )


ROUTES = [
    (rf"{PREFIX}/community/artifacts", CommunityArtifactsHandler),
    (rf"{PREFIX}/community/events", CommunityEventsHandler),
    (rf"{PREFIX}/community/members", CommunityMembersHandler),
]
