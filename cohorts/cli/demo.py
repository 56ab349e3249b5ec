"""``nbcohort demo``: the demo cohort on the embedded default, served, with JupyterLab open
on the course as one of its learners."""

from __future__ import annotations

import copy
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import requests
from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed
from traitlets import Bool, Int

from nbcohort.cohorts.api.app import make_app
from nbcohort.cohorts.api.server import BackgroundService
from nbcohort.cohorts.cli.base import CommandError, NbCohortCommand, common_aliases
from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.config import (
    CommunitySettings,
    LiveSettings,
    MailSettings,
    PagesSettings,
    ServiceSettings,
)
from nbcohort.cohorts.course import CourseError, load_course
from nbcohort.cohorts.demo_seed import DEMO_SLUG, demo_anchor, seed_demo
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.pages import PAGE_NOTEBOOKS, copy_pages
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohort_registry import get_cohort
from nbcohort.cohorts.services.errors import NotFound
from nbcohort.cohorts.store import Store

__all__ = ["DemoCommand", "learner_jupyter_config"]

FIRST_NOTEBOOK = "module-1/01-loading-data.ipynb"
# What a learner's server leaves out; an instructor's keeps all of it. On a hub these settings
# belong in the learner image's Jupyter config (learner_jupyter_config writes them).
LEARNER_LABEXTENSIONS_OFF = (
    "@jupyterlab/apputils-extension:announcements",  # "get notified about official Jupyter news?"
    "@jupyter/nbgrader:create-assignment",  # the Create Assignment sidebar
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list",
)
LEARNER_SERVER_EXTENSIONS_OFF = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)


def learner_jupyter_config(folder: Path) -> Path:
    """Write a Jupyter config folder for a learner's single-user server into ``folder``: first
    on JUPYTER_CONFIG_PATH, it turns off what only instructors need (nbgrader's Create
    Assignment, formgrader and course list) and JupyterLab's question about Jupyter news.
    nbgrader's learner tools (assignment list, validate) stay."""
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    page_config = {"disabledExtensions": {name: True for name in LEARNER_LABEXTENSIONS_OFF}}
    server = {
        "ServerApp": {"jpserver_extensions": {n: False for n in LEARNER_SERVER_EXTENSIONS_OFF}}
    }
    (folder / "labconfig" / "page_config.json").write_text(json.dumps(page_config, indent=1))
    (folder / "jupyter_server_config.json").write_text(json.dumps(server, indent=1))
    return folder


