"""``nbcohort charter new|publish|status``: the cohort's charter, written from the kit's
template, published in versions, acknowledged by members."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

from sqlalchemy import func, select
from traitlets import Bool, Unicode

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.course import CourseError, load_course
from nbcohort.cohorts.models import CharterAck, CharterVersion, Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.charter import new_charter, publish_charter
from nbcohort.cohorts.services.rhythm import rhythm_of

__all__ = ["CharterApp", "CharterNew", "CharterPublish", "CharterStatus"]


class CharterNew(NbCohortCommand):
    name = "charter new"
    description = (
        "Write a two-page charter to edit (purpose and outcomes, who belongs, roles, cadence, "
        "norms, from idea to pilot), filled in from the cohort file: nbcohort charter new "
        "[FILE] (default charter.md)"
    )
    force = Bool(False, help="Overwrite FILE if it exists.").tag(config=True)
    flags = {"force": ({"CharterNew": {"force": True}}, "Overwrite FILE if it exists.")}

    def run(self) -> None:
        dest = Path(self.extra_args[0] if self.extra_args else "charter.md")
        if dest.exists() and not self.force:
            raise CommandError(f"{dest} exists: edit it, or pass --force to write it again")
        title = ""  # without a course.toml the cohort's course id is named instead
        with suppress(CourseError):
            title = load_course(self.course_root() / "course.toml").title
        with self.store() as store, store.read() as s:
            cohort = self.cohort(s)
            body = new_charter(s, cohort, rhythm_of(cohort), title)
        dest.write_text(body, "utf-8")
        print(
            f"wrote {dest} ({len(body.split())} words): edit the parts marked ✎, then "
            f"nbcohort charter publish {dest}"
        )


class CharterPublish(NbCohortCommand):
    name = "charter publish"
    description = (
        "Publish FILE as the charter's next version; members see what changed and "
        "acknowledge it again: nbcohort charter publish FILE --note 'what changed'"
    )
    note = Unicode("", help="What changed since the last version.").tag(config=True)
    aliases = {**common_aliases, "note": "CharterPublish.note"}

    def run(self) -> None:
        path = Path(self.arg(0, "the charter's Markdown file"))
        try:
            body = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"{path}: {exc}") from None
        with self.store() as store, store.write() as s:
            version = publish_charter(s, Actor.system(), self.cohort(s), body, self.note)
        print(f"published charter version {version.version}: {version.note}")


class CharterStatus(NbCohortCommand):
    name = "charter status"
    description = "The charter's versions and how many active members acknowledged each."

    def run(self) -> None:
        with self.store() as store, store.read() as s:
            cohort = self.cohort(s)
            members = s.scalar(
                select(func.count())
                .select_from(Member)
                .where(Member.cohort_id == cohort.id, Member.active.is_(True))
            )
            acks = dict(
                s.execute(
                    select(CharterAck.version, func.count())
                    .where(CharterAck.cohort_id == cohort.id)
                    .group_by(CharterAck.version)
                ).all()
            )
            versions = s.scalars(
                select(CharterVersion)
                .where(CharterVersion.cohort_id == cohort.id)
                .order_by(CharterVersion.version)
            ).all()
        if not versions:
            print("no charter published yet: nbcohort charter new, then charter publish FILE")
        for v in versions:
            print(
                f"version {v.version} ({v.published_at:%Y-%m-%d}): "
                f"{acks.get(v.version, 0)} of {members} members acknowledged. {v.note}"
            )


class CharterApp(NbCohortCommand):
    name = "charter"
    description = "The cohort's charter: write, publish, see who acknowledged it."
    subcommands = {
        "new": (CharterNew, CharterNew.description),
        "publish": (CharterPublish, CharterPublish.description),
        "status": (CharterStatus, CharterStatus.description),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: new, publish, status")
