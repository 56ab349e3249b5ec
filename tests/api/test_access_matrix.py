"""The access-control matrix: every route x every role x own / another member's / another
cohort's resource, generated from tests/api/access_table.py and asserted against one running
service (``nbcohort serve`` in its own process) per database.

SQLite runs over a copy of the real review round (tests/helpers/review_service.py: nbgrader
made its packets), so a reviewer holds live allocations with packets on disk. PostgreSQL runs
the same table over a fresh database whose rounds are rows only (no packets: the packet row's
"own" case is the one it leaves out). Each case gets its resources made fresh through the
services layer, so a write that passes (a delete, a hide, a decision) never changes what
another case meets. Leaving the cohort is asked by stand-ins of each role. The exchange's
archives (a release of "ps1" in each cohort, submissions, feedback) are published through
the services layer into the service's own exchange folder (tests/helpers/access_exchange.py)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path
from typing import Any

import pytest
import requests
from tornado.web import RequestHandler

from nbcohort.cohorts.api.app import make_app
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services.auth import mint_token
from nbcohort.cohorts.services.graduation import graduate
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from tests.api.access_table import OWNERS, SMUGGLED, TABLE, Row, Smuggled, community_cases
from tests.conftest import fresh_database
from tests.helpers.access import MEMBER_ROLES, ROLES, SYSTEM, World, answer_text, build_world
from tests.helpers.access_exchange import TAR, open_exchange
from tests.helpers.graduation import cohort_of, make_cohort
from tests.helpers.processes import ServiceProcess
from tests.helpers.review_service import RoundDbs, _copy_db

pytestmark = pytest.mark.slow
PREFIX = "/api/v1"
_GROUP = re.compile(r"\((?:[^()]|\([^()]*\))*\)")
METHODS = ("get", "post", "put", "patch", "delete")


class Matrix:
    """The world, the service over it, and one keep-alive HTTP session."""

    def __init__(self, world: World, service: ServiceProcess, leg: str) -> None:
        self.world, self.service, self.leg = world, service, leg
        self.http = requests.Session()

    def cases(self, row: Row) -> list[tuple[str, str]]:
        """(role, target) pairs for ``row``."""
        if row.resource is None:
            return [(role, "none") for role in ROLES]
        out = []
        for role in ROLES:
            if role in OWNERS[row.resource]:
                out.append((role, "own"))
            out.append((role, "other"))
            if role not in ("outsider", "anonymous", "revoked", "unknown"):
                out.append((role, "foreign"))
        if self.leg != "sqlite" and row.path.endswith("/packet"):
            out.remove(("reviewer", "own"))  # no packets on disk on this leg
        return out

    def resolve(self, row: Row, role: str, target: str) -> tuple[str, Any]:
        """The concrete path and body for one case, its resources made now."""
        world = self.world
        owner = {"own": role, "other": "other", "foreign": "stranger"}.get(target, "other")
        path = row.path
        if "{id}" in path:
            assert row.resource is not None
            path = path.replace("{id}", str(world.make(row.resource, owner)))
        path = path.replace("{member}", str(world.members["other"]))
        if "{course}" in path:
            path = path.replace("{course}", self.course(row, role, target))
        if "{unique}" in path:  # a name each case uploads once (a packet never changes)
            path = path.replace("{unique}", f"p-{uuid.uuid4().hex[:12]}")
        body = row.body
        if isinstance(body, dict):
            body = dict(body)
            for k, v in body.items():
                if v == "{member}":
                    body[k] = world.members["other"]
                elif v == "{held}":
                    mine = role in OWNERS["held"] or role == "outsider"
                    holder = role if mine else "other"
                    body[k] = world.make("held", holder)
        return path, body

    def course(self, row: Row, role: str, target: str) -> str:
        """The exchange course (a cohort's slug) a case names: for the "course" resource,
        cohort B's when foreign; otherwise the caller's own cohort's, so that an outsider
        asks its own course for this cohort's submission."""
        world = self.world
        theirs = target == "foreign" if row.resource == "course" else role == "outsider"
        return world.slugs[world.cohort_b if theirs else world.cohort_a]

    def ask(self, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
        if isinstance(body, bytes):  # an archive (the exchange's uploads)
            tar = {**headers, "Content-Type": "application/x-tar"}
            return self.http.request(method, self.service.url + path,
                                     data=body, headers=tar, timeout=20)  # fmt: skip
        return self.http.request(method, self.service.url + path,
                                 json=body, headers=headers, timeout=20)  # fmt: skip

    def stand_in(self, role: str) -> dict[str, str]:
        """The header of a new member like ``role``'s (for a request that ends the caller's
        membership); the token-less and bad-token roles are themselves."""
        world = self.world
        if role in ("anonymous", "revoked", "unknown"):
            return world.header(role)
        with world.store.write() as s:
            like = s.get_one(Member, world.members[role])
            name = f"standin{uuid.uuid4().hex[:8]}"
            member = add_member(s, SYSTEM, like.cohort, name=name.title(), role=like.role,
                                email=f"{name}@example.org", username=name)  # fmt: skip
            s.flush()
            world.members[name] = member.id
            token = mint_token(s, SYSTEM, member, "acl")
        if role == "reviewer":  # a learner holding a live allocation, as the reviewer does
            world.make("allocation", name)
        return {"Authorization": f"token {token}"}


def _serve(tmp: Path, url: str) -> ServiceProcess:
    svc = ServiceProcess(tmp, url)
    # Thousands of refused tokens from one address are the point here, not an attack.
    (tmp / "jupyter-config" / "jupyter_config.py").write_text(
        "c.ServiceSettings.failed_auth_limit = 0\n", "utf-8"
    )
    return svc.start()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Matrix]:
    tmp = tmp_path_factory.mktemp("acl")
    with ExitStack() as stack:
        if request.param == "sqlite":
            dbs: RoundDbs = request.getfixturevalue("round_dbs")
            db = tmp / "acl.sqlite"
            _copy_db(dbs.open, db)
            url = f"sqlite:///{db}"
            store = stack.enter_context(closing(Store.open(url)))
            with store.read() as s:
                cohort_id = s.get_one(Member, dbs.members["ana"]).cohort_id
            world = build_world(store, cohort_id, {"ana": dbs.members["ana"],
                                                    "ben": dbs.members["ben"]})  # fmt: skip
        else:
            url = stack.enter_context(fresh_database(request, "postgresql", tmp))
            store = stack.enter_context(closing(Store.open(url)))
            world = build_world(store, None, {})
        service = _serve(tmp, url)
        stack.callback(service.stop)
        open_exchange(world, tmp / "data" / "exchange")  # the service's ExchangeSettings.folder()
        made = Matrix(world, service, request.param)
        stack.callback(made.http.close)
        yield made


def _app_routes() -> set[tuple[str, str]]:
    """(METHOD, pattern) of every route the application serves."""
    store = Store.open("sqlite://", upgrade=True)
    try:
        app = make_app(store)
        found = set()
        for rule in app.wildcard_router.rules:
            handler = rule.target
            pattern = rule.matcher.regex.pattern.removesuffix("$")  # type: ignore[attr-defined]
            for method in METHODS:
                impl = getattr(handler, method, None)
                if impl is not None and impl is not getattr(RequestHandler, method):
                    found.add((method.upper(), pattern))
        return found
    finally:
        store.close()


def _unlisted(app: set[tuple[str, str]], rows: list[Row]) -> list[str]:
    """What is wrong between the application's routes and the table's rows."""
    table = {r.key for r in rows}
    problems = [f"listed twice: {k}" for k in table if [r.key for r in rows].count(k) > 1]
    problems += [f"missing from tests/api/access_table.py: {k}" for k in sorted(app - table)]
    problems += [f"a row for a route the service does not have: {k}" for k in sorted(table - app)]
    return problems


def test_the_table_lists_every_route_the_application_serves() -> None:
    """A route added without a row (or a row for a route that is gone) fails here."""
    assert _unlisted(_app_routes(), TABLE) == []


def test_a_route_without_a_row_is_caught() -> None:
    app = _app_routes() | {("POST", PREFIX + "/members/([0-9]{1,18})/role")}
    assert _unlisted(app, TABLE) == [
        f"missing from tests/api/access_table.py: ('POST', '{PREFIX}/members/([0-9]{{1,18}})/role')"
    ]
    assert _unlisted(_app_routes(), TABLE[1:]) == [f"missing from tests/api/access_table.py: "
                                                   f"{TABLE[0].key}"]  # fmt: skip


def _id(row: Row) -> str:
    return f"{row.method} {_GROUP.sub('*', row.pattern)}"


@pytest.mark.parametrize("row", TABLE, ids=_id)
def test_access(matrix: Matrix, row: Row) -> None:
    """Every case of ``row`` answers the table's status (all mismatches reported at once)."""
    wrong = []
    for role, target in matrix.cases(row):
        path, body = matrix.resolve(row, role, target)
        headers = matrix.stand_in(role) if row.path == "/me/leave" else matrix.world.header(role)
        resp = matrix.ask(row.method, row.prefix + path, body, headers)
        want = row.expected(role, target)
        if resp.status_code != want:
            wrong.append(f"{role:11} {target:7} want {want}, got {answer_text(resp)}")
    assert not wrong, f"{row.method} {row.path}:\n" + "\n".join(wrong)


def _smuggle(matrix: Matrix, case: Smuggled) -> tuple[str, Any, int | None]:
    """The case's path and body with cohort B's new resource (and its id) in place."""
    world, made = matrix.world, None
    text = json.dumps([case.path, case.body])
    for kind in ("post", "held", "member", "notification"):
        if "{" + kind + "}" in text:
            made = world.make(kind, "stranger")
            text = text.replace(f'"{{{kind}}}"', str(made)).replace(f"{{{kind}}}", str(made))
    if "{own_allocation}" in text:
        text = text.replace("{own_allocation}", str(world.make("allocation", "reviewer")))
    path, body = json.loads(text)
    return path, body, made


@pytest.mark.parametrize("case", SMUGGLED, ids=lambda c: f"{c.role} {c.method} {c.path}")
def test_another_cohorts_id_in_a_body_or_query(matrix: Matrix, case: Smuggled) -> None:
    path, body, made = _smuggle(matrix, case)
    resp = matrix.ask(case.method, PREFIX + path, body, matrix.world.header(case.role))
    assert resp.status_code == case.status, answer_text(resp)
    if case.absent:
        held = resp.json()[case.absent]
        if isinstance(held, int):
            assert held == 0, resp.text
        elif isinstance(held, dict):
            assert str(made) not in held, resp.text
        else:
            assert made not in [item.get("id") for item in held], resp.text


def test_another_cohorts_course_answers_as_a_course_that_does_not_exist(matrix: Matrix) -> None:
    """The exchange checks the course before the role (its rows' ``lookup_first``): every
    member, whatever its role, gets the same 404 for another cohort's course as for a course
    that does not exist, on a list and on an upload, so a course id never tells that a
    cohort exists."""
    world, wrong = matrix.world, []
    for role in MEMBER_ROLES:
        theirs = world.slugs[world.cohort_a if role == "outsider" else world.cohort_b]
        for method, tail, body in (("GET", "releases", None),
                                   ("POST", "assignments/ps1/submissions", TAR)):  # fmt: skip
            seen = []
            for slug in (theirs, "no-such-course"):
                resp = matrix.ask(method, f"{PREFIX}/exchange/{slug}/{tail}", body,
                                  world.header(role))  # fmt: skip
                data = resp.json()
                seen.append((resp.status_code, data.get("error"), data.get("field")))
            if seen[0] != seen[1] or seen[0][0] != 404:
                wrong.append(f"{role:11} {method} {tail}: {seen}")
    assert not wrong, "\n".join(wrong)


@pytest.fixture(scope="module")
def community(matrix: Matrix) -> dict[str, str]:
    """Cohorts g1 (graduated into "cop"), g2 (in "cop", not graduated) and g3 (graduated
    into "other") in the matrix's store: a token per member, and g1's topic "cop-topic"."""
    store = matrix.world.store
    people = {slug: make_cohort(store, slug, "other" if slug == "g3" else "cop")
              for slug in ("g1", "g2", "g3")}  # fmt: skip
    tokens = {}
    with store.write() as s:
        for slug in ("g1", "g3"):
            graduate(s, SYSTEM, s.get_one(Cohort, cohort_of(store, slug).id))
        for slug, members in people.items():
            for name, member in members.items():
                tokens[f"{name}-{slug}"] = mint_token(
                    s, SYSTEM, s.get_one(Member, member.id), "acl"
                )
    resp = matrix.ask("POST", PREFIX + "/community/topics",
                      {"name": "cop-topic", "title": "Cop", "body": "Hello"},
                      {"Authorization": f"token {tokens['ana-g1']}"})  # fmt: skip
    assert resp.status_code == 201, resp.text
    return tokens


def test_the_community_of_practice(matrix: Matrix, community: dict[str, str]) -> None:
    """Who reads and writes in which community, graduated or not (all cases at once)."""
    wrong = []
    for who, method, path, body, want in community_cases():
        if isinstance(body, dict) and body.get("name") == "{new}":
            body = {**body, "name": f"t-{uuid.uuid4().hex[:10]}"}
        resp = matrix.ask(method, PREFIX + path, body, {"Authorization": f"token {community[who]}"})
        if resp.status_code != want:
            wrong.append(f"{who:6} {method} {path}: want {want}, got {answer_text(resp)}")
    assert not wrong, "\n".join(wrong)
