"""``POST /api/v1/watch``: the long-poll a kernel's live widgets share.

The body has the marks the widgets show (``inputs.Watch``): thread versions by anchor and the
member's notifications mark. The answer comes as soon as one differs, ``{"changed": true,
"threads": {anchor: version}, "notifications": mark}``, or ``{"changed": false}`` after the
wait. Who may watch what is ``services/live.py``'s decision, made before anything waits.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from nbcohort.cohorts.api.answers import database_refusal, encode
from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import Watch
from nbcohort.cohorts.api.live import Waiter, changes
from nbcohort.cohorts.api.routes.paths import PREFIX
from nbcohort.cohorts.services import live
from nbcohort.cohorts.services.errors import Invalid, ServiceError
from nbcohort.cohorts.store import CommitUnknown

__all__ = ["ROUTES"]


class WatchHandler(ApiHandler):
    def initialize(self) -> None:
        super().initialize()
        self._waiter: Waiter | None = None

    async def post(self) -> None:
        data, ctx, actor = self.body(Watch), self.ctx, self.actor
        assert actor is not None
        notes = data.notifications if actor.member_id is not None else None
        if not data.threads and notes is None:
            self.refuse(Invalid("nothing to watch: give threads or notifications", field="threads"))
            return

        def start(session: Session) -> tuple[int, list[str], dict[str, Any]]:
            cohort = ctx.cohort(session, actor.cohort_id)
            anchors = live.watchable(session, actor, cohort, data.threads, ctx.rules)
            return cohort.id, anchors, live.state_of(session, cohort.id, actor.member_id, anchors)

        try:
            cohort_id, anchors, state = await ctx.units.read(start)
        except ServiceError as exc:
            self.refuse(exc)
            return
        except (CommitUnknown, DBAPIError) as exc:
            refusal = database_refusal(exc)
            if refusal is None:
                raise
            self.refuse(refusal)
            return
        waiter = Waiter(
            cohort_id,
            actor.member_id,
            {a: data.threads[raw] for a, raw in zip(anchors, data.threads, strict=True)},
            notes,
            future=asyncio.get_running_loop().create_future(),
        )
        found = changes(waiter, state)
        seconds = min(data.wait, ctx.live.settings.max_wait_seconds)
        if not found and seconds > 0:
            self._waiter = waiter
            try:
                found = await ctx.live.wait(waiter, seconds)
            except ServiceError as exc:
                self.refuse(exc)
                return
        if self._finished or self.request.connection.stream.closed():  # type: ignore[union-attr]
            return
        self.finish(encode({"changed": bool(found), **found}))

    def on_connection_close(self) -> None:
        """The kernel went away: its watch stops waiting (and a body cut off halfway is
        given up, or the request would wait for it forever)."""
        waiter = self._waiter
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result({})
        super().on_connection_close()


ROUTES = [(rf"{PREFIX}/watch", WatchHandler)]
