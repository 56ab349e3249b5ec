"""The cohort's engagement metrics, as the caller may see them."""

from __future__ import annotations

from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import MetricsQuery
from nbcohort.cohorts.api.routes.configured import configured
from nbcohort.cohorts.api.routes.paths import PREFIX
from nbcohort.cohorts.config import MetricsSettings
from nbcohort.cohorts.services.metrics import MetricsCache, cohort_metrics

__all__ = ["ROUTES"]

_CACHE = MetricsCache()  # one per service process


class MetricsHandler(ApiHandler):
    async def get(self) -> None:
        window = self.query(MetricsQuery).window
        settings = configured(MetricsSettings, self.ctx.rules)
        await self.run(
            lambda s, a, c: cohort_metrics(
                s, a, c, window_days=window, settings=settings, cache=_CACHE
            )
        )


ROUTES = [(rf"{PREFIX}/metrics", MetricsHandler)]
