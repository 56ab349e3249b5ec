"""nbgrader's own JupyterLab assignment list on a real JupyterHub with the service exchange
(#18 part 3): a learner logs in to the hub in Chromium, opens Nbgrader > Assignment List in
their own single-user server, fetches the released project-1 and submits it, all by clicking.
The server reaches the service with its own JUPYTERHUB_API_TOKEN; no folder is shared with the
instructor's course or the service. The submission is then in the service's store as hers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from nbcohort.cohorts.models import ExchangeFile, Member
from nbcohort.cohorts.store import Store
from tests.browser.conftest import ARTIFACTS, BROWSER
from tests.helpers.hub import HubProcess, find_proxy, hub_service, spawn
from tests.helpers.peer_course import ASSIGNMENT, COURSE_ID, PeerCourse
from tests.helpers.processes import free_port
from tests.hub.test_hub_e2e import exchange_config, server_config, spawner_config

pytestmark = BROWSER

pytest.importorskip("jupyterhub", reason="jupyterhub is not installed (the hub extra)")

PASSWORD = "hub-demo-password"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, PeerCourse, Path]]:
    """The hub (learners log in with PASSWORD), the service in hub mode, the instructor's
    course with project-1 released through the service, and Ana's server started."""
    proxy = find_proxy(Path.home() / ".cache" / "nbcohort" / "chp")
    if proxy is None:
        pytest.skip("configurable-http-proxy is not on PATH and npm could not install it")
    tmp = tmp_path_factory.mktemp("hub-lab")
    servers = tmp / "servers"
    servers.mkdir()
    (servers / "exchange_config.py").write_text("c = get_config()\n" + exchange_config())
    exchange = PyFileConfigLoader("exchange_config.py", path=str(servers)).load_config()
    db = f"sqlite:///{tmp / 'nbcohort.sqlite'}"
    store = Store.open(db, upgrade=True)
    port = free_port()
    login = f'c.Authenticator.allow_all = True\nc.DummyAuthenticator.password = "{PASSWORD}"\n'
    hub = HubProcess(tmp / "hub", proxy, port, extra=spawner_config(tmp / "home", servers) + login)
    base = f"http://127.0.0.1:{hub.proxy_port}"
    server_config(servers, f"{base}/services/nbcohort")
    service = hub_service(tmp, db, hub, port)
    try:
        hub.start()
        service.start()
        hub.wait_until_running()
        hub.set_group("nbcohort-instructors", ["ivo"])
        tokens = {name: hub.token_for(name)[0] for name in ("ana", "ivo")}

        def roster_then_exchange(course: PeerCourse) -> Config:
            course.add_learners(["Ana Souza"], teams=0)
            course.add_learners(["Ivo Petrov"], teams=0, role="instructor")
            cfg = Config(exchange)
            cfg.ServiceExchange.url = f"{base}/services/nbcohort"
            cfg.ServiceExchange.token = tokens["ivo"]
            return cfg

        (tmp / "instructor").mkdir()
        course = PeerCourse(tmp / "instructor", store, cohort=COURSE_ID,
                            exchange=roster_then_exchange)  # fmt: skip
        spawn(base, {"ana": tokens["ana"]})
        yield base, course, tmp
    finally:
        service.stop()
        hub.stop()
        store.close()


def test_a_learner_fetches_and_submits_from_the_assignment_list(lab, browser) -> None:
    base, course, tmp = lab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{base}/hub/login", timeout=60_000)
        page.fill("#username_input", "ana")
        page.fill("#password_input", PASSWORD)
        page.click("#login_submit")
        page.goto(f"{base}/user/ana/lab", timeout=90_000)
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click(timeout=90_000)
        page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
        released = page.locator("#released_assignments_list")
        released.get_by_text(ASSIGNMENT).first.wait_for(timeout=60_000)
        released.get_by_role("button", name="Fetch").click()
        fetched = page.locator("#fetched_assignments_list")
        fetched.get_by_text(ASSIGNMENT).first.wait_for(timeout=60_000)
        fetched.get_by_role("button", name="Submit").first.click()
        submitted = page.locator("#submitted_assignments_list")
        submitted.get_by_text(ASSIGNMENT).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "hub-assignment-list.png"))
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "hub-assignment-list-failed.png"))
        raise
    finally:
        page.close()
    with course.store.read() as s:  # the service has Ana's submission, as hers
        rows = s.execute(
            select(ExchangeFile.assignment, Member.username)
            .join(Member, ExchangeFile.member_id == Member.id)
            .where(ExchangeFile.kind == "submission")
        ).all()
    assert [tuple(r) for r in rows] == [(ASSIGNMENT, "ana")]
    # Fetched into her own server's home (the hub's), not into the instructor's course.
    assert (tmp / "home" / "ana" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
