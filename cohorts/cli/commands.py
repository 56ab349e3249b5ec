"""The administrative commands: cohorts, roster, tokens, schema, archives, the service."""

from __future__ import annotations

import asyncio
import csv
import os
import socket
import sys
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from traitlets import Bool, TraitError, Unicode

from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.cli.course import read_course
from nbcohort.cohorts.cli.leaving import RosterExport, RosterLeave
from nbcohort.cohorts.config import (
    CommunitySettings,
    ExchangeSettings,
    HubSettings,
    LiveSettings,
    ServiceSettings,
)
from nbcohort.cohorts.schema import current_revision, head_revision
from nbcohort.cohorts.services import archive, roster
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort, list_cohorts
from nbcohort.cohorts.services.course_content import sync_course
from nbcohort.cohorts.services.members import find_member, list_members
from nbcohort.cohorts.store import Store

if TYPE_CHECKING:
    from tornado.web import Application

    from nbcohort.cohorts.mail.mailer import Mailer

SYSTEM = Actor.system()


def _date(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{field} must be a date like 2026-03-01, not {value!r}") from None


class UpgradeDb(NbCohortCommand):
    name = "upgrade-db"
    description = "Create the community database, or upgrade its schema to this version."

    def run(self) -> None:
        url = self.settings().resolved_db_url()
        with closing(Store(url)) as bare:
            before = current_revision(bare.engine)
        with self.store(upgrade=True) as store:
            after = current_revision(store.engine)
        if before == after:
            print(f"database already at revision {after}: {url}")
        else:
            print(f"database upgraded from {before or 'empty'} to {after}: {url}")


class CohortCreate(NbCohortCommand):
    name = "cohort create"
    description = "Create a cohort: nbcohort cohort create SLUG --title 'Spring 2026'"
    title = Unicode("", help="The cohort's title.").tag(config=True)
    course = Unicode("", help="The course the cohort takes.").tag(config=True)
    starts = Unicode("", help="First day (YYYY-MM-DD).").tag(config=True)
    ends = Unicode("", help="Last day (YYYY-MM-DD).").tag(config=True)
    aliases = {
        **common_aliases,
        "title": "CohortCreate.title",
        "course": "CohortCreate.course",
        "starts": "CohortCreate.starts",
        "ends": "CohortCreate.ends",
    }

    def run(self) -> None:
        slug = self.arg(0, "the cohort's slug")
        root = self.course_root()
        course = read_course(root) if (root / "course.toml").is_file() else None
        with self.store(upgrade=True) as store, store.write() as s:
            cohort = create_cohort(
                s,
                SYSTEM,
                slug,
                self.title or slug,
                course=self.course,
                starts_on=_date(self.starts, "starts"),
                ends_on=_date(self.ends, "ends"),
            )
            said = sync_course(s, SYSTEM, cohort, course) if course else "no course.toml"
        print(f"created cohort {cohort.slug!r} ({cohort.title}): {said}")


class CohortList(NbCohortCommand):
    name = "cohort list"
    description = "List the cohorts in the store."

    def run(self) -> None:
        with self.store() as store, store.read() as s:
            for c in list_cohorts(s):
                print(f"{c.slug}\t{c.title}")


class CohortApp(NbCohortCommand):
    name = "cohort"
    description = "Create and list cohorts; check and apply a cohort file."
    subcommands = {
        "create": (CohortCreate, CohortCreate.description),
        "list": (CohortList, CohortList.description),
        "validate": (
            "nbcohort.cohorts.cli.cohort_file.CohortValidate",
            "Check a cohort file: every problem, with file, key and line.",
        ),
        "apply": (
            "nbcohort.cohorts.cli.cohort_file.CohortApply",
            "Create or update the cohort a cohort file defines (safe to run again).",
        ),
        "graduate": (
            "nbcohort.cohorts.cli.graduation.CohortGraduate",
            "End the formal course: learners become alumni in the community of practice.",
        ),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: create, list, validate, apply, graduate")


class RosterImport(NbCohortCommand):
    name = "roster import"
    description = (
        "Import members from a CSV with columns name,email,team,role (optional timezone, "
        "username). Re-importing updates members by email; a file with any bad row imports "
        "nothing and every problem is listed with its line number."
    )
    deactivate_missing = Bool(False, help="Deactivate learners who are not in the file.").tag(
        config=True
    )
    flags = {
        "deactivate-missing": (
            {"RosterImport": {"deactivate_missing": True}},
            "Deactivate learners who are not in the file.",
        )
    }

    def run(self) -> None:
        path = Path(self.arg(0, "the roster CSV file"))
        if not path.is_file():
            raise CommandError(f"{path}: no such file")
        with self.store() as store:
            with store.write() as s:
                report = roster.import_roster(
                    s,
                    SYSTEM,
                    self.cohort(s),
                    path,
                    filename=str(path),
                    deactivate_missing=self.deactivate_missing,
                )
            print(report.summary())


class RosterList(NbCohortCommand):
    name = "roster list"
    description = "Write the cohort's active members as CSV (the import format) to stdout."

    def run(self) -> None:
        with self.store() as store, store.read() as s:
            out = csv.writer(sys.stdout)
            out.writerow(["name", "email", "team", "role", "timezone", "username"])
            for m in list_members(s, SYSTEM, self.cohort(s)):
                out.writerow([m.name, m.email, m.team, m.role, m.timezone, m.username])


class RosterApp(NbCohortCommand):
    name = "roster"
    description = "Import and list the cohort's roster."
    subcommands = {
        "import": (RosterImport, "Import or update members from a CSV file."),
        "list": (RosterList, RosterList.description),
        "leave": (RosterLeave, RosterLeave.description),
        "export": (RosterExport, RosterExport.description),
    }

    def run(self) -> None:
        raise CommandError("choose a subcommand: import, list")


class TokenCommand(NbCohortCommand):
    name = "token"
    description = "Mint an API token for a member (by username or email); it is shown once."
    note = Unicode("", help="What the token is for.").tag(config=True)
    aliases = {**common_aliases, "note": "TokenCommand.note"}

    def run(self) -> None:
        who = self.arg(0, "the member (username or email)")
        if ServiceSettings(parent=self).auth == "hub":  # the service would never accept it
            raise CommandError(
                "c.ServiceSettings.auth is 'hub': members' kernels send their own hub token "
                "(JUPYTERHUB_API_TOKEN); there is no nbcohort token to mint"
            )
        with self.store() as store:
            with store.write() as s:
                token = mint_token(s, SYSTEM, find_member(s, self.cohort(s), who), self.note)
            print(token)


class ExportCommand(NbCohortCommand):
    name = "export"
    description = "Write the whole community to a portable archive (zip of JSON Lines)."

    def run(self) -> None:
        dest = Path(self.arg(0, "the archive file to write"))
        if dest.exists():
            raise CommandError(f"{dest} exists; choose a new file name")
        with self.store() as store:
            with store.read(snapshot=True) as s:
                manifest = archive.export_archive(s, dest)
            print(f"exported {manifest.summary()} to {dest}")


class ImportCommand(NbCohortCommand):
    name = "import"
    description = "Load an archive written by 'nbcohort export' into an empty database."

    def run(self) -> None:
        src = Path(self.arg(0, "the archive file to read"))
        if not src.is_file():
            raise CommandError(f"{src}: no such file")
        with self.store(upgrade=True) as store:
            with store.write() as s:
                manifest = archive.import_archive(s, src)
            print(f"imported {manifest.summary()} from {src}")


class ServeCommand(NbCohortCommand):
    name = "serve"
    description = "Run the community service that widgets and pages talk to."
    aliases = {**common_aliases, "port": "ServiceSettings.port", "ip": "ServiceSettings.ip"}

    def run(self) -> None:
        from nbcohort.cohorts.api.app import make_app
        from nbcohort.cohorts.api.server import CannotListen, freeze_heap, serve

        settings = ServiceSettings(parent=self)
        hub = self._hub(settings)
        if settings.processes < 1:
            raise CommandError(
                f"ServiceSettings.processes must be 1 or more, not {settings.processes}"
            )
        with self.store() as store:  # refuses a database older than this nbcohort
            url = store.url
            if settings.processes == 1:
                app = make_app(
                    store,
                    settings,
                    CommunitySettings(parent=self),
                    signing_key=self.signing_key(),
                    mail=self._mail(),
                    live=LiveSettings(parent=self),
                    hub=hub,
                    exchange=ExchangeSettings(parent=self),
                    data_dir=self.settings().data_dir,
                )
                self._announce(settings, url, 1)
                freeze_heap(settings.gc_young_threshold)
                try:
                    asyncio.run(serve(app, settings))
                except CannotListen as exc:  # said in one line, as with several processes
                    raise CommandError(str(exc)) from None
                self._farewell(app)
                return
        self._serve_workers(settings, hub)

    def _hub(self, settings: ServiceSettings) -> HubSettings | None:
        """Hub identity's settings, checked before anything is served (auth = 'hub')."""
        if settings.auth != "hub":
            return None
        try:
            hub = HubSettings(parent=self)
        except TraitError as exc:  # a hub group naming a role that does not exist
            raise CommandError(str(exc)) from None
        if not hub.api_url:
            raise CommandError(
                "c.ServiceSettings.auth = 'hub' needs the hub's API: set c.HubSettings.api_url "
                "or run the service as a hub service (JUPYTERHUB_API_URL)"
            )
        return hub

    def signing_key(self) -> bytes:
        """The key that signs links that need no token (created in the data dir if missing)."""
        from nbcohort.cohorts.signing import load_key

        return load_key(self.settings().signing_key_path())

    def _mail(self) -> Mailer:
        """What the unsubscribe page needs: the mail settings and the signing key."""
        from nbcohort.cohorts.cli.mail import mailer_for

        return mailer_for(self)

    def _announce(self, settings: ServiceSettings, url: str, processes: int) -> None:
        what = f"{processes} processes, " if processes > 1 else ""
        print(
            f"nbcohort service on http://{settings.ip}:{settings.port} "
            f"({what}schema {head_revision()}, {url})",
            flush=True,
        )

    @staticmethod
    def _farewell(app: Application) -> None:
        """How the process served thread pages (one line per worker process)."""
        pages = app.settings["nbcohort"].pages
        if pages is not None:
            served = pages.hits + pages.misses
            print(
                f"nbcohort service stopped (pid {os.getpid()}): {served} thread pages "
                f"served, {pages.hits} from the page cache, {pages.unchecked} with no "
                "query",
                flush=True,
            )

    def _serve_workers(self, settings: ServiceSettings, hub: HubSettings | None) -> None:
        from nbcohort.cohorts.api.app import make_app
        from nbcohort.cohorts.api.processes import Supervisor, bind_worker_sockets
        from nbcohort.cohorts.api.server import freeze_heap, serve

        try:
            groups = bind_worker_sockets(settings.processes, settings.port, settings.ip)
        except OSError as exc:
            raise CommandError(f"cannot listen on {settings.ip}:{settings.port}: {exc}") from None
        settings.port = groups[0][0].getsockname()[1]
        supervisor = os.getpid()
        key = self.signing_key()  # before the fork: every worker signs with the same key
        mail = self._mail()

        def worker(sockets: list[socket.socket], _slot: int) -> int:
            with self.store() as store:
                app = make_app(
                    store,
                    settings,
                    CommunitySettings(parent=self),
                    signing_key=key,
                    mail=mail,
                    live=LiveSettings(parent=self),
                    hub=hub,
                    exchange=ExchangeSettings(parent=self),
                    data_dir=self.settings().data_dir,
                )
                asyncio.run(serve(app, settings, sockets=sockets, supervisor=supervisor))
                self._farewell(app)
            return 0

        self._announce(settings, self.settings().resolved_db_url(), settings.processes)
        freeze_heap(settings.gc_young_threshold)  # before the fork: workers share its pages
        if Supervisor(groups, worker).run() != 0:
            raise CommandError("service workers kept exiting; see the messages above")