class DemoCommand(NbCohortCommand):
    name = "demo"
    description = (
        "Create the demo cohort (first run only), start the community service and JupyterLab "
        "on the course as one learner, and print the URLs. --check: set up, verify, stop."
    )
    check = Bool(False, help="Verify the demo end to end and exit.").tag(config=True)
    lab = Bool(True, help="Start JupyterLab for the demo learner.").tag(config=True)
    lab_port = Int(8888, help="Port of the demo's JupyterLab.").tag(config=True)
    hub = Bool(
        False, help="Run the demo on a local JupyterHub, each member a hub user (demo_hub.py)."
    ).tag(config=True)
    hub_port = Int(
        8000,
        help="Port of the demo's JupyterHub (--hub); the hub's API and its proxy's use "
        "the next two.",
    ).tag(config=True)
    flags = {
        **NbCohortCommand.flags,  # --debug: nbgrader's per-file progress too
        "check": ({"DemoCommand": {"check": True}}, "Verify the demo end to end and exit."),
        "no-lab": ({"DemoCommand": {"lab": False}}, "Serve the community only."),
        "hub": ({"DemoCommand": {"hub": True}}, "Run the demo on a local JupyterHub."),
    }
    aliases = {
        **common_aliases,
        "lab-port": "DemoCommand.lab_port",
        "hub-port": "DemoCommand.hub_port",
        "port": "ServiceSettings.port",
    }

    def course_root(self) -> Path:
        root = self.config.get("CourseDirectory", {}).get("root")
        return Path(root) if isinstance(root, str) else Path.cwd() / "course"

    def prepare(self, store: Store) -> tuple[Member, str, str]:
        """Seed on first run; return the demo learner, their token, an instructor token."""
        self.seed(store)
        with store.write() as s:
            cohort = get_cohort(s, DEMO_SLUG)
            people = s.query(Member).filter_by(cohort_id=cohort.id).order_by(Member.id).all()
            learner = next(m for m in people if m.role == "learner")
            instructor = next(m for m in people if m.role == "instructor")
            system = Actor.system()
            return (
                learner,
                mint_token(s, system, learner, "demo"),
                mint_token(s, system, instructor, "demo"),
            )

    def seed(self, store: Store) -> None:
        """The demo cohort, its activity and its rhythm, on the first run only."""
        course = self.course
        seeded: int | None = None
        with store.write() as s:
            try:
                cohort: Cohort = get_cohort(s, DEMO_SLUG)
            except NotFound:
                print("seeding the demo cohort: 30 members, two weeks of activity …", flush=True)
                cohort = seed_demo(s, course).cohort
                seeded = cohort.id
                print(f"seeded the demo cohort {cohort.slug!r}: {cohort.title}")
        if seeded is not None:
            self.seed_rhythm(store, seeded)

    def seed_rhythm(self, store: Store, cohort_id: int) -> None:
        """The demo's cohort file, charter, cadence, onboarding and outbox (demo_rhythm.py)."""
        from nbcohort.cohorts.demo_rhythm import seed_rhythm

        files = sorted((self.course_root() / "cohorts").glob("*.toml"))
        if not files:
            raise CommandError(f"no example cohort file in {self.course_root() / 'cohorts'}")
        try:
            r = seed_rhythm(
                store, cohort_id, self.course, files[0], self.settings().data_dir, self.config
            )
        except ValueError as exc:
            raise CommandError(f"demo rhythm: {exc}") from None
        print(
            f"the rhythm: {r.cohort_file} applied, the charter acknowledged by "
            f"{r.acknowledged}, {r.published} cadence items published and {r.planned} planned, "
            f"{r.emails} emails in the outbox {r.outbox} (open any .eml)"
        )

    def workspace(self, learner: Member) -> Path:
        """The learner's home: the course as nbgrader releases it (built on first run)."""
        return self.workspace_for(learner.username)

    def workspace_for(self, username: str) -> Path:
        """``workspace`` by username (``--hub`` copies it into each hub user's home)."""
        from nbcohort.exchange.release import ReleaseError, copy_release, generate_release

        home = Path(self.settings().data_dir) / "demo" / "home" / username
        self.exchange_root()
        if not (home / FIRST_NOTEBOOK).exists():
            source = self.course_root() / "source"
            assignments = sorted(p.name for p in source.iterdir() if p.is_dir())
            print(f"releasing {', '.join(assignments)} with nbgrader …", flush=True)
            # nbgrader logs each file it copies and warns that it replaces its last release:
            # shown with --debug, otherwise only its errors. It sets the level of the log it
            # shares with this command, so that is put back after.
            config, level = copy.deepcopy(self.config), self.log.level
            debug = isinstance(self.log_level, int) and self.log_level <= logging.DEBUG
            config.NbGraderAPI.log_level = "DEBUG" if debug else "ERROR"
            try:
                copy_release(generate_release(config, assignments), home)
            except ReleaseError as exc:
                raise CommandError(str(exc)) from None
            finally:
                self.log.setLevel(level)
        copy_pages(home / self.pages_folder())  # every run: the kit's current pages
        return home

    def pages_folder(self) -> str:
        return PagesSettings(parent=self).folder.strip("/")

    def exchange_root(self) -> None:
        from nbcohort.exchange.nbgrader_io import NbGraderError, ensure_exchange_root

        try:
            ensure_exchange_root(self.config)
        except NbGraderError as exc:
            raise CommandError(str(exc)) from None

    def start_lab(self, home: Path, service_url: str, token: str) -> tuple[subprocess.Popen, str]:
        lab_token = secrets.token_urlsafe(16)
        learner_config = learner_jupyter_config(home.parent.parent / "learner-jupyter-config")
        config_path = os.pathsep.join(
            p for p in (str(learner_config), os.environ.get("JUPYTER_CONFIG_PATH", "")) if p
        )
        env = {
            **os.environ,
            "NBCOHORT_URL": service_url,
            "NBCOHORT_TOKEN": token,
            "JUPYTER_CONFIG_PATH": config_path,
        }
        args = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--port={self.lab_port}",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={home}",
            f"--IdentityProvider.token={lab_token}",
            "--ServerApp.port_retries=0",
        ]
        if os.geteuid() == 0:
            args.append("--allow-root")
        log = open(home.parent / "jupyterlab.log", "ab")  # noqa: SIM115 - lives with the process
        proc = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{self.lab_port}"

        def answers() -> bool:
            if proc.poll() is not None:
                raise CommandError(f"JupyterLab exited; see {log.name}")
            try:
                return requests.get(f"{url}/api/status?token={lab_token}", timeout=2).ok
            except requests.RequestException:
                return False

        waiting = Retrying(
            stop=stop_after_delay(60),
            wait=wait_fixed(0.3),
            retry=retry_if_result(lambda ok: not ok),
        )
        try:
            waiting(answers)
        except RetryError:
            proc.terminate()
            raise CommandError(f"JupyterLab did not start on {url}; see {log.name}") from None
        return proc, lab_token

    def run(self) -> None:
        try:
            self.course = load_course(self.course_root() / "course.toml")
        except CourseError as exc:
            raise CommandError(str(exc)) from None
        if self.hub:
            from nbcohort.cohorts.cli.demo_hub import run_hub_demo  # needs the 'hub' extra

            run_hub_demo(self)
            return
        store = self.open_store(upgrade=True)
        settings = ServiceSettings(parent=self)
        lab: subprocess.Popen | None = None
        service: BackgroundService | None = None
        try:
            learner, token, instructor_token = self.prepare(store)
            home = self.workspace(learner) if self.lab else None
            app = make_app(
                store, settings, CommunitySettings(parent=self), live=LiveSettings(parent=self)
            )
            try:
                service = BackgroundService(app, settings).start()
            except OSError as exc:
                raise CommandError(
                    f"cannot listen on port {settings.port}: {exc} (set NBCOHORT_PORT)"
                ) from None
            lab_url = ""
            if home is not None:
                lab, lab_token = self.start_lab(home, service.url, token)
                lab_url = f"http://127.0.0.1:{self.lab_port}"
            if self.check:
                self.verify(service.url, token, lab_url, lab_token if lab else "")
                return
            print(f"\nYou are {learner.name}, a learner in the demo cohort.")
            if lab:
                print(f"JupyterLab        : {lab_url}/lab/tree/{FIRST_NOTEBOOK}?token={lab_token}")
                print(
                    f"Voila page        : {lab_url}/voila/render/{FIRST_NOTEBOOK}?token={lab_token}"
                )
                voila = f"{lab_url}/voila/render/{self.pages_folder()}"
                print(f"cohort page       : {voila}/cohort.ipynb?token={lab_token}")
                print(f"leader one-pager  : {voila}/leader.ipynb?token={lab_token}")
                print(
                    f"community page    : {voila}/community.ipynb?token={lab_token} (after "
                    "'nbcohort cohort graduate demo')"
                )
            print(f"community service : {service.url}/api/v1/health")
            outbox = Path(
                MailSettings(parent=self).outbox_dir or Path(self.settings().data_dir) / "outbox"
            )
            print(f"email outbox      : {outbox} (each message a .eml file; nothing is sent)")
            print(f"learner token     : {token}")
            print(f"instructor token  : {instructor_token}")
            print("stop with Ctrl-C", flush=True)
            signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop: as Ctrl-C
            try:
                if lab is not None:
                    lab.wait()
                else:
                    signal.pause()  # until Ctrl-C
            except KeyboardInterrupt:
                print("\nstopping the demo")
        finally:
            if lab is not None and lab.poll() is None:
                lab.terminate()
                lab.wait(15)
            if service is not None:
                service.stop()
            store.close()

    def verify(self, service_url: str, token: str, lab_url: str, lab_token: str) -> None:
        client = CohortClient(service_url, token, timeout=10)
        try:
            me = client.me()
            anchor = demo_anchor(self.course)
            page = client.thread(anchor)
            if not page["posts"]:
                raise CommandError(f"demo check: the thread {anchor} is empty")
            text = "Checking in from the demo check."
            post = client.post(anchor, text, parent_id=page["posts"][-1]["id"])
            if client.get_post(post["id"])["html"] != f"<p>{text}</p>\n":
                raise CommandError("demo check: the reply did not come back as posted")
            client.delete(post["id"])
            prompt = client.prompt()
        finally:
            client.close()
        if lab_url:
            listing = requests.get(f"{lab_url}/api/contents/module-1?token={lab_token}", timeout=10)
            names = {item["name"] for item in listing.json().get("content", [])}
            if Path(FIRST_NOTEBOOK).name not in names:
                raise CommandError(f"demo check: JupyterLab does not serve {FIRST_NOTEBOOK}")
            folder = self.pages_folder()
            listing = requests.get(f"{lab_url}/api/contents/{folder}?token={lab_token}", timeout=10)
            pages = {item["name"] for item in listing.json().get("content", [])}
            if not set(PAGE_NOTEBOOKS) <= pages:
                raise CommandError(f"demo check: JupyterLab does not serve the pages in {folder}/")
        print(
            f"demo check passed: {me['member']['name']} read {page['total']} posts in "
            f"{anchor}, replied, saw prompt {prompt['key']}"
            + (f", and JupyterLab serves the course and the pages at {lab_url}" if lab_url else "")
        )


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
