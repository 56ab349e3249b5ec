"""``nbcohort moderation list|approve|reject|decide``: the moderation queue from the command
line (held posts, flagged or hidden posts, open appeals), as the local administrator."""

from __future__ import annotations

import html
import re

from traitlets import Enum, Unicode

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.models import Appeal, HeldPost
from nbcohort.cohorts.plain_text import for_terminal
from nbcohort.cohorts.services.appeals import decide_appeal
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.moderation_hold import approve_held, reject_held
from nbcohort.cohorts.services.moderation_queue import moderation_queue

__all__ = ["ModerationApp"]

_TAG = re.compile(r"<[^>]*>")


def _text(fragment: str, limit: int = 100) -> str:
    """Sanitized HTML as one line of plain text for a terminal."""
    return for_terminal(" ".join(html.unescape(_TAG.sub(" ", fragment)).split())[:limit])


def _id(command: NbCohortCommand, what: str) -> int:
    raw = command.arg(0, what)
    if not raw.isdigit() or not 1 <= int(raw) <= 2**31 - 1:
        raise CommandError(f"{what} must be a number, not {raw!r}")
    return int(raw)


class ModerationList(NbCohortCommand):
    name = "moderation list"
    description = "What waits: held posts, flagged or hidden posts, open appeals."

    def run(self) -> None:
        with self.store() as store, store.read() as s:
            queue = moderation_queue(s, Actor.system(), self.cohort(s))
        for h in queue["held"]:
            who = for_terminal(h["author"]["username"]) if h["author"] else "?"
            print(f"held {h['id']}: {who} in {h['anchor']}: {_text(h['html'])}")
        for f in queue["flags"]:
            state = "hidden" if f["hidden"] else f"{f['open_flags']} open flag(s)"
            print(f"post {f['post_id']}: {state} in {f['anchor']}: {_text(f['html'])}")
        for a in queue["appeals"]:
            print(
                f"appeal {a['id']} on {a['subject']} by {for_terminal(a['member']['name'])}: "
                f"{_text(a['html'])}"
            )
        if not any(queue[k] for k in ("held", "flags", "appeals")):
            print("nothing waits for moderation")


class _InCohort(NbCohortCommand):
    def check(self, s: object, row: HeldPost | Appeal | None, what: str, cohort_id: int) -> None:
        if row is None or row.cohort_id != cohort_id:
            raise CommandError(f"no {what} in cohort {self.cohort_slug}")


class ModerationApprove(_InCohort):
    name = "moderation approve"
    description = "Publish a held post: nbcohort moderation approve HELD_ID"

    def run(self) -> None:
        held_id = _id(self, "the held post's id")
        with self.store() as store, store.write() as s:
            cohort = self.cohort(s)
            self.check(s, s.get(HeldPost, held_id), f"held post {held_id}", cohort.id)
            post = approve_held(s, Actor.system(), held_id)
            print(f"held post {held_id} approved: post {post.id}")


class ModerationReject(_InCohort):
    name = "moderation reject"
    description = "Turn a held post down: nbcohort moderation reject HELD_ID --reason '...'"
    reason = Unicode("", help="Why (required; the author reads it).").tag(config=True)
    aliases = {**common_aliases, "reason": "ModerationReject.reason"}

    def run(self) -> None:
        held_id = _id(self, "the held post's id")
        with self.store() as store, store.write() as s:
            cohort = self.cohort(s)
            self.check(s, s.get(HeldPost, held_id), f"held post {held_id}", cohort.id)
            reject_held(s, Actor.system(), held_id, self.reason)
        print(f"held post {held_id} rejected: {self.reason.strip()}")


class ModerationDecide(_InCohort):
    name = "moderation decide"
    description = (
        "Answer an appeal: nbcohort moderation decide APPEAL_ID --decision grant|deny "
        "--reason '...' (granted: the post comes back, a held post is published)"
    )
    decision = Enum(["grant", "deny"], None, allow_none=True, help="grant or deny").tag(config=True)
    reason = Unicode("", help="Why (required; the member reads it).").tag(config=True)
    aliases = {
        **common_aliases,
        "decision": "ModerationDecide.decision",
        "reason": "ModerationDecide.reason",
    }

    def run(self) -> None:
        appeal_id = _id(self, "the appeal's id")
        if self.decision is None:
            raise CommandError("say --decision grant or --decision deny")
        with self.store() as store, store.write() as s:
            cohort = self.cohort(s)
            self.check(s, s.get(Appeal, appeal_id), f"appeal {appeal_id}", cohort.id)
            appeal = decide_appeal(s, Actor.system(), appeal_id, self.decision, self.reason)
            print(f"appeal {appeal_id} {appeal.status}: {self.reason.strip()}")


class ModerationApp(NbCohortCommand):
    name = "moderation"
    description = "The moderation queue: list, approve or reject held posts, decide appeals."
    subcommands = {
        "list": (ModerationList, ModerationList.description),
        "approve": (ModerationApprove, ModerationApprove.description),
        "reject": (ModerationReject, ModerationReject.description),
        "decide": (ModerationDecide, ModerationDecide.description),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: list, approve, reject, decide")
