"""The API under hostile input, against a real ``nbcohort serve``: every rule about a post
holds on every route that reaches it, wrong types and huge numbers are 422s naming the
field, nothing is read before the token, failed tokens are limited, metrics cannot be
inflated, and every answer is the API's JSON."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import requests
from sqlalchemy import delete, func, select, update

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.models import (
    Activity,
    AppliedPractice,
    ArtifactReuse,
    FailedLogin,
    Post,
    Prompt,
    utcnow,
)
from nbcohort.cohorts.services.practices import sync_practices
from nbcohort.cohorts.services.prompts import sync_prompts
from tests.helpers.community import SYSTEM
from tests.helpers.processes import ServiceProcess

# One service and database per module and leg; a cohort of its own per test.
from tests.helpers.shared_serve import (  # noqa: F401 - the fixtures
    serve_cohort,
    serve_db_url,
    serve_module_service,
    serve_module_world,
    serve_service,
    serve_store,
)

ANCHOR = "module-1/loading-data"
SECRET = "my answer nobody should read early"


@pytest.fixture
def http(service, tokens):
    """``call(who, method, path, **kw)``: a raw request as member ``who`` (None: no token)."""
    yield from _caller(service, tokens)


@pytest.fixture(scope="module")
def shared_http(module_world):
    """``http`` on the module's one service, for tests that are refused or only read."""
    yield from _caller(module_world.service, module_world.tokens)


def _caller(service, tokens):
    session = requests.Session()

    def call(who, method, path, **kw):
        headers = dict(kw.pop("headers", {}))
        if who is not None:
            headers["Authorization"] = f"token {tokens[who]}"
        return session.request(method, service.url + path, headers=headers, timeout=10, **kw)

    yield call
    session.close()


def writes(store) -> int:
    """Every write records an activity: the count tells whether anything was written."""
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Activity)) or 0


