"""The HTTP service, driven through the client as widgets drive it: status codes and rules."""

from __future__ import annotations

import gc
import gzip
import json

import pytest
import requests

from nbcohort.cohorts.api.server import freeze_heap
from nbcohort.cohorts.client import ClientError, CohortClient, ServiceUnavailable
from nbcohort.cohorts.config import ServiceSettings

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


@pytest.fixture
def clients(service, tokens):
    made = {name: CohortClient(service.url, tok, timeout=10) for name, tok in tokens.items()}
    yield made
    for c in made.values():
        c.close()


def test_health_needs_no_token(service):
    resp = requests.get(service.url + "/api/v1/health", timeout=5)
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"


def test_request_without_or_with_bad_token_is_401(service):
    for headers in ({}, {"Authorization": "token nbc_wrong"}, {"Authorization": "Basic abc"}):
        resp = requests.get(service.url + "/api/v1/me", headers=headers, timeout=5)
        assert resp.status_code == 401, headers
        assert resp.json()["error"] == "unauthorized"


def test_me_and_members(clients, cohort):
    me = clients["ana"].me()
    assert me["member"]["username"] == "ana"
    assert me["member"]["email"] == "ana@example.org"
    assert me["cohort"]["slug"] == cohort.slug
    names = {m["username"] for m in clients["ben"].members()}
    assert names == {"ana", "ben", "chi", "fay", "ivo", "sam"}
    assert all("email" not in m for m in clients["ben"].members())


def test_post_reply_read_round_trip(clients):
    ana, ben = clients["ana"], clients["ben"]
    empty = ben.thread(ANCHOR)
    assert empty["exists"] is False and empty["posts"] == []
    assert ben.thread(ANCHOR)["exists"] is False  # reading does not create the thread
    top = ana.post(ANCHOR, "How do I read **Excel** files?")
    assert top["html"] == "<p>How do I read <strong>Excel</strong> files?</p>\n"
    reply = ben.post(ANCHOR, "`pd.read_excel`", parent_id=top["id"])
    page = ana.thread(ANCHOR)
    assert page["exists"] and page["total"] == 2
    assert [p["id"] for p in page["posts"]] == [top["id"]]
    assert [r["id"] for r in page["posts"][0]["replies"]] == [reply["id"]]


def test_refusals_map_to_status_codes(clients):
    ana, ben, sam = clients["ana"], clients["ben"], clients["sam"]
    post = ana.post(ANCHOR, "mine")
    with pytest.raises(ClientError) as exc:
        ben.edit(post["id"], "not yours")
    assert exc.value.status == 403
    with pytest.raises(ClientError) as exc:
        sam.post(ANCHOR, "sponsors read, they do not post")
    assert exc.value.status == 403
    with pytest.raises(ClientError) as exc:
        ana.post(ANCHOR, "   ")
    assert (exc.value.status, exc.value.field) == (422, "body")
    with pytest.raises(ClientError) as exc:
        ana.get_post(999_999)
    assert exc.value.status == 404
    assert ana.get_post(post["id"])["html"] == "<p>mine</p>\n"


def test_malformed_json_is_422_and_writes_nothing(service, tokens, clients):
    resp = requests.post(
        service.url + "/api/v1/posts",
        data=b"{not json",
        headers={"Authorization": f"token {tokens['ana']}"},
        timeout=5,
    )
    assert resp.status_code == 422
    assert resp.json()["field"] == "body"
    assert clients["ana"].thread(ANCHOR)["exists"] is False


def test_unreachable_service_fails_fast():
    client = CohortClient("http://127.0.0.1:9", "tok", timeout=1)
    with pytest.raises(ServiceUnavailable):
        client.me()


def _young_collections_while(live: int) -> int:
    """Collections of the youngest generation while ``live`` objects are alive at once, as
    the objects of the requests in flight are."""
    before = gc.get_stats()[0]["collections"]
    held = [{"request": i} for i in range(live)]
    after = gc.get_stats()[0]["collections"]
    del held
    return after - before


def test_a_serving_process_collects_young_objects_less_often():
    saved = gc.get_threshold()
    try:
        freeze_heap()  # 0: Python's own threshold
        assert gc.get_threshold() == saved
        assert _young_collections_while(5_000) >= 5
        freeze_heap(ServiceSettings().gc_young_threshold)
        assert gc.get_threshold() == (20_000, *saved[1:])
        assert _young_collections_while(5_000) == 0
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()


def test_responses_are_gzipped_for_clients_that_accept_it(clients, service, tokens):
    for i in range(8):  # a page well above the size worth compressing
        clients["ana"].post(ANCHOR, f"Post {i}: how do I merge on two keys? " * 4)
    url, auth = f"{service.url}/api/v1/thread", {"Authorization": f"token {tokens['ben']}"}
    plain = requests.get(url, params={"anchor": ANCHOR}, timeout=10,
                         headers={**auth, "Accept-Encoding": "identity"})  # fmt: skip
    packed = requests.get(url, params={"anchor": ANCHOR}, timeout=10, stream=True,
                          headers={**auth, "Accept-Encoding": "gzip"})  # fmt: skip
    raw = packed.raw.read(decode_content=False)
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert len(raw) < len(plain.content) / 3
    assert json.loads(gzip.decompress(raw)) == plain.json()
    assert len(plain.json()["posts"]) == 8
