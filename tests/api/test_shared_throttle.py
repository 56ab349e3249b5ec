"""The failed-login throttle is shared by every service process on one database (#18 part 6,
several replicas): two ``nbcohort serve`` processes on the same SQLite file or PostgreSQL
database, failed tokens sent to both, and the limit holds for the pair as for one. A member's
valid token still gets in from the refused address, also through a replica that never saw it
(``known_token``); the window passing lets it try again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from sqlalchemy import delete, func, select

from nbcohort.cohorts.models import Cohort, FailedLogin, KnownToken
from nbcohort.cohorts.services.auth import Actor, mint_token, token_digest
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from tests.conftest import fresh_database
from tests.helpers.processes import ServiceProcess

LIMIT, WINDOW = 4, 3.0


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[list[ServiceProcess], Store, str]]:
    """Two service processes (replicas) on one database, and a member's token."""
    tmp = tmp_path_factory.mktemp("replicas")
    with fresh_database(request, request.param, tmp) as url:
        store = Store.open(url)
        with store.write() as s:
            cohort = create_cohort(s, Actor.system(), "throttle", "Throttle")
            ana = add_member(s, Actor.system(), cohort, name="Ana", email="ana@example.org")
            token = mint_token(s, Actor.system(), ana, "test")
        services = []
        try:
            for name in ("a", "b"):
                (tmp / name).mkdir()
                svc = ServiceProcess(tmp / name, url)
                svc.args += [
                    f"--ServiceSettings.failed_auth_limit={LIMIT}",
                    f"--ServiceSettings.failed_auth_window={WINDOW}",
                ]
                services.append(svc.start())
            yield services, store, token
        finally:
            for svc in services:
                svc.stop()
            store.close()


def _me(svc: ServiceProcess, token: str) -> requests.Response:
    return requests.get(
        svc.url + "/api/v1/me", headers={"Authorization": f"token {token}"}, timeout=10
    )


def test_two_replicas_count_one_address_together(
    replicas: tuple[list[ServiceProcess], Store, str],
) -> None:
    (a, b), store, token = replicas
    assert [_me(svc, token).status_code for svc in (a, b)] == [200, 200]  # Ana, earlier today
    # Half the allowance on each replica: each alone would still let the address try.
    answers = [_me(svc, f"nbc_guess{i}").status_code for i, svc in enumerate([a, b] * (LIMIT // 2))]
    assert answers == [401] * LIMIT
    for svc in (a, b):  # the limit is reached for both, whichever was tried more
        refused = _me(svc, "nbc_one-more-guess")
        assert refused.status_code == 429, refused.text
        assert "too many failed token attempts" in refused.json()["message"]
        assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW
    # A member's own token, valid there recently, still gets in from the refused address.
    assert [_me(svc, token).status_code for svc in (a, b)] == [200, 200]
    with store.read() as s:  # refused tries are not counted: the table stays small
        assert s.scalar(select(func.count()).select_from(FailedLogin)) == LIMIT
    # Once the window has passed (the failures aged by it), the address may try again.
    _age(store, WINDOW)
    assert _me(a, "nbc_later-guess").status_code == 401
    with store.read() as s:  # and its failures older than the window went with that one
        assert s.scalar(select(func.count()).select_from(FailedLogin)) == 1


def _age(store: Store, seconds: float) -> None:
    """Every failure ``seconds`` older, as if that time had passed (no sleep)."""
    with store.write() as s:
        for row in s.scalars(select(FailedLogin)):
            row.at -= timedelta(seconds=seconds)


def _member_token(store: Store, username: str) -> str:
    with store.write() as s:
        cohort = s.scalar(select(Cohort).where(Cohort.slug == "throttle"))
        assert cohort is not None
        member = add_member(
            s, Actor.system(), cohort, name=username.title(), email=f"{username}@example.org",
            username=username,
        )  # fmt: skip
        return mint_token(s, Actor.system(), member, "test")


def test_a_member_one_replica_saw_gets_in_through_another_from_a_refused_address(
    replicas: tuple[list[ServiceProcess], Store, str],
) -> None:
    """Behind the hub's proxy everyone shares one address: while it is refused, a member
    whose token replica ``a`` verified gets in through ``b``, which never saw that token."""
    (a, b), store, _token = replicas
    with store.write() as s:  # a fresh window, whatever ran before
        s.execute(delete(FailedLogin))
    ben, cy = _member_token(store, "ben"), _member_token(store, "cy")
    assert _me(a, ben).status_code == 200  # only a has seen ben's token valid

    def digests() -> set[str]:
        with store.read() as s:
            return set(s.scalars(select(KnownToken.digest)))

    # ... and says so to every replica (just after the answer), by digest, never the token
    deadline = time.monotonic() + 10
    while token_digest(ben) not in digests() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert token_digest(ben) in digests() and ben not in digests()
    assert [_me(a, f"nbc_guess{i}").status_code for i in range(LIMIT)] == [401] * LIMIT
    assert _me(b, "nbc_one-more-guess").status_code == 429
    assert _me(b, ben).status_code == 200
    # A local token costs one read of our own database to check, no more than refusing it:
    # while the address is refused, a valid one no replica has seen gets in too (a member
    # whose server just started), and a wrong one is refused without being counted.
    with store.read() as s:
        counted = s.scalar(select(func.count()).select_from(FailedLogin))
    assert _me(b, cy).status_code == 200
    assert _me(b, "nbc_yet-another-guess").status_code == 429
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(FailedLogin)) == counted
