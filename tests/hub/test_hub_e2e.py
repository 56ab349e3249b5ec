"""A real JupyterHub from login to feedback (issue #18, part 4): JupyterHub 6 with
configurable-http-proxy, DummyAuthenticator and SimpleLocalProcessSpawner; nbcohort serve as
the hub's external service in hub mode; two learners and an instructor whose single-user
servers the hub spawns. Learners act only from their OWN kernels, through the hub's proxy,
with the JUPYTERHUB_API_TOKEN the hub gave their server: they post, fetch and submit through
nbgrader's exchange as the service (``nbcohort.exchange.service_exchange``; no folder shared
by any two of them), review each other's work and read their feedback. The instructor's steps
(release, open and close the round) run in this process as the instructor's CLI does, through
the same service exchange with the instructor's own hub token.

One hub and three spawns for the whole module; the steps are one story, in order.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from nbcohort.cohorts.models import ReviewRound
from nbcohort.cohorts.store import Store
from nbcohort.exchange.round_close import close
from nbcohort.exchange.round_open import open_round
from nbcohort.exchange.service_exchange import FACTORY
from tests.helpers.hub import HubProcess, find_proxy, hub_service, spawn
from tests.helpers.kernels import Kernel
from tests.helpers.peer_course import ASSIGNMENT, COURSE_ID, PeerCourse, due_in
from tests.helpers.processes import ServiceProcess, free_port

pytestmark = pytest.mark.slow

pytest.importorskip("jupyterhub", reason="jupyterhub is not installed (the hub extra)")

LEARNERS = ("ana", "ben")
CRITERIA = ("question", "evidence", "recommendation")


def exchange_config() -> str:
    """THE exchange configuration of every single-user server and of the instructor: the
    service exchange (each server reaches the service at ClientSettings.url with its own
    JUPYTERHUB_API_TOKEN; the instructor here is given the URL and token explicitly)."""
    return "".join(f"c.ExchangeFactory.{name} = {cls!r}\n" for name, cls in FACTORY.items())


def server_config(folder: Path, service_url: str) -> Path:
    """The single-user servers' jupyter_config.py (their JUPYTER_CONFIG_PATH); the exchange
    lines are in exchange_config.py beside it, which the instructor's side reads too."""
    (folder / "jupyter_config.py").write_text(
        f"""import os
c = get_config()
load_subconfig({str(folder / "exchange_config.py")!r})
c.ServerApp.root_dir = os.environ["HOME"]
c.CourseDirectory.course_id = {COURSE_ID!r}
# The service exchange asks the hub who the user is; nbgrader's own steps name the student too.
c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
c.ClientSettings.url = {service_url!r}
c.ClientSettings.timeout = 15.0
"""
    )
    return folder


def spawner_config(homes: Path, config_dir: Path) -> str:
    return f"""
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(homes / "{username}")!r}
c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--allow-root"]  # the tests may run as root
c.Spawner.environment = {{"JUPYTER_CONFIG_PATH": {str(config_dir)!r}}}
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}
"""


KERNEL_SETUP = """
import json, os
import nbformat
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange import ExchangeFactory
from nbcohort.cohorts.client import ClientError, CohortClient

def nbgrader(step, assignment="project-1"):
    here = os.environ["JUPYTER_CONFIG_PATH"]
    cfg = PyFileConfigLoader("jupyter_config.py", path=here).load_config()
    cfg.Exchange.assignment_dir = os.environ["HOME"]
    coursedir = CourseDirectory(config=cfg, root=os.environ["HOME"])
    coursedir.assignment_id = assignment
    made = getattr(ExchangeFactory(config=cfg), step)
    return made(coursedir=coursedir, authenticator=Authenticator(config=cfg), config=cfg).start()

community = CohortClient()
def refused(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as exc:
        return exc.status
    return 200
"""


