"""When things happen: the cohort's events (clinics with sign-ups, routines, deadlines), the
rhythm's plan as a member sees it, and calendars: the member's own signed feed, which a
calendar application fetches without a token (the link's signature is the credential), and
a new link for it when the old one leaked (``services/calendar_link.py``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nbcohort.cohorts.api.answers import database_refusal
from nbcohort.cohorts.api.handler import ApiHandler
from nbcohort.cohorts.api.inputs import DaysQuery
from nbcohort.cohorts.api.parsing import path_id
from nbcohort.cohorts.api.routes.paths import ID, PREFIX
from nbcohort.cohorts.api.security_headers import attachment
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services import calendar
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.cadence_view import cadence_for_member
from nbcohort.cohorts.services.calendar_link import (
    calendar_member,
    calendar_signature,
    rotate_calendar_link,
)
from nbcohort.cohorts.services.errors import NotFound, ServiceError

__all__ = ["ROUTES", "calendar_path"]

_TOKEN = r"([A-Za-z0-9_-]{20,100})"


def calendar_path(key: bytes, member: Member) -> str:
    """The path of a member's current calendar feed (signed: it needs no token)."""
    signature = calendar_signature(key, member.id, member.calendar_link_version or 0)
    return f"{PREFIX}/calendar/{member.id}/{signature}.ics"


class EventsHandler(ApiHandler):
    async def get(self) -> None:
        days = self.query(DaysQuery).days or 60
        await self.run(lambda s, a, c: {"events": calendar.upcoming_events(s, a, c, days)})


class SignupHandler(ApiHandler):
    async def put(self, event_id: str) -> None:
        eid = path_id(event_id, "event", "event_id")
        await self.run(lambda s, a, c: calendar.set_signup(s, a, c, eid, True), write=True)

    async def delete(self, event_id: str) -> None:
        eid = path_id(event_id, "event", "event_id")
        await self.run(lambda s, a, c: calendar.set_signup(s, a, c, eid, False), write=True)


class CadenceHandler(ApiHandler):
    async def get(self) -> None:
        days = self.query(DaysQuery).days or 7
        await self.run(lambda s, a, c: cadence_for_member(s, a, c, days))


class MyCalendarHandler(ApiHandler):
    """Where the member's own calendar feed is (to subscribe to it once)."""

    async def get(self) -> None:
        key = self.ctx.signing_key

        def where(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            if key is None or actor.member_id is None:
                raise NotFound("calendar links are not enabled on this service")
            return {"path": calendar_path(key, s.get_one(Member, actor.member_id))}

        await self.run(where)


class RotateCalendarHandler(ApiHandler):
    """A new link for the member's own feed; the one they had stops working."""

    async def post(self) -> None:
        key = self.ctx.signing_key

        def rotate(s: Session, actor: Actor, cohort: Cohort) -> dict[str, Any]:
            if key is None or actor.member_id is None:
                raise NotFound("calendar links are not enabled on this service")
            member = rotate_calendar_link(s, actor, s.get_one(Member, actor.member_id))
            return {"path": calendar_path(key, member)}

        await self.run(rotate, write=True)


class CalendarFeedHandler(ApiHandler):
    """A member's calendar as text/calendar. A forged, replaced or unknown link, or one of a
    member who left, gets the same answer: no such calendar."""

    public = True

    async def get(self, member_id: str, token: str) -> None:
        key = self.ctx.signing_key
        mid = path_id(member_id, "calendar", "member_id")
        if key is None:
            self.refuse(NotFound("no such calendar"))
            return

        def feed(session: Session) -> bytes:
            member = calendar_member(session, key, mid, token)
            if member is None:
                raise NotFound("no such calendar")
            return calendar.ics_calendar(session, member.cohort, member)

        try:
            payload = await self.ctx.units.read(feed)
        except ServiceError as exc:
            self.refuse(exc)
            return
        except Exception as exc:
            refusal = database_refusal(exc)
            if refusal is None:
                raise
            self.refuse(refusal)
            return
        attachment(self, "text/calendar; charset=utf-8", "cohort.ics")
        self.finish(payload)


ROUTES = [
    (rf"{PREFIX}/events", EventsHandler),
    (rf"{PREFIX}/events/{ID}/signup", SignupHandler),
    (rf"{PREFIX}/cadence", CadenceHandler),
    (rf"{PREFIX}/calendar", MyCalendarHandler),
    (rf"{PREFIX}/me/calendar/rotate", RotateCalendarHandler),
    (rf"{PREFIX}/calendar/{ID}/{_TOKEN}\.ics", CalendarFeedHandler),
]
