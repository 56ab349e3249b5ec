"""``nbcohort demo --hub``: the demo cohort on a local JupyterHub, so a person can log in as a
learner, a reviewer and the instructor in three browser windows.

The hub uses DummyAuthenticator with one shared password printed at start (a demo, never a
deployment), SimpleLocalProcessSpawner (every user's server a local process, home under the
demo's data folder, seeded with the released course), and runs ``nbcohort serve`` as its
hub-managed service in hub mode (``cohorts/hub/jupyterhub_config.py``, the shipped example).
The roster's members are the hub's users and its staff are in the hub groups that confirm
their roles. nbgrader's instructor tools (formgrader, Create Assignment, course list) are
turned off in every server but the instructors' (``learner_jupyter_config``, put first on a
learner's JUPYTER_CONFIG_PATH by the spawner's ``pre_spawn_hook``).

nbgrader's exchange is the service exchange (``nbcohort.exchange.service_exchange``, set by
the hub's ``jupyter_config.py``): releases, submissions, feedback and review packets go
through the service with each user's own hub token, and no folder is shared by two servers.
The review round the demo opens on its first run goes the same way, once the hub is up.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from jupyter_core.paths import jupyter_config_path
from sqlalchemy import select

from nbcohort.cohorts.cli.base import CommandError
from nbcohort.cohorts.config import HubSettings, ServiceSettings
from nbcohort.cohorts.demo_seed import DEMO_SLUG
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.store import Store

if TYPE_CHECKING:
    from nbcohort.cohorts.cli.demo import DemoCommand

__all__ = ["HubDemo", "run_hub_demo"]

HUB_FOLDER = Path(__file__).resolve().parents[1] / "hub"
STARTUP_SECONDS = 120.0
AUTHORS = 5  # demo learners who submit the peer-reviewed assignment on the first run


@dataclass(frozen=True)
class Login:
    """A roster member to log in as, and why."""

    what: str
    username: str
    name: str


def logins(store: Store) -> tuple[list[Login], dict[str, list[str]]]:
    """The three logins to print, and every active member's username by role."""
    with store.read() as s:
        cohort = s.scalars(select(Cohort).where(Cohort.slug == DEMO_SLUG)).one()
        people = s.scalars(
            select(Member)
            .where(Member.cohort_id == cohort.id, Member.active.is_(True))
            .order_by(Member.id)
        ).all()
        by_role: dict[str, list[str]] = {}
        for m in people:
            by_role.setdefault(m.role, []).append(m.username)
        learners = [m for m in people if m.role == "learner"]
        instructor = next(m for m in people if m.role == "instructor")
        return [
            Login("a learner", learners[0].username, learners[0].name),
            Login("a reviewer (a learner too)", learners[1].username, learners[1].name),
            Login("the instructor", instructor.username, instructor.name),
        ], by_role


def course_config() -> Path:
    """The course's one jupyter_config.py, where this command found it (JUPYTER_CONFIG_PATH)."""
    for folder in jupyter_config_path():
        found = Path(folder) / "jupyter_config.py"
        if found.is_file():
            return found
    raise CommandError("demo --hub: no jupyter_config.py on JUPYTER_CONFIG_PATH (run dev.py demo)")


