"""Joining the cohort: the charter (read it, see what changed, acknowledge it) and the
member's onboarding steps."""

from __future__ import annotations

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import CharterAckBody
from nbcohort.cohorts.api.routes.paths import PREFIX
from nbcohort.cohorts.services import charter, onboarding

__all__ = ["ROUTES"]

_STEP = r"([a-z0-9][a-z0-9-]{0,62})"


class CharterHandler(ApiHandler):
    async def get(self) -> None:
        await self.run(charter.charter_view)


class CharterAckHandler(ApiHandler):
    async def post(self) -> None:
        data = self.body(CharterAckBody)
        await self.run(lambda s, a, c: charter.ack_charter(s, a, c, data.version), write=True)


class OnboardingHandler(ApiHandler):
    async def get(self) -> None:
        await self.run(onboarding.onboarding_status)


class OnboardingDoneHandler(ApiHandler):
    async def put(self, step: str) -> None:
        await self.run(lambda s, a, c: onboarding.mark_step_done(s, a, c, step), write=True)


ROUTES = [
    (rf"{PREFIX}/charter", CharterHandler),
    (rf"{PREFIX}/charter/ack", CharterAckHandler),
    (rf"{PREFIX}/onboarding", OnboardingHandler),
    (rf"{PREFIX}/onboarding/{_STEP}/done", OnboardingDoneHandler),
]
