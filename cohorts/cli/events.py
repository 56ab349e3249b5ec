"""``nbcohort events export|url|list``: the cohort's calendar (clinics, routines, deadlines)."""

from __future__ import annotations

import sys
from pathlib import Path

from traitlets import Bool, Int, Unicode

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.config import ClientSettings, ServiceSettings
from nbcohort.cohorts.plain_text import for_terminal
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.calendar import ics_calendar, upcoming_events
from nbcohort.cohorts.services.calendar_link import rotate_calendar_link
from nbcohort.cohorts.services.members import find_member
from nbcohort.cohorts.signing import load_key

__all__ = ["EventsApp", "EventsExport", "EventsList", "EventsUrl"]


class EventsExport(NbCohortCommand):
    name = "events export"
    description = (
        "Write the cohort's calendar (RFC 5545: clinics, weekly routines as RRULEs, deadlines, "
        "in the cohort's time zone) for Google Calendar, Outlook or Thunderbird: nbcohort "
        "events export --ics FILE"
    )
    ics = Unicode("", help="The .ics file to write.").tag(config=True)
    aliases = {**common_aliases, "ics": "EventsExport.ics"}

    def run(self) -> None:
        target = self.ics or (self.extra_args[0] if self.extra_args else "")
        if not target:
            raise CommandError("where to? nbcohort events export --ics FILE")
        with self.store() as store, store.read() as s:
            cohort = self.cohort(s)
            data = ics_calendar(s, cohort)
        Path(target).write_bytes(data)
        print(f"wrote {target}: {data.count(b'BEGIN:VEVENT')} events of {cohort.slug!r}")


class EventsUrl(NbCohortCommand):
    name = "events url"
    description = (
        "A member's own calendar link (signed, read-only; it needs no token): nbcohort events "
        "url MEMBER; with --new, a new link at the member's request (the old one stops "
        "working; recorded in the activity log)"
    )
    new = Bool(False, help="Replace the member's link first: the one they had stops working.").tag(
        config=True
    )
    flags = {"new": ({"EventsUrl": {"new": True}}, "Give the member a new link.")}

    def run(self) -> None:
        from nbcohort.cohorts.api.routes.events import calendar_path

        who = self.arg(0, "the member (username or email)")
        base = ServiceSettings(parent=self).public_base(ClientSettings(parent=self).url)
        key = load_key(self.settings().signing_key_path())
        with self.store() as store, store.write() if self.new else store.read() as s:
            member = find_member(s, self.cohort(s), who)
            if self.new:
                rotate_calendar_link(s, Actor.system(), member)
                print(f"{who}: a new calendar link; the old one stops working", file=sys.stderr)
            path = calendar_path(key, member)
        print(base.rstrip("/") + path)


class EventsList(NbCohortCommand):
    name = "events list"
    description = "The cohort's events in the next days, in the cohort's time zone."
    days = Int(60, help="How many days ahead.").tag(config=True)
    aliases = {**common_aliases, "days": "EventsList.days"}

    def run(self) -> None:
        with self.store() as store, store.read() as s:
            cohort = self.cohort(s)
            viewer = Actor(None, cohort.id, "system", timezone=cohort.timezone)
            events = upcoming_events(s, viewer, cohort, self.days)
        for e in events:
            weekly = " (weekly)" if e["weekly"] else ""
            signups = f", {e['signups']} signed up" if e["signups"] is not None else ""
            print(f"{e['local']:<22} {e['kind']:<9} {for_terminal(e['title'])}{weekly}{signups}")
        if not events:
            print("nothing in the next", self.days, "days")


class EventsApp(NbCohortCommand):
    name = "events"
    description = "The cohort's calendar: export it, list it, a member's own link."
    subcommands = {
        "export": (EventsExport, EventsExport.description),
        "url": (EventsUrl, EventsUrl.description),
        "list": (EventsList, EventsList.description),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: export, url, list")
