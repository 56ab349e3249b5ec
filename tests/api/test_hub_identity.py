"""Hub identity against a real JupyterHub (issue #18, parts 1 and 4): the hub is started with
DummyAuthenticator and configurable-http-proxy, nbcohort is registered as an external service,
users, groups and tokens are made through the hub's REST API, and ``nbcohort serve`` with
``c.ServiceSettings.auth = "hub"`` is called with those tokens. No part of the hub is mocked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.models import Member
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.widgets import _connection
from tests.helpers.community import SYSTEM
from tests.helpers.hub import HubProcess, find_proxy, hub_service
from tests.helpers.processes import REPO, ServiceProcess, free_port

pytestmark = pytest.mark.slow

jupyterhub = pytest.importorskip("jupyterhub", reason="jupyterhub is not installed (the hub extra)")

PREFIX = "/services/nbcohort"
CACHE_SECONDS = 1.0


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> str:
    found = find_proxy(Path.home() / ".cache" / "nbcohort" / "chp")
    if found is None:
        pytest.skip("configurable-http-proxy is not on PATH and npm could not install it")
    return found


@pytest.fixture(scope="module")
def service_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, proxy: str, service_port: int
) -> Iterator[HubProcess]:
    h = HubProcess(tmp_path_factory.mktemp("hub"), proxy, service_port).start()
    yield h
    h.stop()


@pytest.fixture
def service(
    tmp_path: Path, db_url: str, hub: HubProcess, service_port: int, people: dict[str, Member]
) -> Iterator[ServiceProcess]:
    svc = hub_service(tmp_path, db_url, hub, service_port, CACHE_SECONDS).start()
    yield svc
    svc.stop()


def call(
    svc: ServiceProcess,
    token: str | None,
    path: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    **kw: object,
) -> requests.Response:
    headers = {**(headers or {}), **({"Authorization": f"token {token}"} if token else {})}
    return requests.request(method, svc.url + "/api/v1" + path, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]


def test_a_member_posts_as_themselves_with_their_own_hub_token(hub, service, monkeypatch):
    token, _id = hub.token_for("ana")
    me = call(service, token, "/me").json()["member"]
    assert (me["username"], me["role"]) == ("ana", "learner")
    # A kernel under the hub: the client picks the user's own token from the environment.
    monkeypatch.delenv("NBCOHORT_TOKEN", raising=False)
    monkeypatch.setenv("JUPYTERHUB_API_URL", hub.api_url)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", token)
    client = CohortClient(service.url)
    assert client.token == token
    post = client.post("course/01-intro/why", "Hello from **my own** kernel")
    assert post["author"]["username"] == "ana"
    assert client.thread("course/01-intro/why")["posts"][0]["author"]["username"] == "ana"


def test_the_same_hub_token_through_the_hubs_proxy(hub, service):
    token, _id = hub.token_for("ben")
    hub.wait_until_running()
    resp = requests.get(
        f"http://127.0.0.1:{hub.proxy_port}{PREFIX}/api/v1/me",
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["member"]["username"] == "ben"


def test_a_hub_user_not_on_the_roster_gets_403_naming_why_logged_once(hub, service):
    token, _id = hub.token_for("zed")
    for _ in range(3):
        resp = call(service, token, "/me")
        assert resp.status_code == 403
        assert resp.json()["error"] == "not_on_roster"
        assert "'zed' is not on the roster" in resp.json()["message"]
    time.sleep(CACHE_SECONDS + 0.2)  # asked again after the cache: still logged only once
    assert call(service, token, "/me").status_code == 403
    log = service.log.read_text()
    assert log.count("hub user 'zed' refused") == 1, log


def test_the_access_tables_routes_refuse_a_hub_user_not_on_the_roster(hub, service):
    """The access matrix's row for hub mode (tests/api/access_table.py): every route but
    the public ones refuses a hub user who is not a member, before anything else."""
    from tests.api.access_table import TABLE

    token, _id = hub.token_for("yan")
    wrong = []
    with requests.Session() as http:
        for row in TABLE:
            if row.public:
                continue
            path = row.path.replace("{id}", "1").replace("{member}", "1")
            path = path.replace("{course}", "spring-26").replace("{unique}", "p-1")
            headers = {"Authorization": f"token {token}"}
            url = service.url + row.prefix + path
            body = {"data": row.body} if isinstance(row.body, bytes) else {"json": row.body}
            resp = http.request(row.method, url, headers=headers, timeout=10, **body)
            if resp.status_code != 403 or resp.json().get("error") != "not_on_roster":
                wrong.append(f"{row.method} {path}: {resp.status_code} {resp.text[:120]}")
    assert not wrong, "\n".join(wrong)


def test_a_revoked_hub_token_is_refused_within_the_cache_time(hub, service):
    token, token_id = hub.token_for("ana")
    assert call(service, token, "/me").status_code == 200
    hub.revoke("ana", token_id)
    revoked_at = time.monotonic()
    while call(service, token, "/me").status_code == 200:
        assert time.monotonic() - revoked_at < CACHE_SECONDS + 1.0, "still accepted past the cache"
        time.sleep(0.05)
    resp = call(service, token, "/me")
    assert resp.status_code == 401
    assert "revoked or expired" in resp.json()["message"]


def test_a_hub_group_confirms_the_instructor_role_the_roster_gives(hub, service):
    hub.set_group("nbcohort-instructors", [])
    # An instructor on the roster, with a token that may reach the service and nothing else:
    # the hub's answer lacks their groups, so the service asks with its own token.
    ivo, _ = hub.token_for("ivo", scopes=["access:services!service=nbcohort"])
    refused = call(service, ivo, "/champions/suggestions")
    assert refused.status_code == 403
    assert refused.json()["error"] == "role_not_confirmed"
    assert "nbcohort-instructors" in refused.json()["message"]

    hub.set_group("nbcohort-instructors", ["ivo", "ana"])  # ana: a learner on the roster
    time.sleep(CACHE_SECONDS + 0.2)
    assert call(service, ivo, "/champions/suggestions").status_code == 200
    assert call(service, ivo, "/me").json()["member"]["role"] == "instructor"
    ana, _ = hub.token_for("ana")  # the group confirms; it never grants: ana stays a learner
    assert call(service, ana, "/me").json()["member"]["role"] == "learner"
    assert call(service, ana, "/champions/suggestions").status_code == 403
    # A role no group is named for needs none: the champion and the sponsor are who the roster says.
    chi, _ = hub.token_for("chi")
    assert call(service, chi, "/me").json()["member"]["role"] == "champion"
    hub.set_group("nbcohort-instructors", [])


def test_tokens_are_read_from_the_header_only(hub, service):
    token, _id = hub.token_for("ana")
    assert call(service, None, f"/me?token={token}").status_code == 401
    resp = requests.get(f"{service.url}/api/v1/me", params={"token": token}, timeout=10)
    assert resp.status_code == 401
    assert "Authorization: token" in resp.json()["message"]


def test_a_token_without_access_to_the_service_or_not_a_users_is_refused(hub, service):
    narrow, _ = hub.token_for("ana", scopes=["read:users:name!user"])
    resp = call(service, narrow, "/me")
    assert resp.status_code == 403
    assert "access:services!service=nbcohort" in resp.json()["message"]
    resp = call(service, hub.admin_token, "/me")  # a hub service's token speaks for no member
    assert resp.status_code == 403
    assert "service's token" in resp.json()["message"]
    assert call(service, "not-a-token", "/me").status_code == 401
    odd = requests.get(  # bytes no hub token has: refused, never a 500
        service.url + "/api/v1/me", headers={"Authorization": b"token \xff\xfe x"}, timeout=10
    )
    assert odd.status_code == 401, odd.text


def test_a_hub_that_is_down_gives_503_and_the_widgets_say_so_calmly(
    tmp_path, db_url, proxy, people
):
    port = free_port()
    hub = HubProcess(tmp_path / "hub", proxy, port).start()
    svc = hub_service(tmp_path, db_url, hub, port, CACHE_SECONDS).start()
    try:
        token, _id = hub.token_for("ana")
        assert call(svc, token, "/me").status_code == 200
        later, _id = hub.token_for("ben")  # never seen by the service: it must ask the hub
        hub.stop()
        resp = call(svc, later, "/me")
        assert resp.status_code == 503
        assert resp.json()["error"] == "hub_unavailable"
        assert "the hub cannot be reached" in resp.json()["message"]
        assert resp.headers["Retry-After"]
        _connection.reset()
        with pytest.raises(_connection.Offline) as offline:
            _connection.connect(CohortClient(svc.url, later, retries=0))
        line = str(offline.value)
        assert line.startswith("community offline: the hub cannot be reached")
        assert "\n" not in line and "Traceback" not in line
    finally:
        svc.stop()
        hub.stop()
        _connection.reset()


def test_the_example_config_runs_the_service_as_a_hub_managed_service(
    tmp_path, db_url, proxy, people
):
    """The shipped example unchanged but for the hub's ports: the hub starts `nbcohort serve`
    (its `command`), which learns the hub's API, its token, its name and its prefix from the
    hub's environment and reads the kit's config from the example's jupyter_config.py."""
    config = tmp_path / "kit-config"
    config.mkdir()
    example = REPO / "cohorts" / "hub" / "jupyter_config.py"
    (config / "jupyter_config.py").write_text(
        f"load_subconfig({str(example)!r})\n"
        f"c.NbCohort.db_url = {db_url!r}\n"
        f"c.NbCohort.data_dir = {str(tmp_path / 'data')!r}\n"
    )
    port = free_port()
    hub = HubProcess(tmp_path / "hub", proxy, port, managed=config).start()
    try:
        hub.wait_until_running()  # the hub waits for its managed service to answer
        hub.set_group("nbcohort-instructors", ["ivo"])
        ivo, _id = hub.token_for("ivo")
        direct = f"http://127.0.0.1:{port}{PREFIX}/api/v1"
        proxied = f"http://127.0.0.1:{hub.proxy_port}{PREFIX}/api/v1"
        for base in (direct, proxied):
            resp = requests.get(base + "/me", headers={"Authorization": f"token {ivo}"}, timeout=10)
            assert resp.status_code == 200, resp.text
            assert resp.json()["member"]["role"] == "instructor"
        staff = requests.get(
            direct + "/champions/suggestions", headers={"Authorization": f"token {ivo}"}, timeout=10
        )
        assert staff.status_code == 200, staff.text
    finally:
        hub.stop()
    with pytest.raises(requests.ConnectionError):  # the hub stopped the service it started
        requests.get(f"http://127.0.0.1:{port}{PREFIX}/api/v1/health", timeout=5)


