"""Who is here: the service's health, the caller's own membership and rules, the roster."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from nbcohort import cohorts as _pkg
from nbcohort.cohorts.api.answers import Refusal, database_refusal, encode
from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.routes.paths import PREFIX
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services import members
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cohort_registry import cohort_summary

__all__ = ["ROUTES"]


class HealthHandler(ApiHandler):
    """Whether the service can reach its database; no token needed, nothing about anyone."""

    public = True

    async def get(self) -> None:
        def ping(session: Session) -> None:
            session.execute(select(1))

        try:
            await self.ctx.units.read(ping)
        except DBAPIError as exc:
            self.refuse(database_refusal(exc) or Refusal(503, "unavailable", "no database"))
            return
        self.finish(encode({"status": "ok", "version": _pkg.__version__}))


class MeHandler(ApiHandler):
    async def get(self) -> None:
        rules = self.ctx.rules

        def me(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            member = s.get_one(Member, actor.member_id)
            return {
                "member": members.member_dict(member, private=True),
                "cohort": cohort_summary(s, actor, cohort),
                "rules": {
                    "reactions": list(rules.reactions),
                    "max_post_chars": rules.max_post_chars,
                    "licenses": list(rules.licenses),
                    "max_artifact_bytes": rules.max_artifact_bytes,
                },
            }

        await self.run(me)


class MembersHandler(ApiHandler):
    async def get(self) -> None:
        await self.run(
            lambda s, a, c: {
                "members": [members.member_dict(m) for m in members.list_members(s, a, c)]
            }
        )


ROUTES = [
    (rf"{PREFIX}/health", HealthHandler),
    (rf"{PREFIX}/me", MeHandler),
    (rf"{PREFIX}/members", MembersHandler),
]
