"""The pulse survey: the one open now, an answer to it, and results over time."""

from __future__ import annotations

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import PulseAnswerBody
from nbcohort.cohorts.api.parsing import path_id
from nbcohort.cohorts.api.routes.configured import configured
from nbcohort.cohorts.api.routes.paths import ID, PREFIX
from nbcohort.cohorts.config import MetricsSettings, PrivacySettings
from nbcohort.cohorts.services import pulse

__all__ = ["ROUTES"]


class CurrentPulseHandler(ApiHandler):
    async def get(self) -> None:
        await self.run(lambda s, a, c: pulse.current_survey(s, a, c))


class PulseAnswerHandler(ApiHandler):
    async def post(self, survey_id: str) -> None:
        sid = path_id(survey_id, "pulse survey", "survey_id")
        body = self.body(PulseAnswerBody)
        await self.run(
            lambda s, a, c: pulse.answer_survey(s, a, c, sid, body.scores, body.text),
            write=True,
            status=201,
        )


class PulseResultsHandler(ApiHandler):
    async def get(self) -> None:
        settings = configured(PrivacySettings, self.ctx.rules)
        metrics = configured(MetricsSettings, self.ctx.rules)
        await self.run(lambda s, a, c: pulse.survey_results(s, a, c, settings, metrics=metrics))


ROUTES = [
    (rf"{PREFIX}/pulse", CurrentPulseHandler),
    (rf"{PREFIX}/pulse/results", PulseResultsHandler),
    (rf"{PREFIX}/pulse/{ID}/answers", PulseAnswerHandler),
]
