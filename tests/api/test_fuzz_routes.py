"""Property-based fuzzing of every route: whatever the method, path values, query string, body
and token, the service never answers 500, always answers the API's JSON, and a refused
request writes nothing. Routes are read from the application, so a new route is fuzzed too.

The service runs in this process over a SQLite file (a request costs milliseconds, so a few
hundred examples per route group fit in the suite's time)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from nbcohort.cohorts.api.app import make_app
from nbcohort.cohorts.api.routes import ROUTES
from nbcohort.cohorts.api.server import BackgroundService
from nbcohort.cohorts.config import ExchangeSettings, ServiceSettings
from nbcohort.cohorts.models import Activity
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.services.posts import create_post
from nbcohort.cohorts.services.practices import sync_practices
from nbcohort.cohorts.services.prompts import sync_prompts
from nbcohort.cohorts.store import Store
from tests.helpers.community import SYSTEM
from tests.helpers.processes import free_port

pytestmark = pytest.mark.slow
FIELDS = ["anchor", "body", "parent_id", "title", "request_key", "reason", "action", "note",
          "filename", "content_b64", "description", "tags", "license", "scores", "comments",
          "overall_comment", "submit", "helpfulness", "consent"]  # fmt: skip
QUERY = ["anchor", "before", "limit", "tag", "all", "q", "kind", "window", "days", "quiet_days",
         "unanswered_hours"]  # fmt: skip
ALL = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class Live:
    def __init__(self, base: Path) -> None:
        self.store = Store.open(f"sqlite:///{base / 'fuzz.sqlite'}", upgrade=True)
        with self.store.write() as s:
            cohort = create_cohort(s, SYSTEM, "fuzz", "Fuzz")
            people = {
                role: add_member(s, SYSTEM, cohort, name=role.title(), email=f"{role}@x.org",
                                 role=role, username=role)
                for role in ("learner", "champion", "facilitator", "sponsor")
            }  # fmt: skip
            s.flush()
            self.tokens = {r: mint_token(s, SYSTEM, m, "fuzz") for r, m in people.items()}
            sync_prompts(s, SYSTEM, cohort, {"day-1": "What?"})
            sync_practices(s, SYSTEM, cohort, {"read-csv": "Read a CSV"})
            post = create_post(s, Actor.of(people["champion"]), cohort, "module-1/a", "hello")
            s.flush()
            self.post_id = post.id
        settings = ServiceSettings(port=free_port(), failed_auth_limit=0)
        exchange = ExchangeSettings(max_upload_bytes=4096)  # the exchange's routes are on too
        app = make_app(self.store, settings, exchange=exchange, data_dir=str(base))
        self.service = BackgroundService(app, settings).start()
        self.http = requests.Session()

    def writes(self) -> int:
        with self.store.read() as s:
            return s.scalar(select(func.count()).select_from(Activity)) or 0

    def answers_in_json_writing_nothing_when_refused(
        self, method: str, path: str, body: Any, who: str
    ) -> None:
        """``body`` as JSON to ``path`` as member ``who``: never a 500, and a refusal is the
        API's error JSON with nothing written (the area fuzzers' one check)."""
        before = self.writes()
        resp = self.http.request(
            method, self.service.url + path, data=json.dumps(body),
            headers={"Authorization": f"token {self.tokens[who]}",
                     "Content-Type": "application/json"}, timeout=10,
        )  # fmt: skip
        assert resp.status_code < 500, (method, path, body, resp.text)
        data = resp.json()
        if resp.status_code >= 400:
            assert {"error", "message"} <= set(data), data
            assert self.writes() == before, (method, path, body, resp.status_code)

    def close(self) -> None:
        self.http.close()
        self.service.stop()
        self.store.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    made = Live(tmp_path_factory.mktemp("fuzz"))
    yield made
    made.close()


def _route_shapes() -> list[tuple[str, list[str]]]:
    """Each route's path with ``{}`` where its values go, and the methods its handler has."""
    shapes = []
    for pattern, handler in ROUTES:
        template = re.sub(r"\((?:[^()]|\([^()]*\))*\)", "{}", pattern)
        methods = [m.upper() for m in ("get", "post", "put", "patch", "delete")
                   if m in vars(handler)]  # fmt: skip
        shapes.append((template, methods))
    return shapes


SHAPES = _route_shapes()
scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), inner, max_size=4
        )
    ),
    max_leaves=12,
)
bodies = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6).map(
        lambda d: json.dumps(d).encode()
    ),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=60),
    st.just(b""),
)
# Mostly values a route accepts (so requests reach its input checks and rules), some not.
path_values = st.one_of(
    st.sampled_from(["1", "2", "current", "day-1", "read-csv", "project-1", "helpful", "+1"]),
    st.sampled_from(["1", "2", "current", "day-1", "read-csv", "project-1", "helpful", "+1"]),
    st.sampled_from(["fuzz", "ps1"]),  # the exchange: the cohort's course id, an assignment
    st.integers(min_value=0, max_value=10**19).map(str),
    st.sampled_from(["-1", "..", "%00", "a/b", "9" * 18, "%F0%28", "day-9"]),
    st.text(max_size=20).map(lambda t: quote(t, safe="")),
)
queries = st.dictionaries(
    st.one_of(st.sampled_from(QUERY), st.text(max_size=6)),
    st.one_of(st.text(max_size=20), st.integers(min_value=-(2**70), max_value=2**70).map(str)),
    max_size=4,
)


@st.composite
def requests_(draw: Any) -> tuple[str, str, bytes, str | None]:
    template, methods = draw(st.sampled_from(SHAPES))
    values = [draw(path_values) for _ in range(template.count("{}"))]
    path = template.format(*values)
    method = draw(st.sampled_from(methods) if draw(st.integers(0, 9)) else st.sampled_from(ALL))
    query = draw(queries)
    if query:
        path += "?" + urlencode(query)
    who = draw(st.sampled_from(["learner", "learner", "champion", "facilitator", "sponsor", None,
                                "bad"]))  # fmt: skip
    return method, path, draw(bodies), who


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(request=requests_())
def test_no_route_answers_500_and_refusals_write_nothing(live: Live, request: Any) -> None:
    method, path, body, who = request
    headers = {"Content-Type": "application/json"}
    if who == "bad":
        headers["Authorization"] = "token nbc_not-a-real-token"
    elif who is not None:
        headers["Authorization"] = f"token {live.tokens[who]}"
    before = live.writes()
    resp = live.http.request(
        method, live.service.url + path, data=body or None, headers=headers, timeout=10
    )
    event(f"answered {resp.status_code}")  # --hypothesis-show-statistics: what was reached
    assert resp.status_code < 500, (method, path, body, resp.text)
    if resp.headers["Content-Type"] == "application/zip":  # a member's own export, the one ZIP
        assert resp.status_code == 200 and path.startswith("/api/v1/me/export"), path
        return
    assert resp.headers["Content-Type"].startswith("application/json"), resp.text
    assert "Server" not in resp.headers
    if method == "HEAD":  # an answer to HEAD has no body
        return
    data = resp.json()
    if resp.status_code >= 400:
        assert {"error", "message"} <= set(data), data
        assert live.writes() == before, (method, path, body, resp.status_code)


def test_every_route_is_fuzzed() -> None:
    """The strategy draws from the application's own route table, every route of it."""
    assert len(SHAPES) == len(ROUTES) >= 20
    assert all(methods for _, methods in SHAPES)