def is_api_error(resp: requests.Response, status: int, field: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    assert "Server" not in resp.headers
    data = resp.json()
    assert set(data) >= {"error", "message"} and "Traceback" not in resp.text
    if field is not None:
        assert data.get("field") == field, data
    return data


# -- 1. a rule about posts holds on every route that reaches a post ---------------------------
# (method, path, body) for every route that acts on one post; {id} is the post.
POST_ROUTES = {
    "read": ("GET", "/api/v1/posts/{id}", None),
    "react": ("PUT", "/api/v1/posts/{id}/reactions/helpful", None),
    "unreact": ("DELETE", "/api/v1/posts/{id}/reactions/helpful", None),
    "flag": ("POST", "/api/v1/posts/{id}/flags", {"reason": "hm"}),
    "reply": ("POST", "/api/v1/posts", {"anchor": "{anchor}", "body": "me too", "parent_id": 0}),
    "edit": ("PATCH", "/api/v1/posts/{id}", {"body": "changed"}),
    "delete": ("DELETE", "/api/v1/posts/{id}", {"reason": "spam"}),
    "moderate": ("POST", "/api/v1/posts/{id}/moderation", {"action": "hide", "reason": "x"}),
}


def reach(http, who, route, post_id, anchor):
    method, path, body = POST_ROUTES[route]
    if body is not None:
        body = json.loads(json.dumps(body).replace("{anchor}", anchor))
        if "parent_id" in body:
            body["parent_id"] = post_id
    return http(who, method, path.format(id=post_id), json=body)


@pytest.fixture
def prompt_answer(store, cohort, clients):
    """Ben answered the micro-prompt day-1; Ana has not."""
    with store.write() as s:
        sync_prompts(s, SYSTEM, s.merge(cohort), {"day-1": "What format is your data in?"})
    return clients["ben"].answer_prompt("day-1", SECRET)


@pytest.fixture
def clients(service, tokens):
    made = {name: CohortClient(service.url, tok, timeout=10) for name, tok in tokens.items()}
    yield made
    for c in made.values():
        c.close()


@pytest.mark.parametrize("route", ["read", "react", "unreact", "flag", "reply", "edit", "delete"])
def test_an_answer_stays_hidden_from_who_has_not_answered_on_every_route(
    http, store, prompt_answer, route
):
    before = writes(store)
    resp = reach(http, "ana", route, prompt_answer["id"], "prompt/day-1")
    assert resp.status_code in (403, 422), resp.text  # 422: prompt threads take no direct reply
    assert SECRET not in resp.text
    assert writes(store) == before


def test_an_answer_shows_once_one_has_answered_and_to_staff(clients, prompt_answer):
    ana, fay = clients["ana"], clients["fay"]
    assert SECRET in fay.get_post(prompt_answer["id"])["html"]  # staff see every answer
    ana.answer_prompt("day-1", "CSV, mostly")
    assert SECRET in ana.get_post(prompt_answer["id"])["html"]
    assert ana.react(prompt_answer["id"], "helpful") is True


def test_a_prompt_that_has_not_opened_cannot_be_read_or_answered(http, store, cohort, clients):
    with store.write() as s:
        sync_prompts(s, SYSTEM, s.merge(cohort), {"next-week": "What will you automate?"})
        s.execute(
            update(Prompt)
            .where(Prompt.cohort_id == cohort.id)
            .values(opens_at=utcnow() + timedelta(days=7))
        )
    answer = clients["fay"].answer_prompt("next-week", "staff may prepare an example")
    before = writes(store)
    is_api_error(http("ana", "GET", "/api/v1/prompts/next-week"), 404, "key")
    is_api_error(http("ana", "POST", "/api/v1/prompts/next-week/answer", json={"body": "x"}), 404)
    for route in ("read", "react", "flag"):
        resp = reach(http, "ana", route, answer["id"], "prompt/next-week")
        is_api_error(resp, 404, "post_id")
        assert "staff may prepare" not in resp.text
    assert writes(store) == before
    assert http("fay", "GET", "/api/v1/prompts/next-week").status_code == 200


@pytest.mark.parametrize(("route", "status"), [("reply", 403), ("react", 403)])
def test_a_hidden_post_takes_no_reply_or_reaction(http, store, clients, route, status):
    post = clients["ben"].post(ANCHOR, "something rude")
    clients["fay"].moderate(post["id"], "hide", "rude")
    before = writes(store)
    resp = reach(http, "ana", route, post["id"], ANCHOR)
    data = is_api_error(resp, status)
    assert "hidden" in data["message"]
    assert writes(store) == before
    assert reach(http, "fay", route, post["id"], ANCHOR).status_code in (200, 201)  # staff may


def test_a_hidden_post_is_read_without_its_text(http, clients):
    post = clients["ben"].post(ANCHOR, "something rude")
    clients["fay"].moderate(post["id"], "hide", "rude")
    seen = http("ana", "GET", f"/api/v1/posts/{post['id']}").json()
    assert seen["hidden"] is True and seen["html"] == "" and "rude" not in json.dumps(seen)


@pytest.mark.parametrize("route", sorted(POST_ROUTES))
def test_another_cohorts_post_is_not_found_on_every_route(http, store, cohort, clients, route):
    from nbcohort.cohorts.services.auth import Actor
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.services.members import add_member
    from nbcohort.cohorts.services.posts import create_post

    with store.write() as s:
        other = create_cohort(s, SYSTEM, f"autumn-{cohort.id}", "Autumn")
        zoe = add_member(s, SYSTEM, other, name="Zoe", email="zoe@example.org", username="zoe")
        s.flush()
        theirs = create_post(s, Actor.of(zoe), other, ANCHOR, "autumn's own words")
        post_id = theirs.id
    before = writes(store)
    for who in ("ana", "fay"):
        resp = reach(http, who, route, post_id, ANCHOR)
        is_api_error(resp, 404 if route != "moderate" or who == "fay" else 403)
        assert "autumn's own words" not in resp.text
    assert writes(store) == before


# -- 2. wrong types and out-of-range numbers: 422 naming the field, never 500 -----------------
@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("GET", "/api/v1/thread?anchor=a&before=9223372036854775808", None, "before"),
        ("GET", "/api/v1/thread?anchor=a&before=-1", None, "before"),
        ("GET", "/api/v1/thread?anchor=a&limit=100000000000000000000", None, "limit"),
        ("GET", "/api/v1/thread?anchor=a&before=abc", None, "before"),
        ("GET", "/api/v1/thread", None, "anchor"),
        ("GET", "/api/v1/prompts/current?before=9223372036854775808", None, "before"),
        ("POST", "/api/v1/posts", {"anchor": ANCHOR, "body": "x",
                                   "parent_id": 99999999999999999999}, "parent_id"),
        ("POST", "/api/v1/posts", {"anchor": ANCHOR, "body": "x", "parent_id": True}, "parent_id"),
        ("POST", "/api/v1/posts", {"anchor": ["a"], "body": "x"}, "anchor"),
        ("POST", "/api/v1/posts", {"anchor": 5, "body": "x"}, "anchor"),
        ("POST", "/api/v1/posts", {"anchor": ANCHOR, "body": {"$gt": ""}}, "body"),
        ("POST", "/api/v1/posts", [1, 2], "body"),
        ("POST", "/api/v1/thread/read", {"anchor": None}, "anchor"),
        ("PATCH", "/api/v1/posts/1", {"body": 5}, "body"),
        ("POST", "/api/v1/posts/1/moderation", {"action": "nuke", "reason": "x"}, "action"),
        ("PUT", "/api/v1/practices/read-csv", {"note": ["x"]}, "note"),
        ("POST", "/api/v1/artifacts", {"filename": "a.py", "title": "t",
                                       "content_b64": None}, "content_b64"),
        ("POST", "/api/v1/artifacts", {"filename": "a.py", "title": "t"}, "content_b64"),
        ("POST", "/api/v1/artifacts", {"filename": "a.py", "title": "t",
                                       "content_b64": "!!!"}, "content_b64"),
        ("PUT", "/api/v1/reviews/project-1/allocations/1", {"scores": [1]}, "scores"),
        ("PUT", "/api/v1/reviews/project-1/reviews/1/helpfulness",
         {"helpfulness": "5"}, "helpfulness"),
        # A NUL character: PostgreSQL refuses it in text (it was a 500 there).
        ("POST", "/api/v1/posts", {"anchor": ANCHOR, "body": "a\x00b"}, "body"),
        ("POST", "/api/v1/posts", {"anchor": "module-1/\x00", "body": "x"}, "anchor"),
        ("PATCH", "/api/v1/posts/1", {"body": "\x00"}, "body"),
        ("GET", "/api/v1/thread?anchor=a%00b", None, "anchor"),
        ("GET", "/api/v1/artifacts?tag=%00", None, "tag"),
    ],
)  # fmt: skip
def test_wrong_types_and_huge_numbers_are_422_naming_the_field(
    shared_http, module_world, method, path, body, field
):
    before = writes(module_world.store)
    is_api_error(shared_http("ana", method, path, json=body), 422, field)
    assert writes(module_world.store) == before