def test_a_hub_user_on_two_rosters_names_the_cohort_or_gets_409_naming_both(
    hub, service, store, people, monkeypatch
):
    with store.write() as s:
        autumn = create_cohort(s, SYSTEM, "autumn-26", "Autumn")
        add_member(s, SYSTEM, autumn, name="Ana S", email="ana@example.org", username="ana")
    token, _id = hub.token_for("ana")
    both = call(service, token, "/me")
    assert both.status_code == 409, both.text
    assert both.json()["error"] == "several_cohorts"
    assert "(spring-26, autumn-26)" in both.json()["message"]
    assert "X-Nbcohort-Cohort" in both.json()["message"]
    for slug in ("autumn-26", "spring-26"):
        named = call(service, token, "/me", headers={"X-Nbcohort-Cohort": slug})
        assert named.status_code == 200, named.text
        assert named.json()["cohort"]["slug"] == slug
    elsewhere = call(service, token, "/me", headers={"X-Nbcohort-Cohort": "winter-27"})
    assert elsewhere.status_code == 403
    assert "not an active member of cohort 'winter-27'" in elsewhere.json()["message"]
    # Ben is on one roster: naming another cohort is refused, not answered for his own.
    ben, _id = hub.token_for("ben")
    assert call(service, ben, "/me", headers={"X-Nbcohort-Cohort": "autumn-26"}).status_code == 403
    # Another cohort name on every request costs a roster lookup, not a request to the hub.
    asked = hub.log.read_text().count("GET /hub/api/user ")
    for n in range(20):
        got = call(service, ben, "/me", headers={"X-Nbcohort-Cohort": f"made-up-{n}"})
        assert got.status_code == 403
    # (at most once more: the 1 s cache may run out during the 20)
    assert hub.log.read_text().count("GET /hub/api/user ") <= asked + 1
    # A kernel: the cohort from the environment, the token the hub gave the server.
    monkeypatch.setenv("NBCOHORT_COHORT", "autumn-26")
    post = CohortClient(service.url, token).post("topic/hello", "autumn, not spring")
    assert post["author"]["name"] == "Ana S"


