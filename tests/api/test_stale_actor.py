"""A service process trusts an authenticated member for ``auth_cache_seconds``. A leave made
through another process, or a role changed from the command line, must still stop that
member's writes at once (two ``nbcohort serve`` on one database, each with a long cache)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from sqlalchemy import func, select, update

from nbcohort.cohorts.models import Member, Post
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from tests.conftest import fresh_database
from tests.helpers.processes import ServiceProcess

Pair = tuple[ServiceProcess, ServiceProcess, Store, dict[str, str]]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("stale-actor")
    with fresh_database(request, request.param, tmp) as url:
        store = Store.open(url)
        tokens = {}
        with store.write() as s:
            cohort = create_cohort(s, Actor.system(), "stale", "Stale actors")
            for username, role in (("ana", "learner"), ("fay", "facilitator")):
                m = add_member(s, Actor.system(), cohort, name=username.title(), role=role,
                               email=f"{username}@example.org", username=username)  # fmt: skip
                tokens[username] = mint_token(s, Actor.system(), m, "test")
        services = []
        try:
            for name in ("a", "b"):
                (tmp / name).mkdir()
                svc = ServiceProcess(tmp / name, url)
                svc.args.append("--ServiceSettings.auth_cache_seconds=600")
                services.append(svc.start())
            yield services[0], services[1], store, tokens
        finally:
            for svc in services:
                svc.stop()
            store.close()


def _call(svc: ServiceProcess, token: str, method: str, path: str, **kw: object):
    return requests.request(method, svc.url + "/api/v1" + path, timeout=10,
                            headers={"Authorization": f"token {token}"}, **kw)  # type: ignore[arg-type]  # fmt: skip


def _posts(store: Store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Post)) or 0


def test_a_member_who_left_through_one_process_cannot_write_through_another(
    pair: Pair,
) -> None:
    a, b, store, tokens = pair
    post = {"anchor": "course/01/why", "body": "before leaving"}
    assert _call(b, tokens["ana"], "POST", "/posts", json=post).status_code == 201  # b trusts ana
    before = _posts(store)
    left = _call(a, tokens["ana"], "POST", "/me/leave", json={"confirm": "leave", "reason": "x"})
    assert left.status_code == 200, left.text
    late = _call(b, tokens["ana"], "POST", "/posts", json={**post, "body": "after leaving"})
    assert late.status_code == 403, late.text
    assert late.json()["error"] == "not_on_roster"
    assert _posts(store) == before
    # and b has let go of her: the next request is checked afresh (her tokens are revoked)
    assert _call(b, tokens["ana"], "GET", "/me").status_code == 401


def test_a_role_changed_elsewhere_stops_the_old_roles_writes(pair: Pair) -> None:
    """b trusts fay as a facilitator; the roster makes her a learner. Her next write is
    checked again, under the new role: moderating is refused, posting goes through."""
    _a, b, store, tokens = pair
    post = _call(b, tokens["fay"], "POST", "/posts", json={"anchor": "course/01/why",
                                                            "body": "hide me later"})  # fmt: skip
    assert post.status_code == 201, post.text
    assert _call(b, tokens["fay"], "GET", "/me").json()["member"]["role"] == "facilitator"
    with store.write() as s:  # as `nbcohort roster import` would, in another process
        s.execute(update(Member).where(Member.username == "fay").values(role="learner"))
    hide = {"action": "hide", "reason": "off topic"}
    stale = _call(b, tokens["fay"], "POST", f"/posts/{post.json()['id']}/moderation", json=hide)
    assert stale.status_code == 403, stale.text
    with store.read() as s:
        assert s.scalar(select(Post.hidden).where(Post.id == post.json()["id"])) is False
    again = _call(b, tokens["fay"], "POST", "/posts", json={"anchor": "course/01/why",
                                                             "body": "as a learner"})  # fmt: skip
    assert again.status_code == 201, again.text
    assert again.json()["author"]["role"] == "learner"
    assert _call(b, tokens["fay"], "GET", "/me").json()["member"]["role"] == "learner"


def test_a_learner_who_graduated_a_moment_ago_posts_as_alumni(pair: Pair) -> None:
    """Widgets go through the client: the service, which still trusted ben as a learner,
    checks him again under his new role and the post goes through, as alumni."""
    from nbcohort.cohorts.client import CohortClient

    _a, b, store, _tokens = pair
    with store.write() as s:
        ben = add_member(s, Actor.system(), _cohort(s), name="Ben", email="ben@example.org",
                         username="ben")  # fmt: skip
        token = mint_token(s, Actor.system(), ben, "test")
    client = CohortClient(b.url, token=token)
    assert client.me()["member"]["role"] == "learner"  # b now trusts ben as a learner
    with store.write() as s:
        s.execute(update(Member).where(Member.username == "ben").values(role="alumni"))
    before = _posts(store)
    post = client.post("course/01/why", "after graduating")
    assert post["author"]["role"] == "alumni"
    assert _posts(store) == before + 1
    client.close()


def _cohort(s):
    from nbcohort.cohorts.models import Cohort

    return s.scalar(select(Cohort).where(Cohort.slug == "stale"))
