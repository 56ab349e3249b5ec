"""The access-control matrix in hub mode (#18 part 2): a representative set of the table's
routes (tests/api/access_table.py), one or more per kind of rule (any member, participants,
staff, instructors, champions, own / another member's / another cohort's resource, the
exchange), asked by every role with a REAL JupyterHub token: each member is a hub user, the
staff are in the hub groups that confirm their roles, "revoked" holds a hub token the hub has
revoked and "unknown" one the hub never issued. The expected statuses are the table's own, so
hub identity must give exactly what local tokens give. One hub for the module, one service per
database (``nbcohort serve`` with ``c.ServiceSettings.auth = "hub"``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import pytest

from nbcohort.cohorts.models import Member
from nbcohort.cohorts.store import Store
from tests.api.access_table import TABLE, Row
from tests.api.test_access_matrix import Matrix
from tests.conftest import fresh_database
from tests.helpers.access import World, answer_text, build_world
from tests.helpers.access_exchange import open_exchange
from tests.helpers.hub import HubProcess, find_proxy, hub_service
from tests.helpers.processes import free_port

pytestmark = pytest.mark.slow

pytest.importorskip("jupyterhub", reason="jupyterhub is not installed (the hub extra)")

# (method, pattern) of the rows asked through the hub; each must be in the table.
ROUTES = [
    ("GET", "/me"),
    ("GET", "/members"),
    ("POST", "/posts"),
    ("PATCH", "/posts/([0-9]{1,18})"),
    ("DELETE", "/posts/([0-9]{1,18})"),
    ("POST", "/posts/([0-9]{1,18})/moderation"),
    ("GET", "/artifacts/([0-9]{1,18})"),
    ("GET", "/reviews/([^/]{1,100})"),
    ("GET", "/dashboard"),
    ("GET", "/champions/suggestions"),
    ("POST", "/members/([0-9]{1,18})/champion"),
    ("PUT", "/posts/([0-9]{1,18})/pin"),
    ("GET", "/moderation"),
    ("POST", "/cohort/graduate"),
    ("GET", "/exchange/([^/]{1,100})/releases"),
    ("PUT", "/exchange/([^/]{1,100})/releases/([^/]{1,100})"),
    ("POST", "/exchange/([^/]{1,100})/assignments/([^/]{1,100})/submissions"),
    ("GET", "/exchange/([^/]{1,100})/submissions/([0-9]{1,18})"),
]
GROUPS = {"instructor": "nbcohort-instructors", "facilitator": "nbcohort-facilitators"}


def _rows() -> list[Row]:
    by_key = {(r.method, r.pattern): r for r in TABLE}
    missing = [k for k in ROUTES if k not in by_key]
    assert not missing, f"not in tests/api/access_table.py any more: {missing}"
    return [by_key[k] for k in ROUTES]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, int]]:
    proxy = find_proxy(Path.home() / ".cache" / "nbcohort" / "chp")
    if proxy is None:
        pytest.skip("configurable-http-proxy is not on PATH and npm could not install it")
    port = free_port()
    h = HubProcess(tmp_path_factory.mktemp("acl-hub"), proxy, port).start()
    try:
        yield h, port
    finally:
        h.stop()


def hub_tokens(hub: HubProcess, world: World) -> dict[str, str]:
    """Each role's hub token (its member's username as the hub user), the staff in the
    groups that confirm them; "revoked": a token the hub revoked; "unknown": none it issued."""
    with world.store.read() as s:
        names = {role: s.get_one(Member, mid).username for role, mid in world.members.items()}
    tokens = {role: hub.token_for(name)[0] for role, name in names.items()}
    for role, group in GROUPS.items():
        hub.set_group(group, [names[role]])
    revoked, revoked_id = hub.token_for(names["revoked"])
    hub.revoke(names["revoked"], revoked_id)
    tokens["revoked"], tokens["unknown"] = revoked, secrets.token_hex(16)
    return tokens


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def matrix(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    hub: tuple[HubProcess, int],
) -> Iterator[Matrix]:
    tmp = tmp_path_factory.mktemp("acl-hub-" + request.param)
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database(request, request.param, tmp))
        store = stack.enter_context(closing(Store.open(url)))
        world = build_world(store, None, {})
        world.tokens = hub_tokens(hub[0], world)
        service = hub_service(tmp, url, hub[0], hub[1], cache_seconds=30.0)
        # Refused tokens from one address are the point here, not an attack.
        (Path(service.env["JUPYTER_CONFIG_PATH"]) / "jupyter_config.py").write_text(
            "c.ServiceSettings.failed_auth_limit = 0\n", "utf-8"
        )
        service.start()
        stack.callback(service.stop)
        open_exchange(world, tmp / "data" / "exchange")
        made = Matrix(world, service, request.param)
        stack.callback(made.http.close)
        yield made


@pytest.mark.parametrize("row", _rows(), ids=lambda r: f"{r.method} {r.path}")
def test_access_through_hub_tokens(matrix: Matrix, row: Row) -> None:
    """Every case of ``row`` answers the table's status with hub tokens (all mismatches at
    once)."""
    wrong = []
    for role, target in matrix.cases(row):
        path, body = matrix.resolve(row, role, target)
        resp = matrix.ask(row.method, row.prefix + path, body, matrix.world.header(role))
        want = row.expected(role, target)
        if resp.status_code != want:
            wrong.append(f"{role:11} {target:7} want {want}, got {answer_text(resp)}")
    assert not wrong, f"{row.method} {row.path}:\n" + "\n".join(wrong)
