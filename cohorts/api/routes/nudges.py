"""Leader nudges (#16 part 4): a sponsor's weekly list of threads where a leader's reply
would help most."""

from __future__ import annotations

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.routes.paths import PREFIX
from nbcohort.cohorts.services.nudges import leader_nudges

__all__ = ["ROUTES"]


class NudgesHandler(ApiHandler):
    async def get(self) -> None:
        await self.run(lambda s, a, c: leader_nudges(s, a, c))


ROUTES = [(rf"{PREFIX}/nudges", NudgesHandler)]