def test_a_browser_without_a_token_gets_a_refusal_not_a_login_page(hub, service):
    """No page of the service needs the member's identity (HubOAuth is not used): the API
    answers a browser that has only the hub's cookies with a 401 in JSON, never a redirect to
    the hub's login, and the one HTML page (a signed unsubscribe link) needs no login."""
    hub.wait_until_running()
    base = f"http://127.0.0.1:{hub.proxy_port}{PREFIX}"
    browser = requests.Session()
    browser.get(f"http://127.0.0.1:{hub.proxy_port}/hub/login", timeout=10)
    login = browser.post(  # the hub's own login form: the browser now holds the hub's cookies
        f"http://127.0.0.1:{hub.proxy_port}/hub/login?next=",
        data={"username": "ana", "password": "any", "_xsrf": browser.cookies.get("_xsrf", "")},
        allow_redirects=False,
        timeout=10,
    )
    assert login.status_code == 302, login.text
    assert browser.cookies
    api = browser.get(base + "/api/v1/me", allow_redirects=False, timeout=10)
    assert api.status_code == 401, api.text
    assert api.headers["Content-Type"].startswith("application/json")
    assert "Authorization: token" in api.json()["message"]
    page = browser.get(base + "/mail/unsubscribe?t=forged", allow_redirects=False, timeout=10)
    assert page.status_code == 404
    assert page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "This link is not valid" in page.text


def test_junk_tokens_through_the_proxys_address_do_not_lock_out_a_new_server(
    hub, db_url, people, tmp_path
):
    """Behind the hub's proxy everyone shares one address. Once it is refused, wrong tokens
    get 429 and are not counted, but a hub token no process has seen yet (a server that has
    just started) still goes to the hub and gets in."""
    svc = hub_service(tmp_path, db_url, hub, free_port(), CACHE_SECONDS)
    svc.args += ["--ServiceSettings.failed_auth_limit=3", "--ServiceSettings.failed_auth_window=60"]
    svc.start()
    try:
        assert [call(svc, f"junk{i}", "/me").status_code for i in range(3)] == [401] * 3
        refused = call(svc, "junk-more", "/me")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 2
        fresh, _id = hub.token_for("ben")
        me = call(svc, fresh, "/me")
        assert me.status_code == 200, me.text
        assert me.json()["member"]["username"] == "ben"
        assert call(svc, "junk-again", "/me").status_code == 429
        outsider, _id = hub.token_for("zed")  # a hub user not on the roster: told why, as ever
        assert call(svc, outsider, "/me").json()["error"] == "not_on_roster"
    finally:
        svc.stop()
