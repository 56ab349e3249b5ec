"""A member's own data: their export as a ZIP, and leaving the cohort."""

from __future__ import annotations

import asyncio
import tempfile
from typing import IO, Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from nbcohort.cohorts.api.answers import database_refusal
from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import LeaveBody
from nbcohort.cohorts.api.routes.configured import configured
from nbcohort.cohorts.api.routes.paths import PREFIX
from nbcohort.cohorts.api.security_headers import attachment
from nbcohort.cohorts.config import PrivacySettings
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import ServiceError
from nbcohort.cohorts.services.export import export_name, write_export
from nbcohort.cohorts.services.leaving import leave

__all__ = ["ROUTES"]

_CHUNK = 256 * 1024


class ExportHandler(ApiHandler):
    """GET /me/export: the caller's ZIP, built from one snapshot into a private temporary
    file (unnamed, gone when closed) off the event loop, then streamed in chunks."""

    async def get(self) -> None:
        if self._finished:
            return
        actor, store = self.actor, self.ctx.store
        assert actor is not None
        settings = configured(PrivacySettings, self.ctx.rules)

        def build(out: IO[bytes]) -> str:
            with store.read(snapshot=True) as s:
                member = s.get_one(Member, actor.member_id)
                write_export(s, member, out, settings, self.ctx.exchange_blobs)
                return export_name(member)

        with tempfile.TemporaryFile(prefix="nbcohort-export-") as out:
            try:
                name = await asyncio.get_running_loop().run_in_executor(None, build, out)
            except ServiceError as exc:
                self.refuse(exc)
                return
            except DBAPIError as exc:
                refusal = database_refusal(exc)
                if refusal is None:
                    raise
                self.refuse(refusal)
                return
            size = out.tell()
            out.seek(0)
            attachment(self, "application/zip", name)
            self.set_header("Content-Length", str(size))
            while chunk := out.read(_CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish()


class LeaveHandler(ApiHandler):
    """POST /me/leave {"confirm": "leave", "reason": ...}: the caller leaves the cohort."""

    async def post(self) -> None:
        body = self.body(LeaveBody)
        settings = configured(PrivacySettings, self.ctx.rules)

        def go(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            member = s.get_one(Member, actor.member_id)
            return leave(s, actor, member, reason=body.reason, settings=settings).as_dict()

        await self.run(go, write=True)
        if self.actor is not None and self.actor.member_id is not None:
            self.ctx.auth.forget_member(self.actor.member_id)  # now, not in a few seconds


ROUTES = [
    (rf"{PREFIX}/me/export", ExportHandler),
    (rf"{PREFIX}/me/leave", LeaveHandler),
]
