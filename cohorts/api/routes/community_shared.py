"""The community of practice's shared parts across its cohorts: the library (and copies from
it), the events and the member directory (and a member's choice to be listed in it, and the
skills it shows of them). Every
rule is ``services/community_library.py``'s, ``community_reuse.py``'s and
``community_directory.py``'s and ``skills.py``'s."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import (
    CommunityLibraryQuery,
    CommunityMembersQuery,
    DaysQuery,
    DirectoryPref,
    DirectorySkills,
)
from nbcohort.cohorts.api.parsing import path_id
from nbcohort.cohorts.api.routes.paths import ID, PREFIX
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.community_directory import community_members, set_directory_opt_in
from nbcohort.cohorts.services.community_library import community_artifacts, community_events
from nbcohort.cohorts.services.community_reuse import copy_community_artifact
from nbcohort.cohorts.services.members import member_dict
from nbcohort.cohorts.services.skills import set_directory_skills

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
            lambda s, a, c: community_members(
                s, a, c, q=q.q, skill=q.skill, page=q.page, per_page=q.per_page
            )
        )


class CommunityArtifactCopyHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        artifact_id = path_id(raw_id, "artifact", "artifact_id")

        def copy(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            got = copy_community_artifact(s, actor, cohort, artifact_id)
            content = got.pop("content")
            return {**got, "content_b64": base64.b64encode(content).decode("ascii")}

        await self.run(copy, write=True)


class DirectoryPrefHandler(ApiHandler):
    async def put(self) -> None:
        data = self.body(DirectoryPref)

        def work(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            member = s.get_one(Member, actor.member_id)
            set_directory_opt_in(s, actor, member, data.directory_opt_in)
            return {"member": member_dict(member, private=True)}

        await self.run(work, write=True)


class DirectorySkillsHandler(ApiHandler):
    async def put(self) -> None:
        data = self.body(DirectorySkills)

        def work(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            member = s.get_one(Member, actor.member_id)
            set_directory_skills(s, actor, member, data.skills)
            return {"member": member_dict(member, private=True)}

        await self.run(work, write=True)


ROUTES = [
    (rf"{PREFIX}/community/artifacts", CommunityArtifactsHandler),
    (rf"{PREFIX}/community/events", CommunityEventsHandler),
    (rf"{PREFIX}/community/members", CommunityMembersHandler),
    (rf"{PREFIX}/community/artifacts/{ID}/copies", CommunityArtifactCopyHandler),
    (rf"{PREFIX}/me/directory", DirectoryPrefHandler),
    (rf"{PREFIX}/me/directory/skills", DirectorySkillsHandler),
]
