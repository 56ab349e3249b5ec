"""Review anonymity in a double-blind round, through the running service: no learner's review
answers carry another learner's identity (username, display name, email, member id) — not
the inbox, the packets (file names, notebook text and metadata, nbgrader fields), the saved
drafts, progress, notifications, the reviews an author reads and rates, nor any error
message. In this round every learner is both an author and a reviewer, so "no other
learner" covers both directions: a reviewer never learns the author, an author never the
reviewer. The round is the real one nbgrader made (tests/helpers/review_service.py)."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from nbcohort.cohorts.models import Allocation, Review
from tests.helpers.review_service import NAMES, Live, RoundDbs, serving

pytestmark = pytest.mark.slow
ASSIGNMENT = "project-1"
MEMBER_KEYS = ("author", "reviewer", "member", "owner", "actor", "user")
# A person's own words are passed on as written, by design: a free-text mention of the
# author in a cell's source is reported to the instructor at round open, not edited
# (exchange/packets.py), and a review's comments are the reviewer's. The helpers plant such
# self-mentions ("Written by Ana Souza." in the author's notebook, "ana on **question**" in
# Ana's comments); exactly those are taken out before the walk, nothing else.
PLANTED = re.compile(r"Written by [A-Z][a-z]+ [A-Z][a-z]+\.|\b[a-z]+ on (<strong>|\*\*)")


class Identity:
    """What would name one learner: their words (as whole words) and their member id."""

    def __init__(self, name: str, member_id: int) -> None:
        self.username = name.split()[0].lower()
        self.member_id = member_id
        words = [name, self.username, f"{self.username}@example.org", name.split()[1]]
        self.pattern = re.compile("|".join(rf"\b{re.escape(w)}\b" for w in words), re.I)

    def found_in(self, value: Any, where: str = "") -> list[str]:
        """Where in a JSON value this learner shows (empty: nowhere)."""
        hits: list[str] = []
        if isinstance(value, dict):
            for key, inner in value.items():
                hits += self.found_in(str(key), f"{where}.{key}[key]")
                is_id = isinstance(inner, int) and not isinstance(inner, bool)
                if is_id and inner == self.member_id and any(k in str(key) for k in MEMBER_KEYS):
                    hits.append(f"{where}.{key} = member id {inner}")
                hits += self.found_in(inner, f"{where}.{key}")
        elif isinstance(value, list):
            for i, inner in enumerate(value):
                hits += self.found_in(inner, f"{where}[{i}]")
        elif isinstance(value, str) and self.pattern.search(PLANTED.sub("", value)):
            hits.append(f"{where}: {value[:120]!r}")
        return hits


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, round_dbs: RoundDbs
) -> Iterator[dict[str, Live]]:
    """The round open (reviewers at work) and closed (authors read their reviews)."""
    with serving(tmp_path_factory.mktemp("anonymity"), round_dbs) as start:
        yield {"open": start("open"), "closed": start("closed")}


def _get(http: requests.Session, run: Live, token: str, method: str, path: str,
         body: Any = None) -> Any:  # fmt: skip
    resp = http.request(method, f"{run.service.url}/api/v1{path}", json=body,
                        headers={"Authorization": f"token {token}"}, timeout=20)  # fmt: skip
    return {"status": resp.status_code, "answer": resp.json()}


def _packet_view(answer: dict[str, Any]) -> dict[str, Any]:
    """A packet's files as text: names, and each file decoded (a notebook parsed, so its
    metadata and nbgrader fields are walked key by key)."""
    files = answer.get("files", {})
    out: dict[str, Any] = {"names": sorted(files)}
    for name, b64 in files.items():
        raw = base64.b64decode(b64)
        try:
            out[name] = json.loads(raw) if name.endswith(".ipynb") else raw.decode("utf-8")
        except (UnicodeDecodeError, json.JSONDecodeError):
            out[name] = raw.decode("latin-1")
    return out


def _answers_of(run: Live, username: str, others_reviews: list[int]) -> dict[str, Any]:
    """Every review answer ``username`` can get in ``run``, by what was asked."""
    token = run.dbs.tokens[username]
    seen: dict[str, Any] = {}
    with requests.Session() as http:
        inbox = _get(http, run, token, "GET", f"/reviews/{ASSIGNMENT}")
        seen["inbox"] = inbox
        for item in inbox["answer"].get("inbox", []):
            aid = item["allocation_id"]
            packet = _get(
                http, run, token, "GET", f"/reviews/{ASSIGNMENT}/allocations/{aid}/packet"
            )
            assert packet["status"] == 200, packet
            seen[f"packet {aid}"] = _packet_view(packet["answer"])
            seen[f"draft {aid}"] = _get(http, run, token, "PUT",
                                        f"/reviews/{ASSIGNMENT}/allocations/{aid}",
                                        {"scores": {}, "overall_comment": "so far"})  # fmt: skip
        own = inbox["answer"].get("own") or {}
        for review in own.get("reviews", []):
            seen[f"rate {review['id']}"] = _get(
                http, run, token, "PUT",
                f"/reviews/{ASSIGNMENT}/reviews/{review['id']}/helpfulness", {"helpfulness": 4},
            )  # fmt: skip
        for rid in others_reviews:  # reviews of someone else's work: refused, saying nothing
            seen[f"rate another's {rid}"] = _get(
                http, run, token, "PUT",
                f"/reviews/{ASSIGNMENT}/reviews/{rid}/helpfulness", {"helpfulness": 1},
            )  # fmt: skip
        seen["progress"] = _get(http, run, token, "GET", "/me/reviews")
        seen["notifications"] = _get(http, run, token, "GET", "/notifications?all=1")
        seen["wrong assignment"] = _get(http, run, token, "GET", "/reviews/project-9")
    return seen


def _reviews_not_of(run: Live, member_id: int) -> list[int]:
    from nbcohort.cohorts.models import ReviewSubmission

    with run.store.read() as s:
        return list(
            s.scalars(
                select(Review.id)
                .join(Allocation, Review.allocation_id == Allocation.id)
                .join(ReviewSubmission, ReviewSubmission.id == Allocation.submission_id)
                .where(ReviewSubmission.author_id != member_id)
            )
        )


@pytest.mark.parametrize("state", ["open", "closed"])
def test_no_learner_learns_another_learners_identity(runs: dict[str, Live], state: str) -> None:
    run = runs[state]
    people = [Identity(name, run.dbs.members[name.split()[0].lower()]) for name in NAMES]
    leaks = []
    for me in people:
        seen = _answers_of(run, me.username, _reviews_not_of(run, me.member_id))
        assert seen["inbox"]["status"] == 200, seen["inbox"]
        assert sum(k.startswith("packet ") for k in seen) >= 2, seen.keys()  # two peers' work
        refused = [v for k, v in seen.items() if k.startswith("rate another's")]
        assert all(v["status"] == 404 for v in refused), refused
        assert refused or state == "open", "no one else's review to try"  # none yet when open
        if state == "closed":  # the author reads and rates the reviews of their work
            assert any(k.startswith("rate ") and v["status"] == 200 for k, v in seen.items()
                       if "another" not in k) or me.username == "dara", seen.keys()  # fmt: skip
        for other in people:
            if other is not me:
                leaks += [f"{me.username} sees {other.username} in {hit}"
                          for hit in other.found_in(seen)]  # fmt: skip
    assert not leaks, "\n".join(leaks[:40])


def test_the_walk_finds_an_identity_where_there_is_one(runs: dict[str, Live]) -> None:
    """The check itself can fail: each learner's own answers name them (their own packet
    was never theirs to review, but their /me does)."""
    run = runs["open"]
    with requests.Session() as http:
        for name in NAMES:
            me = Identity(name, run.dbs.members[name.split()[0].lower()])
            answer = _get(http, run, run.dbs.tokens[me.username], "GET", "/me")
            assert me.found_in(answer), answer
    planted = {"packet": {"cells": [{"metadata": {"nbgrader": {"author_id": me.member_id}}}]}}
    assert me.found_in(planted)
    assert me.found_in({"outputs": [{"text": f"loaded /home/{me.username}/data"}]})
    assert me.found_in({"source": f'NAME = "{NAMES[-1]}"'})  # only the planted words are spared
    assert not me.found_in({"source": f"Written by {NAMES[-1]}."})
    assert me.found_in({"names": [f"{me.username}+{ASSIGNMENT}.ipynb"]})
