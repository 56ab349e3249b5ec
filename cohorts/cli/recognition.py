"""``nbcohort badges backfill|list|revoke`` and ``nbcohort champions suggest|appoint``."""

from __future__ import annotations

from sqlalchemy import select
from traitlets import Int, Unicode

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.models import BadgeCheck, Member
from nbcohort.cohorts.plain_text import for_terminal
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.badge_awards import list_badges, revoke_badge
from nbcohort.cohorts.services.badges import award_if_due, rules_of
from nbcohort.cohorts.services.champions import appoint_champion, suggest_champions
from nbcohort.cohorts.services.members import find_member

__all__ = ["BadgesApp", "ChampionsApp"]


class BadgesBackfill(NbCohortCommand):
    name = "badges backfill"
    description = (
        "Evaluate every badge rule over the whole activity log and award what is due (after "
        "adding or changing a rule; the cadence tick does the same every minute). Never awards "
        "a badge twice, never takes one back."
    )

    def run(self) -> None:
        with self.store() as store, store.write() as s:
            cohort = self.cohort(s)
            check = s.get(BadgeCheck, cohort.id)
            if check is not None:  # evaluate even if nothing changed since the last tick
                check.rules_sha = ""
            awarded = award_if_due(s, cohort)
        made = {k: n for k, n in awarded.items() if n}
        print(
            "awarded " + ", ".join(f"{n} {k}" for k, n in made.items())
            if made
            else "no new badges: every member has the badges the rules give them"
        )


class BadgesList(NbCohortCommand):
    name = "badges list"
    description = "The badges shown per member (revoked ones left out), and the rules."

    def run(self) -> None:
        with self.store() as store, store.read() as s:
            cohort = self.cohort(s)
            rules = rules_of(cohort)
            shown = list_badges(s, Actor.system(), cohort)
            names = dict(
                s.execute(
                    select(Member.id, Member.username).where(Member.cohort_id == cohort.id)
                ).all()
            )
        for r in rules:
            print(f"rule {r.key}: {r.title} ({r.event} >= {r.count})")
        for member_id, badges in sorted(shown.items(), key=lambda kv: names.get(kv[0], "")):
            print(f"{names.get(member_id, member_id)}: {', '.join(b['badge'] for b in badges)}")


class BadgesRevoke(NbCohortCommand):
    name = "badges revoke"
    description = "Take a badge back, saying why (logged; the member sees the reason): "
    "nbcohort badges revoke MEMBER BADGE --reason '...'"
    reason = Unicode("", help="Why the badge is revoked (required; the member sees it).").tag(
        config=True
    )
    aliases = {**common_aliases, "reason": "BadgesRevoke.reason"}

    def run(self) -> None:
        who, badge = self.arg(0, "the member (username or email)"), self.arg(1, "the badge key")
        with self.store() as store, store.write() as s:
            cohort = self.cohort(s)
            member = find_member(s, cohort, who)
            revoke_badge(s, Actor.system(), cohort, member.id, badge, self.reason)
        print(f"revoked {badge} from {who}: {self.reason.strip()}")


class BadgesApp(NbCohortCommand):
    name = "badges"
    description = "Badges: backfill after a rule changed, list, revoke with a reason."
    subcommands = {
        "backfill": (BadgesBackfill, BadgesBackfill.description),
        "list": (BadgesList, BadgesList.description),
        "revoke": (BadgesRevoke, BadgesRevoke.description),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: backfill, list, revoke")


class ChampionsSuggest(NbCohortCommand):
    name = "champions suggest"
    description = (
        "Suggest champions from what members did for others (helpful replies, reviews rated "
        "helpful, artifacts reused, practices applied), covering as many teams as possible; "
        "one line of explanation per pick. Members who opted out are never suggested."
    )
    count = Int(12, help="How many champions to suggest (1 to 100).").tag(config=True)
    aliases = {**common_aliases, "count": "ChampionsSuggest.count"}

    def run(self) -> None:
        with self.store() as store, store.read() as s:
            picks = suggest_champions(s, Actor.system(), self.cohort(s), self.count)
        if not picks:
            print("no candidates yet: nobody has a helpful reply, a reuse or a rated review")
        for n, p in enumerate(picks, start=1):
            who = for_terminal(f"{p.username} ({p.name}, {p.team or 'no team'})")
            print(f"{n:2}. {who}: {for_terminal(p.why)}")


class ChampionsAppoint(NbCohortCommand):
    name = "champions appoint"
    description = "Grant MEMBER the champion role (logged): nbcohort champions appoint MEMBER"

    def run(self) -> None:
        who = self.arg(0, "the member (username or email)")
        with self.store() as store, store.write() as s:
            cohort = self.cohort(s)
            member = appoint_champion(s, Actor.system(), cohort, find_member(s, cohort, who))
            print(f"{member.username} is now a champion of {cohort.slug}")


class ChampionsApp(NbCohortCommand):
    name = "champions"
    description = "Champions across teams: suggest candidates, appoint one."
    subcommands = {
        "suggest": (ChampionsSuggest, ChampionsSuggest.description),
        "appoint": (ChampionsAppoint, ChampionsAppoint.description),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: suggest, appoint")
