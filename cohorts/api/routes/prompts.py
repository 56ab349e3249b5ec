"""Micro-prompts and "I applied this": the daily question and its answers, and the practices
members applied at work."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import Answer, PracticeNote, PromptQuery
from nbcohort.cohorts.api.routes.paths import NAME, PREFIX
from nbcohort.cohorts.models import Cohort, HeldPost
from nbcohort.cohorts.services import practices, prompts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.moderation_hold import held_dict
from nbcohort.cohorts.services.threads import full_post

__all__ = ["ROUTES"]

_KEY = r"([a-z0-9-]{1,64})"


class PromptHandler(ApiHandler):
    async def get(self, key: str) -> None:
        q, rules = self.query(PromptQuery), self.ctx.rules
        wanted = None if key == "current" else key
        await self.run(lambda s, a, c: prompts.get_prompt(s, a, c, wanted, rules, q.before))


class PromptAnswerHandler(ApiHandler):
    async def post(self, key: str) -> None:
        data, rules = self.body(Answer), self.ctx.rules

        def answer(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            post = prompts.answer_prompt(s, actor, cohort, key, data.body, rules)
            if isinstance(post, HeldPost):  # a new member's first answer waits for approval
                return held_dict(post)
            return full_post(s, actor, post)

        await self.run(answer, write=True, status=201)


class PracticeHandler(ApiHandler):
    async def get(self, practice: str) -> None:
        await self.run(lambda s, a, c: practices.applied_status(s, a, c, practice))

    async def put(self, practice: str) -> None:
        data = self.body(PracticeNote)
        await self.run(
            lambda s, a, c: practices.mark_applied(s, a, c, practice, data.note), write=True
        )


ROUTES = [
    (rf"{PREFIX}/prompts/{_KEY}", PromptHandler),
    (rf"{PREFIX}/prompts/{_KEY}/answer", PromptAnswerHandler),
    (rf"{PREFIX}/practices/{NAME}", PracticeHandler),
]
