"""Moderation: the queue (held posts, flags, appeals) for champions and staff, approving or
rejecting a held post, a member's own moderation status (the code of conduct, their held
posts, their appeals), and appeals filed and decided. Every rule is the services layer's."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import AppealBody, AppealDecision, HeldReject
from nbcohort.cohorts.api.parsing import path_id
from nbcohort.cohorts.api.routes.paths import ID, PREFIX
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services.appeals import appeal_dict, decide_appeal, file_appeal
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.moderation_hold import approve_held, held_dict, reject_held
from nbcohort.cohorts.services.moderation_mine import my_moderation
from nbcohort.cohorts.services.moderation_queue import moderation_queue
from nbcohort.cohorts.services.threads import full_post

__all__ = ["ROUTES"]


class QueueHandler(ApiHandler):
    async def get(self) -> None:
        await self.run(moderation_queue)


class MineHandler(ApiHandler):
    async def get(self) -> None:
        await self.run(my_moderation)


class ApproveHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        held_id, rules = path_id(raw_id, "held post", "held_id"), self.ctx.rules

        def work(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            return {"post": full_post(s, a, approve_held(s, a, held_id, rules))}

        await self.run(work, write=True)


class RejectHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        held_id = path_id(raw_id, "held post", "held_id")
        data = self.body(HeldReject)
        await self.run(
            lambda s, a, c: {"held": held_dict(reject_held(s, a, held_id, data.reason))},
            write=True,
        )


class AppealsHandler(ApiHandler):
    async def post(self) -> None:
        data = self.body(AppealBody)

        def work(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            appeal = file_appeal(s, a, c, data.text, post_id=data.post_id, held_id=data.held_id)
            return {"appeal": appeal_dict(appeal)}

        await self.run(work, write=True, status=201)


class AppealDecisionHandler(ApiHandler):
    async def post(self, raw_id: str) -> None:
        appeal_id, rules = path_id(raw_id, "appeal", "appeal_id"), self.ctx.rules
        data = self.body(AppealDecision)

        def work(s: Session, a: Actor, c: Cohort) -> dict[str, Any]:
            appeal = decide_appeal(s, a, appeal_id, data.decision, data.reason, rules)
            return {"appeal": appeal_dict(appeal)}

        await self.run(work, write=True)


ROUTES = [
    (rf"{PREFIX}/moderation", QueueHandler),
    (rf"{PREFIX}/moderation/mine", MineHandler),
    (rf"{PREFIX}/moderation/held/{ID}/approve", ApproveHandler),
    (rf"{PREFIX}/moderation/held/{ID}/reject", RejectHandler),
    (rf"{PREFIX}/appeals", AppealsHandler),
    (rf"{PREFIX}/appeals/{ID}/decision", AppealDecisionHandler),
]
