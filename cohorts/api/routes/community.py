"""The community of practice after graduation: the community and its cohorts, its topics,
other cohorts' course threads (read-only), and graduating (instructors). Every rule is
``services/community.py``'s and ``services/graduation.py``'s."""

from __future__ import annotations

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import (
    CourseThreadQuery,
    GraduateBody,
    NewTopic,
    TopicPost,
    TopicQuery,
)
from nbcohort.cohorts.api.routes.paths import NAME, PREFIX
from nbcohort.cohorts.services import community, community_courses
from nbcohort.cohorts.services.graduation import graduate

__all__ = ["ROUTES"]


class CommunityHandler(ApiHandler):
    async def get(self) -> None:
        await self.run(community.community_summary)


class TopicsHandler(ApiHandler):
    async def get(self) -> None:
        await self.run(lambda s, a, c: {"topics": community.list_topics(s, a, c)})

    async def post(self) -> None:
        data, rules = self.body(NewTopic), self.ctx.rules
        await self.run(
            lambda s, a, c: community.create_topic(
                s, a, c, data.name, data.title, data.body, rules=rules
            ),
            write=True,
            status=201,
        )


class TopicHandler(ApiHandler):
    async def get(self, name: str) -> None:
        q, ctx = self.query(TopicQuery), self.ctx
        limit = q.limit or ctx.rules.page_size
        await self.run(
            lambda s, a, c: community.read_topic(s, a, c, name, before=q.before, limit=limit)
        )


class TopicPostsHandler(ApiHandler):
    async def post(self, name: str) -> None:
        data, rules = self.body(TopicPost), self.ctx.rules
        await self.run(
            lambda s, a, c: community.post_in_topic(
                s,
                a,
                c,
                name,
                data.body,
                parent_id=data.parent_id,
                request_key=data.request_key,
                rules=rules,
            ),
            write=True,
            status=201,
        )


class CourseThreadsHandler(ApiHandler):
    async def get(self) -> None:
        q, ctx = self.query(CourseThreadQuery), self.ctx
        if q.anchor is None:
            await self.run(
                lambda s, a, c: {"threads": community_courses.course_threads(s, a, c, q.cohort)}
            )
            return
        anchor, limit = q.anchor, q.limit or ctx.rules.page_size
        await self.run(
            lambda s, a, c: community_courses.read_course_thread(
                s, a, c, q.cohort, anchor, before=q.before, limit=limit
            )
        )


class GraduateHandler(ApiHandler):
    async def post(self) -> None:
        data = self.body(GraduateBody)
        await self.run(
            lambda s, a, c: graduate(s, a, c, dry_run=data.dry_run).as_dict(), write=True
        )


ROUTES = [
    (rf"{PREFIX}/community", CommunityHandler),
    (rf"{PREFIX}/community/topics", TopicsHandler),
    (rf"{PREFIX}/community/topics/{NAME}", TopicHandler),
    (rf"{PREFIX}/community/topics/{NAME}/posts", TopicPostsHandler),
    (rf"{PREFIX}/community/threads", CourseThreadsHandler),
    (rf"{PREFIX}/cohort/graduate", GraduateHandler),
]