@pytest.mark.parametrize(
    "path", ["/api/v1/posts/99999999999999999", "/api/v1/artifacts/9223372036854775807",
             "/api/v1/reviews/project-1/allocations/4294967296/packet"],
)  # fmt: skip
def test_an_id_beyond_any_the_database_holds_is_not_found(shared_http, path):
    is_api_error(shared_http("ana", "GET", path), 404)


def test_a_body_that_is_not_json_names_the_body(http, store):
    before = writes(store)
    for raw in (b"{", b"\xff\xfe", b"[" * 100_000, b'{"anchor": "a", "body": NaN}'):
        resp = http("ana", "POST", "/api/v1/posts", data=raw)
        is_api_error(resp, 422, "body")
    assert writes(store) == before


# -- 3. the token before the body; failed tokens are limited ----------------------------------
def test_no_token_is_401_whatever_the_body(http, store):
    before = writes(store)
    for raw in (b"[" * 100_000, json.dumps({"anchor": 5, "body": None}).encode(), b"\x00" * 10):
        is_api_error(http(None, "POST", "/api/v1/posts", data=raw), 401)
    bad = {"Authorization": "token nbc_not-a-token"}
    is_api_error(http(None, "POST", "/api/v1/posts", data=b"[" * 1000, headers=bad), 401)
    assert writes(store) == before


