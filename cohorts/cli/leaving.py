"""``nbcohort roster leave`` and ``roster export``: a member leaves (an instructor's act, run
by the local administrator), and a member's own export written to a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from traitlets import Unicode

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.config import PrivacySettings
from nbcohort.cohorts.config_exchange import ExchangeSettings
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.exchange_blobs import blob_store
from nbcohort.cohorts.services.export import write_export
from nbcohort.cohorts.services.leaving import leave
from nbcohort.cohorts.services.members import find_member

__all__ = ["RosterExport", "RosterLeave"]


class RosterLeave(NbCohortCommand):
    name = "roster leave"
    description = (
        "MEMBER (username or email) leaves the cohort: tokens revoked, unsent email "
        "cancelled, shown as 'former member' everywhere, posts kept or removed, logged with "
        "the reason; peer reviews they owe in open rounds whose packets the service keeps move "
        "to the backup pool. Running it again changes nothing."
    )
    posts = Unicode("", help="keep or remove the member's posts; empty: the charter's rule.").tag(
        config=True
    )
    reason = Unicode("", help="Why the member leaves (recorded in the moderation log).").tag(
        config=True
    )
    aliases = {**common_aliases, "posts": "RosterLeave.posts", "reason": "RosterLeave.reason"}

    def run(self) -> None:
        who = self.arg(0, "the member (username or email)")
        if self.posts not in ("", "keep", "remove"):
            raise CommandError(f"--posts must be keep or remove, not {self.posts!r}")
        if not self.reason.strip():
            raise CommandError("--reason is required: say why the member leaves")
        with self.store() as store, store.write() as s:
            member = find_member(s, self.cohort(s), who)
            report = leave(
                s,
                Actor.system(),
                member,
                reason=self.reason,
                posts=self.posts or None,
                settings=PrivacySettings(parent=self),
            )
        if report.already:
            print(f"{who} had already left; nothing changed")
            return
        print(
            f"{who} left: posts {report.posts} ({report.posts_removed} removed), "
            f"{report.tokens_revoked} token(s) revoked, {report.emails_cancelled} email(s) "
            "cancelled"
        )
        for pilot_id in report.pilots_orphaned:
            print(f"  pilot {pilot_id} lost its owner; the facilitators were told")
        for assignment, count in sorted(report.reviews_moved.items()):
            print(
                f"  {count} review(s) owed in the open round {assignment!r} moved to the backup "
                f"pool (see 'nbcohort review status {assignment}')"
            )
        for assignment, why in sorted(report.reviews_left.items()):
            print(
                f"  reviews owed in the open round {assignment!r} not moved: {why}; move them "
                f"with 'nbcohort review reassign {assignment} --due ...'"
            )


class RosterExport(NbCohortCommand):
    name = "roster export"
    description = "Write MEMBER's own data (what my_data() gives them) as a ZIP to FILE."

    def run(self) -> None:
        who = self.arg(0, "the member (username or email)")
        dest = Path(self.arg(1, "the ZIP file to write"))
        if not dest.parent.is_dir():
            raise CommandError(f"{dest.parent}: no such folder")
        settings = PrivacySettings(parent=self)
        exchange = blob_store(ExchangeSettings(parent=self), self.settings().data_dir)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        try:
            with self.store() as store, store.read(snapshot=True) as s, os.fdopen(fd, "wb") as out:
                member = find_member(s, self.cohort(s), who)
                counts = write_export(s, member, out, settings, exchange)
            os.replace(tmp, dest)  # complete, or not there at all
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        print(f"wrote {dest}: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
