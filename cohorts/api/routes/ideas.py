"""Ideas to pilots (#16 part 3): mark a post as an idea, endorse it, list ideas (the
facilitators' escalated list), decline one or make it a pilot; pilots, their status updates
and outcome."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs_ideas import (
    DeclineBody,
    IdeasQuery,
    NewPilot,
    PilotsQuery,
    PilotUpdateBody,
)
from nbcohort.cohorts.api.parsing import path_id
from nbcohort.cohorts.api.routes.paths import ID, PREFIX
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services import ideas, pilots
from nbcohort.cohorts.services.auth import Actor

__all__ = ["ROUTES"]


class MarkIdeaHandler(ApiHandler):
    async def put(self, raw_id: str) -> None:
        post_id = path_id(raw_id, "post", "post_id")
        await self.run(lambda s, a, c: {"idea": ideas.mark_idea(s, a, post_id)}, write=True)


class IdeasHandler(ApiHandler):
    async def get(self) -> None:
        q = self.query(IdeasQuery)

        def work(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            if q.anchor is not None:
                found = ideas.ideas_in_thread(s, a, c.id, anchor=q.anchor).values()
                return {"ideas": [i for i in found if q.state is None or i["state"] == q.state]}
            return {"ideas": ideas.list_ideas(s, a, c, q.state)}

        await self.run(work)


class EndorseHandler(ApiHandler):
    async def put(self, raw_id: str) -> None:
        idea_id = path_id(raw_id, "idea", "idea_id")
        await self.run(lambda s, a, c: {"idea": ideas.endorse_idea(s, a, idea_id)}, write=True)


class DeclineHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        idea_id = path_id(raw_id, "idea", "idea_id")
        reason = self.body(DeclineBody).reason
        await self.run(
            lambda s, a, c: {"idea": ideas.decline_idea(s, a, idea_id, reason)}, write=True
        )


class MakePilotHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        idea_id = path_id(raw_id, "idea", "idea_id")
        data = self.body(NewPilot)

        def work(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            made = pilots.make_pilot(
                s,
                a,
                c,
                idea_id,
                owner_id=data.owner_id,
                goal=data.goal,
                measure=data.measure,
                review_on=data.review_on,
                title=data.title,
            )
            return {"pilot": made}

        await self.run(work, write=True, status=201)


class PilotsHandler(ApiHandler):
    async def get(self) -> None:
        status = self.query(PilotsQuery).status
        await self.run(lambda s, a, c: {"pilots": pilots.list_pilots(s, a, c, status)})


class PilotHandler(ApiHandler):
    async def get(self, raw_id: str) -> None:
        pilot_id = path_id(raw_id, "pilot", "pilot_id")
        await self.run(lambda s, a, c: {"pilot": pilots.pilot_detail(s, a, c, pilot_id)})


class PilotUpdateHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        pilot_id = path_id(raw_id, "pilot", "pilot_id")
        data = self.body(PilotUpdateBody)

        def work(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            done = pilots.update_pilot(
                s, a, c, pilot_id, note=data.note, status=data.status, outcome=data.outcome
            )
            return {"pilot": done}

        await self.run(work, write=True, status=201)


ROUTES = [
    (rf"{PREFIX}/posts/{ID}/idea", MarkIdeaHandler),
    (rf"{PREFIX}/ideas", IdeasHandler),
    (rf"{PREFIX}/ideas/{ID}/endorsement", EndorseHandler),
    (rf"{PREFIX}/ideas/{ID}/decline", DeclineHandler),
    (rf"{PREFIX}/ideas/{ID}/pilot", MakePilotHandler),
    (rf"{PREFIX}/pilots", PilotsHandler),
    (rf"{PREFIX}/pilots/{ID}", PilotHandler),
    (rf"{PREFIX}/pilots/{ID}/updates", PilotUpdateHandler),
]