class HubDemo:
    """The hub's folder and configuration, and the hub process."""

    def __init__(self, cmd: DemoCommand, template: Path, by_role: dict[str, list[str]]) -> None:
        data_dir = Path(cmd.settings().data_dir)
        self.folder = data_dir / "demo" / "hub"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = cmd.hub_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.service_port = ServiceSettings(parent=cmd).port
        self.password = secrets.token_urlsafe(9)
        self.log = self.folder / "jupyterhub.log"
        self.kit = self.folder / "kit"
        self.kit.mkdir(exist_ok=True)
        prefix = HubSettings(parent=cmd).prefix.strip("/")
        (self.kit / "jupyter_config.py").write_text(
            f"""# Written by `nbcohort demo --hub`: the course's config, then the hub's lines.
import os
c = get_config()
load_subconfig({str(course_config())!r})
load_subconfig({str(HUB_FOLDER / "jupyter_config.py")!r})
c.NbCohort.data_dir = {str(data_dir)!r}
c.NbCohort.db_url = {cmd.settings().db_url!r}
c.ClientSettings.url = {f"{self.url}/{prefix}"!r}  # through the hub's proxy
if os.environ.get("JUPYTERHUB_USER"):  # a user's single-user server, not the service
    c.ServerApp.root_dir = os.environ["HOME"]
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
# The service exchange (the hub's lines): its course id is the cohort's slug; the service
# keeps its archives in the database, as replicas with no shared volume do (its folder holds
# only uploads in flight), not in nbgrader's filesystem exchange.
c.CourseDirectory.course_id = {DEMO_SLUG!r}
c.ExchangeSettings.root = {str(self.folder / "exchange")!r}
c.ExchangeSettings.store = "database"
"""
        )
        from nbcohort.cohorts.cli.demo import learner_jupyter_config

        learner_config = learner_jupyter_config(self.folder / "learner-jupyter-config")
        users = sorted({u for names in by_role.values() for u in names})
        groups = {
            group: {"users": by_role.get(role, [])}
            for group, role in HubSettings(parent=cmd).role_groups.items()
        }
        instructors = [
            g for g, r in HubSettings(parent=cmd).role_groups.items() if r == "instructor"
        ]
        (self.folder / "jupyterhub_config.py").write_text(
            f"""# Written by `nbcohort demo --hub`: a demo hub, never a deployment.
import os, shutil, sys
c = get_config()
load_subconfig({str(HUB_FOLDER / "jupyterhub_config.py")!r})  # the service, roles and scopes
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {self.password!r}
c.Authenticator.allowed_users = set({users!r})
c.JupyterHub.load_groups = {groups!r}
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {self.port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {self.port + 1}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.port + 2}"
c.JupyterHub.db_url = "sqlite:///{self.folder / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = {str(self.folder / "cookie_secret")!r}
c.JupyterHub.pid_file = {str(self.folder / "jupyterhub.pid")!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(self.folder / "home" / "{username}")!r}
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120

TEMPLATE, KIT, LEARNER = {str(template)!r}, {str(self.kit)!r}, {str(learner_config)!r}
INSTRUCTOR_GROUPS = set({instructors!r})

def pre_spawn_hook(spawner):
    \"\"\"The released course in a new home; nbgrader's instructor tools for instructors only.\"\"\"
    home = spawner.home_dir
    if not os.path.isdir(home):
        shutil.copytree(TEMPLATE, home, ignore=shutil.ignore_patterns("*.log"))
    staff = any(g.name in INSTRUCTOR_GROUPS for g in spawner.user.groups)
    path = [KIT] if staff else [LEARNER, KIT]
    spawner.environment = {{**spawner.environment, "JUPYTER_CONFIG_PATH": os.pathsep.join(path)}}

c.Spawner.pre_spawn_hook = pre_spawn_hook
"""
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
        env.update(NBCOHORT_CONFIG_DIR=str(self.kit), NBCOHORT_PORT=str(self.service_port))
        cmd = [sys.executable, "-m", "jupyterhub", "-f", "jupyterhub_config.py"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, cwd=self.folder, env=env, stdout=out, stderr=out, start_new_session=True
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        health = f"{self.url}/services/nbcohort/api/v1/health"
        while not self._answers(health):
            if self.proc.poll() is not None:
                raise CommandError(f"JupyterHub exited; see {self.log}")
            if time.monotonic() > deadline:
                self.stop()
                raise CommandError(f"JupyterHub did not start on {self.url}; see {self.log}")
            time.sleep(0.3)

    @staticmethod
    def _answers(url: str) -> bool:
        with contextlib.suppress(requests.RequestException):
            return requests.get(url, timeout=2).status_code == 200
        return False

    def token(self, username: str) -> str:
        """A new hub token of ``username``, logging in through the hub's REST API with the
        demo's password (as a person's script would)."""
        resp = requests.post(
            f"{self.url}/hub/api/users/{username}/tokens",
            json={"auth": {"username": username, "password": self.password}, "note": "demo"},
            timeout=60,
        )
        if resp.status_code != 201:
            raise CommandError(
                f"the hub gave {username} no token ({resp.status_code}); see {self.log}"
            )
        return str(resp.json()["token"])

    def seed_round(self, cmd: DemoCommand, by_role: dict[str, list[str]]) -> str:
        """The demo's review round (first run), through the service exchange with the
        authors' and the instructor's own hub tokens; the line saying what was done."""
        from nbcohort.cohorts.cli.demo_review import seed_review_round

        store = cmd.open_store(upgrade=False)
        try:
            authors = by_role["learner"][:AUTHORS]  # the printed learner and reviewer among them
            tokens = {name: self.token(name) for name in authors}
            tokens[""] = self.token(by_role["instructor"][0])
            service = f"{self.url}/services/nbcohort"
            return seed_review_round(cmd, store, service, tokens, authors)
        finally:
            store.close()

    def wait(self) -> None:
        if self.proc is not None:
            self.proc.wait()

    def stop(self) -> None:
        """Stop the hub: it stops the users' servers, its service and its proxy; a proxy it
        left behind is stopped too."""
        stop_hub(self.proc, self.folder, grace=60)


def stop_hub(proc: subprocess.Popen[bytes] | None, folder: Path, grace: float) -> None:
    """SIGTERM a hub started in ``folder`` (killed after ``grace`` seconds), then the
    configurable-http-proxy it started, should the hub have left it running (its pid file)."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    pid_file = folder / "jupyterhub-proxy.pid"
    if pid_file.exists():
        with contextlib.suppress(ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)


def run_hub_demo(cmd: DemoCommand) -> None:
    """Seed (first run), release the course, start the hub, open the demo's review round
    through the service exchange (first run), print the logins, wait for Ctrl-C."""
    store = cmd.open_store(upgrade=True)
    try:
        cmd.seed(store)
        people, by_role = logins(store)
    finally:
        store.close()
    template = cmd.workspace_for(people[0].username)
    hub = HubDemo(cmd, template, by_role)
    print(f"starting JupyterHub on {hub.url} (its log: {hub.log}) …", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)  # a service manager's stop: as Ctrl-C
    # Ctrl-C even where the shell started us with SIGINT ignored (`cmd &` without job control).
    signal.signal(signal.SIGINT, _interrupt)
    try:
        hub.start()
        opened = hub.seed_round(cmd, by_role)
        if opened:
            print(opened, flush=True)
        print(f"\nJupyterHub        : {hub.url}/hub/login")
        print(f"password          : {hub.password} (every user's: DummyAuthenticator, a demo)")
        for login in people:
            print(f"{login.what:<18}: {login.username} ({login.name})")
        print("(three browser windows: use a private window for each, or three browsers)")
        print("stop with Ctrl-C", flush=True)
        hub.wait()
        raise CommandError(f"JupyterHub stopped on its own; see {hub.log}")
    except KeyboardInterrupt:
        print("\nstopping the hub, its servers and the service", flush=True)
    finally:
        hub.stop()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt
