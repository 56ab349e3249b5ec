"""GET /api/v1/search through a real ``nbcohort serve``: answers, refusals naming ``q``, and
hostile queries that stay words."""

from __future__ import annotations

import pytest
import requests

from nbcohort.cohorts.client import ClientError, CohortClient

ANCHOR = "module-1/loading-data"


@pytest.fixture
def clients(service, tokens):
    made = {name: CohortClient(service.url, tok, timeout=10) for name, tok in tokens.items()}
    yield made
    for c in made.values():
        c.close()


def test_search_answers_each_kind_as_the_caller_may_see_it(clients):
    ana, ben, fay = clients["ana"], clients["ben"], clients["fay"]
    top = ana.post(ANCHOR, "Reading **parquet** files with pyarrow")
    ben.post(ANCHOR, "parquet keeps the dtypes", parent_id=top["id"])
    shady = ben.post("topic/misc", "parquet spam spam")
    fay.moderate(shady["id"], "hide", "spam")
    ana.share("parquet_demo.py", b"print(1)", "Parquet demo", "Reads a *parquet* file", ["io"])
    found = ben.search("parquet")
    assert found["words"] == ["parquet"]
    assert len(found["posts"]) == 2 and shady["id"] not in {p["id"] for p in found["posts"]}
    assert all("<mark>parquet</mark>" in p["snippet"].lower() for p in found["posts"])
    assert [a["title"] for a in found["artifacts"]] == ["Parquet demo"]
    assert shady["id"] in {p["id"] for p in fay.search("parquet")["posts"]}
    only = ben.search("parquet", kind="artifact", limit=1)
    assert only["posts"] == [] and len(only["artifacts"]) == 1


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({}, "q is required"),
        ({"q": ""}, "at least one word"),
        ({"q": '  "*()- '}, "at least one word"),
        ({"q": "x" * 10_000}, "at most 200 characters"),
        ({"q": "a", "kind": "member"}, "kind must be"),
        ({"q": "a", "limit": "0"}, "limit must be at least 1"),
        ({"q": "a", "limit": "many"}, "limit must be a whole number"),
    ],
)
def test_bad_queries_are_422_naming_the_field(module_world, params, says):
    resp = requests.get(
        module_world.service.url + "/api/v1/search",
        params=params,
        headers={"Authorization": f"token {module_world.tokens['ben']}"},
        timeout=10,
    )
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert says in body["message"]
    assert body["field"] == ("q" if "q" in says or "word" in says or "200" in says else
                             next(k for k in ("kind", "limit") if k in says))  # fmt: skip


def test_search_needs_a_token(service):
    resp = requests.get(service.url + "/api/v1/search", params={"q": "x"}, timeout=5)
    assert resp.status_code == 401


def test_fts_syntax_in_a_query_is_searched_as_words(clients):
    said = clients["ana"].post(ANCHOR, "near and not or")
    for q in ('"near', "NEAR(and not)", "and* -or", "(not) OR near", '"and" AND "not"'):
        found = clients["ben"].search(q)
        assert [p["id"] for p in found["posts"]] == [said["id"]], q
    with pytest.raises(ClientError) as info:
        clients["ben"].search('"*"')
    assert info.value.status == 422 and info.value.field == "q"