@dataclass
class World:
    hub: HubProcess
    service: ServiceProcess
    course: PeerCourse
    tokens: dict[str, str]
    kernels: dict[str, Kernel]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    proxy = find_proxy(Path.home() / ".cache" / "nbcohort" / "chp")
    if proxy is None:
        pytest.skip("configurable-http-proxy is not on PATH and npm could not install it")
    tmp = tmp_path_factory.mktemp("e2e")
    servers, instructor = tmp / "servers", tmp / "instructor"
    servers.mkdir()
    (servers / "exchange_config.py").write_text("c = get_config()\n" + exchange_config())
    exchange = PyFileConfigLoader("exchange_config.py", path=str(servers)).load_config()
    store = Store.open(f"sqlite:///{tmp / 'nbcohort.sqlite'}", upgrade=True)
    port = free_port()
    hub = HubProcess(tmp / "hub", proxy, port, extra=spawner_config(tmp / "home", servers))
    service_url = f"http://127.0.0.1:{hub.proxy_port}/services/nbcohort"
    server_config(servers, service_url)
    service = hub_service(tmp, f"sqlite:///{tmp / 'nbcohort.sqlite'}", hub, port)
    kernels: dict[str, Kernel] = {}
    try:
        hub.start()
        service.start()
        hub.wait_until_running()
        hub.set_group("nbcohort-instructors", ["ivo"])
        # Each user's token is the one the hub put in their server's environment; logging in
        # through the REST API, a user gets one to reach their own server from here.
        tokens = {name: hub.token_for(name)[0] for name in (*LEARNERS, "ivo")}

        def roster_then_exchange(course: PeerCourse) -> Config:
            """The roster first (the service knows hub users by it), then the instructor's
            exchange: the servers' lines, the service's URL and Ivo's own hub token."""
            course.add_learners(["Ana Souza", "Ben Okafor"], teams=2)
            course.add_learners(["Ivo Petrov"], teams=0, role="instructor")
            cfg = Config(exchange)
            cfg.ServiceExchange.url = service_url
            cfg.ServiceExchange.token = tokens["ivo"]
            return cfg

        # The instructor's course, in a folder of its own: project-1 released through the
        # service exchange the servers use (the course id is the cohort's slug).
        instructor.mkdir()
        course = PeerCourse(instructor, store, cohort=COURSE_ID, exchange=roster_then_exchange)
        urls = spawn(f"http://127.0.0.1:{hub.proxy_port}", tokens)
        for name, url in urls.items():
            kernels[name] = Kernel(url, tokens[name])
            kernels[name].run(KERNEL_SETUP)
        yield World(hub, service, course, tokens, kernels)
    finally:
        for kernel in kernels.values():
            kernel.shutdown()
        service.stop()
        hub.stop()
        store.close()


def out(kernel: Kernel, code: str) -> object:
    """Run ``code`` whose last line prints JSON; the value."""
    return json.loads(kernel.run(code).strip().splitlines()[-1])


def test_kernels_call_the_service_with_their_own_hub_token(world: World) -> None:
    for name in (*LEARNERS, "ivo"):
        got = out(
            world.kernels[name],
            "print(json.dumps([community.me()['member']['username'],"
            " community.token == os.environ['JUPYTERHUB_API_TOKEN'], community.url]))",
        )
        assert got[:2] == [name, True], got  # type: ignore[index]
        assert "/services/nbcohort" in got[2]  # type: ignore[index]
        server_token = out(world.kernels[name], "print(json.dumps(community.token))")
        assert server_token != world.tokens[name]  # the server's own, not one the test made


def test_learners_post_from_their_kernels_and_cannot_post_as_another(world: World) -> None:
    ana, ben = world.kernels["ana"], world.kernels["ben"]
    posted = out(
        ana,
        "p = community.post('course/01-intro/why', 'Hello from **my own** kernel')\n"
        "print(json.dumps(p['author']['username']))",
    )
    assert posted == "ana"
    # Posing as Ben: fields naming an author are not part of a post; the hub's answer is.
    posed = out(
        ana,
        "p = community.request('POST', '/api/v1/posts', json={'anchor': 'course/01-intro/why',"
        " 'body': 'I am Ben', 'author': 'ben', 'author_id': 2, 'username': 'ben'})\n"
        "print(json.dumps(p['author']['username']))",
    )
    assert posed == "ana"
    forged = out(
        ana,
        "print(json.dumps(refused(CohortClient(token='ben').me)))",  # a guessed token
    )
    assert forged == 401
    seen = out(
        ben,
        "t = community.thread('course/01-intro/why')\n"
        "print(json.dumps([(p['author']['username'], p['html']) for p in t['posts']]))",
    )
    assert [a for a, _b in seen] == ["ana", "ana"], seen  # type: ignore[union-attr]