def test_a_large_body_without_a_token_is_refused_before_it_is_read(service):
    """The answer comes while the client is still sending: the service did not wait for
    (or keep) the 8 MiB; the connection is closed after the answer."""
    import socket

    with socket.create_connection(("127.0.0.1", service.port), timeout=10) as sock:
        head = (
            "POST /api/v1/artifacts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {8 * 2**20}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"{" + b" " * 1000)
        answer = sock.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 401"), answer[:200]
    assert '"error":"unauthorized"' in answer


def test_a_body_over_the_limit_is_413_in_json(http, store):
    before = writes(store)
    resp = http("ana", "POST", "/api/v1/posts", data=b" " * (8 * 2**20 + 1))
    is_api_error(resp, 413)
    assert writes(store) == before


@pytest.fixture
def own_service(tmp_path, module_service, store):
    """A service of this test's own, on the module's database, which every replica's limit on
    failed tokens reads: no failures from this address before the test, none after it (the
    module's service would refuse the next tests' callers)."""

    def forget_failures() -> None:
        with store.write() as s:
            s.execute(delete(FailedLogin))

    forget_failures()
    svc = ServiceProcess(tmp_path, module_service.url).start()
    yield svc
    svc.stop()
    forget_failures()


@pytest.fixture
def own_http(own_service, tokens):
    yield from _caller(own_service, tokens)


@pytest.fixture
def own_ana(own_service, tokens):
    ana = CohortClient(own_service.url, tokens["ana"], timeout=10)
    yield ana
    ana.close()


def test_failed_tokens_are_limited_per_address_without_slowing_members(own_http, own_ana):
    http, clients = own_http, {"ana": own_ana}
    assert clients["ana"].me()["member"]["username"] == "ana"  # ana's token is known here
    bad = {"Authorization": "token nbc_guess"}
    statuses = [http(None, "GET", "/api/v1/me", headers=bad).status_code for _ in range(25)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    limited = http(None, "GET", "/api/v1/me", headers=bad)
    is_api_error(limited, 429)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert clients["ana"].me()["member"]["username"] == "ana"  # a member still gets in
    assert http(None, "GET", "/api/v1/health").status_code == 200


# -- 4. metrics a member cannot inflate -------------------------------------------------------
def test_copying_an_artifact_again_is_not_another_reuse(clients, store, cohort):
    made = clients["ana"].share("a.py", b"print(1)\n", "A snippet")
    for _ in range(5):
        assert clients["ben"].copy_artifact(made["id"])[1] == b"print(1)\n"
    clients["ana"].copy_artifact(made["id"])  # the author's own copy is no reuse
    with store.read() as s:
        assert s.scalar(select(func.count()).where(ArtifactReuse.artifact_id == made["id"])) == 1
        reuses = s.scalar(
            select(func.count()).where(
                Activity.verb == "artifact.reuse", Activity.cohort_id == cohort.id
            )
        )
    assert reuses == 1
    assert clients["chi"].artifacts()[0]["reuses"] == 1


def test_only_the_courses_practices_can_be_applied(http, store, cohort):
    with store.write() as s:
        sync_practices(s, SYSTEM, s.merge(cohort), {"read-csv": "Read a CSV with its encoding"})
    is_api_error(http("ana", "PUT", "/api/v1/practices/made-up", json={"note": "x"}), 404)
    is_api_error(http("ana", "GET", "/api/v1/practices/made-up"), 404, "practice")
    ok = http("ana", "PUT", "/api/v1/practices/read-csv", json={"note": "did it"})
    assert ok.status_code == 200 and ok.json()["title"] == "Read a CSV with its encoding"
    with store.read() as s:
        applied = select(AppliedPractice.practice).where(AppliedPractice.cohort_id == cohort.id)
        assert list(s.scalars(applied)) == ["read-csv"]


def test_content_must_be_given_as_base64_text(http, store):
    before = writes(store)
    for value in (None, 5, ["aGk="]):
        body = {"filename": "a.py", "title": "t", "content_b64": value}
        is_api_error(http("ana", "POST", "/api/v1/artifacts", json=body), 422, "content_b64")
    assert writes(store) == before
    good = {"filename": "a.py", "title": "t", "content_b64": base64.b64encode(b"hi").decode()}
    assert http("ana", "POST", "/api/v1/artifacts", json=good).status_code == 201


# -- 5. every answer is the API's --------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "method", "path", "status"),
    [
        (None, "GET", "/", 404),
        (None, "GET", "/api/v1/nowhere", 404),
        ("ana", "GET", "/api/v1/posts/abc", 404),
        ("ana", "GET", "/api/v1/posts/123456", 404),
        ("ana", "POST", "/api/v1/health", 405),
        ("ana", "TRACE", "/api/v1/me", 405),
        (None, "GET", "/api/v1/me", 401),
        ("ana", "GET", "/api/v1/me", 200),
        (None, "GET", "/api/v1/health", 200),
    ],
)
def test_every_answer_is_json_and_names_no_server_software(shared_http, who, method, path, status):
    resp = shared_http(who, method, path)
    if method == "TRACE":  # Tornado closes after a method it does not know: said, so the
        assert resp.headers.get("Connection") == "close"  # session's next request is fresh
    assert resp.status_code == status
    assert "Server" not in resp.headers
    assert resp.headers["Content-Type"].startswith("application/json")
    data = resp.json()
    if status >= 400:
        assert {"error", "message"} <= set(data) and "<html" not in resp.text


def test_posts_in_the_database_are_untouched_by_refusals(store, http, clients):
    """After a run of refused requests, the post table is exactly what it was."""
    post = clients["ana"].post(ANCHOR, "mine")
    with store.read() as s:
        before = list(s.execute(select(Post.id, Post.body_md, Post.hidden, Post.deleted)))
    http("ben", "PATCH", f"/api/v1/posts/{post['id']}", json={"body": "ben's words"})
    http("ben", "DELETE", f"/api/v1/posts/{post['id']}", json={"reason": ""})
    http("ben", "POST", f"/api/v1/posts/{post['id']}/moderation", json={"action": "hide"})
    with store.read() as s:
        assert list(s.execute(select(Post.id, Post.body_md, Post.hidden, Post.deleted))) == before
