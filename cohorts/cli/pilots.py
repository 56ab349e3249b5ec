"""``nbcohort ideas list|decline`` and ``nbcohort pilots list|make|update``: what a
facilitator does with ideas from the command line (the same services the widgets call)."""

from __future__ import annotations

from traitlets import Enum, Unicode

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.plain_text import for_terminal
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.ideas import IDEA_STATES, decline_idea, list_ideas
from nbcohort.cohorts.services.members import find_member
from nbcohort.cohorts.services.pilots import (
    PILOT_STATUSES,
    list_pilots,
    make_pilot,
    update_pilot,
)

__all__ = ["IdeasApp", "PilotsApp"]


def _id(raw: str, what: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        raise CommandError(f"{what} must be a number, not {raw[:40]!r}")
    return int(raw)


class IdeasList(NbCohortCommand):
    name = "ideas list"
    description = "The cohort's ideas with their endorsements (--state escalated: to decide)."
    state = Enum(["", *IDEA_STATES], "", help="Only ideas in this state.").tag(config=True)
    aliases = {**common_aliases, "state": "IdeasList.state"}

    def run(self) -> None:
        with self.store() as store, store.read() as s:
            found = list_ideas(s, Actor.system(), self.cohort(s), self.state or None)
        if not found:
            print("no ideas" + (f" {self.state}" if self.state else ""))
        for i in found:
            print(
                f"idea {i['id']} [{i['state']}] {i['endorsements']}/{i['threshold']} "
                f"by {for_terminal(i['author']['username'] or i['author']['name'])} in "
                f"{for_terminal(i['anchor'])}: {for_terminal(i['excerpt'])}"
            )


class IdeasDecline(NbCohortCommand):
    name = "ideas decline"
    description = (
        "Decline an idea with a reason its author sees: nbcohort ideas decline ID --reason R"
    )
    reason = Unicode("", help="Why the idea is declined (required; its author sees it).").tag(
        config=True
    )
    aliases = {**common_aliases, "reason": "IdeasDecline.reason"}

    def run(self) -> None:
        idea_id = _id(self.arg(0, "the idea's id"), "the idea's id")
        with self.store() as store, store.write() as s:
            cohort = self.cohort(s)
            if not any(i["id"] == idea_id for i in list_ideas(s, Actor.system(), cohort)):
                raise CommandError(f"no idea {idea_id} in cohort {cohort.slug}")
            decline_idea(s, Actor.system(), idea_id, self.reason)
        print(f"declined idea {idea_id}: {for_terminal(self.reason.strip())}")


class IdeasApp(NbCohortCommand):
    name = "ideas"
    description = "Ideas: list (with their endorsements), decline with a reason."
    subcommands = {
        "list": (IdeasList, IdeasList.description),
        "decline": (IdeasDecline, IdeasDecline.description),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: list, decline")


class PilotsList(NbCohortCommand):
    name = "pilots list"
    description = "The cohort's pilots: owner, status, review date (due ones marked)."
    status = Enum(["", *PILOT_STATUSES], "", help="Only pilots with this status.").tag(config=True)
    aliases = {**common_aliases, "status": "PilotsList.status"}

    def run(self) -> None:
        with self.store() as store, store.read() as s:
            found = list_pilots(s, Actor.system(), self.cohort(s), self.status or None)
        if not found:
            print("no pilots" + (f" {self.status}" if self.status else ""))
        for p in found:
            owner = p["owner"]["username"] or p["owner"]["name"] if p["owner"] else "no owner"
            owner, title = for_terminal(owner), for_terminal(p["title"])
            due = " (review due)" if p["review_due"] else ""
            print(f"pilot {p['id']} [{p['status']}] {title} · owner {owner} · review on "
                  f"{p['review_on']}{due} · {p['updates']} updates")  # fmt: skip
            if p["outcome"]:
                print(f"    outcome: {for_terminal(p['outcome'])}")


class PilotsMake(NbCohortCommand):
    name = "pilots make"
    description = (
        "Turn idea ID into a pilot: nbcohort pilots make ID --owner MEMBER --goal G "
        "--measure M --review-on YYYY-MM-DD [--title T]"
    )
    owner = Unicode("", help="The pilot's owner (username or email; required).").tag(config=True)
    goal = Unicode("", help="What the pilot sets out to change (required).").tag(config=True)
    measure = Unicode("", help="How the pilot's effect is measured (required).").tag(config=True)
    review_on = Unicode("", help="When the pilot is reviewed, YYYY-MM-DD (required).").tag(
        config=True
    )
    title = Unicode("", help="A title; empty: the start of the idea's post.").tag(config=True)
    aliases = {
        **common_aliases,
        "owner": "PilotsMake.owner",
        "goal": "PilotsMake.goal",
        "measure": "PilotsMake.measure",
        "review-on": "PilotsMake.review_on",
        "title": "PilotsMake.title",
    }

    def run(self) -> None:
        idea_id = _id(self.arg(0, "the idea's id"), "the idea's id")
        with self.store() as store, store.write() as s:
            cohort = self.cohort(s)
            owner = find_member(s, cohort, self.owner).id if self.owner.strip() else None
            made = make_pilot(
                s,
                Actor.system(),
                cohort,
                idea_id,
                owner_id=owner,
                goal=self.goal,
                measure=self.measure,
                review_on=self.review_on,
                title=self.title,
            )
        print(f"pilot {made['id']} made from idea {idea_id}, owner {self.owner}")


class PilotsUpdate(NbCohortCommand):
    name = "pilots update"
    description = (
        "A status update on pilot ID: nbcohort pilots update ID --note N "
        "[--status done|stopped --outcome O]"
    )
    note = Unicode("", help="The update (Markdown; required).").tag(config=True)
    status = Enum(list(PILOT_STATUSES), "active", help="active, or done/stopped to close it.").tag(
        config=True
    )
    outcome = Unicode("", help="The outcome (required with done or stopped).").tag(config=True)
    aliases = {
        **common_aliases,
        "note": "PilotsUpdate.note",
        "status": "PilotsUpdate.status",
        "outcome": "PilotsUpdate.outcome",
    }

    def run(self) -> None:
        pilot_id = _id(self.arg(0, "the pilot's id"), "the pilot's id")
        with self.store() as store, store.write() as s:
            got = update_pilot(
                s,
                Actor.system(),
                self.cohort(s),
                pilot_id,
                note=self.note,
                status=self.status,
                outcome=self.outcome,
            )
        print(f"pilot {pilot_id} is {got['status']} ({got['updates']} updates)")


class PilotsApp(NbCohortCommand):
    name = "pilots"
    description = "Pilots: list, make one from an idea, post a status update or its outcome."
    subcommands = {
        "list": (PilotsList, PilotsList.description),
        "make": (PilotsMake, PilotsMake.description),
        "update": (PilotsUpdate, PilotsUpdate.description),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: list, make, update")