def test_only_the_instructor_reaches_an_instructor_route(world: World) -> None:
    route = "print(json.dumps(refused(community.request, 'GET', '/api/v1/champions/suggestions')))"
    assert out(world.kernels["ana"], route) == 403
    assert out(world.kernels["ivo"], route) == 200


def test_fetch_submit_review_and_feedback_through_the_hub(world: World) -> None:
    for name in LEARNERS:
        out(
            world.kernels[name],
            "nbgrader('FetchAssignment')\n"
            "path = os.path.join(os.environ['HOME'], 'project-1', 'project-1.ipynb')\n"
            "nb = nbformat.read(path, as_version=4)\n"
            "for cell in nb.cells:\n"
            "    gid = cell.metadata.get('nbgrader', {}).get('grade_id', '')\n"
            "    if gid in ('b1-question', 'b3-findings', 'b4-recommendation'):\n"
            "        cell.source = gid + ': my answer, with detail.'\n"
            "nbformat.write(nb, path)\n"
            "nbgrader('Submit')\n"
            "print(json.dumps(os.environ['JUPYTERHUB_USER']))",
        )
    ctx = world.course.context()
    opened = open_round(ctx, ASSIGNMENT, due=due_in(7), reviewers=1, seed=1)  # type: ignore[arg-type]
    # Collected through the exchange: both learners' own submissions, nobody left out.
    assert (opened.submissions, opened.excluded) == (2, {}), opened
    with world.course.store.read() as s:  # packets in the service's store, not a folder
        assert s.scalars(select(ReviewRound.settings)).one()["packets"] == "exchange"

    allocations = {}
    for name in LEARNERS:
        allocations[name] = out(
            world.kernels[name],
            "item = community.review_inbox('project-1')['inbox'][0]\n"
            "files = community.review_packet('project-1', item['allocation_id'])\n"
            "text = ' '.join(f + ' ' + b.decode('utf-8', 'replace') for f, b in files.items())\n"
            f"scores = {{c: 2.0 for c in {CRITERIA!r}}}\n"
            "community.save_review('project-1', item['allocation_id'], scores,\n"
            "    {c: 'see cell 3' for c in scores}, 'Clear work.', submit=True)\n"
            "print(json.dumps([item['allocation_id'], ('Okafor' in text) or ('Souza' in text)]))",
        )
        assert allocations[name][1] is False, "a packet names its author"  # type: ignore[index]
    # Ana asks for the packet allocated to Ben: refused, whatever its number.
    bens = allocations["ben"][0]  # type: ignore[index]
    assert out(
        world.kernels["ana"],
        f"print(json.dumps(refused(community.review_packet, 'project-1', {bens})))",
    ) in (403, 404)

    report = close(ctx, ASSIGNMENT, force=True)
    assert report.results == 2, report
    names = {"ana": "Ana Souza", "ben": "Ben Okafor"}
    for name in LEARNERS:
        got = out(
            world.kernels[name],
            "nbgrader('FetchFeedback')\n"
            "html = [f for r, _d, fs in os.walk(os.path.join(os.environ['HOME'], 'project-1',"
            " 'feedback')) for f in fs if f.endswith('.html')]\n"
            "own = community.review_inbox('project-1')['own']\n"
            "review = own['reviews'][0]\n"
            "community.rate_review('project-1', review['id'], 5)\n"
            "print(json.dumps([len(html), own['visible'], review['reviewer'],"
            " review['overall_html'], review['scores']]))",
        )
        files, visible, reviewer, overall, scores = got  # type: ignore[misc]
        assert files >= 1 and visible, got
        assert overall == "<p>Clear work.</p>\n"
        assert scores == {c: 2.0 for c in CRITERIA}
        other = names["ben" if name == "ana" else "ana"]
        assert other not in reviewer, reviewer  # the reviewer is a label, not a name
