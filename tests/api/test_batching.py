"""Group commit: writes that arrive together share a transaction, and fall back alone."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import requests
from sqlalchemy.orm import Session

from nbcohort.cohorts.api.group_commit import ALONE, WriteBatcher
from nbcohort.cohorts.models import Cohort, Member
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.store import Store
from tests.helpers.sqlite_faults import (
    ANCHOR,
    SQLITE_ONLY,
    LockHolder,
    db_file,
    integrity,
    members_with_tokens,
    post_rows,
    seed,
    writing_elsewhere,
)


def poster(cohort: Cohort, member: Member, text: str) -> Any:
    def body(session: Session) -> str:
        post = posts.create_post(session, Actor.of(member), cohort, ANCHOR, text)
        return f"{post.id}:{text}"

    return body


async def submit_together(batcher: WriteBatcher, bodies: list[Any]) -> list[object]:
    """Submit every body in the same turn of the loop, as parsed requests would be."""
    return list(await asyncio.gather(*(batcher.submit(b) for b in bodies)))


def test_writes_of_one_turn_share_one_transaction(sqlite_store: Store) -> None:
    cohort, (ana,) = seed(sqlite_store)
    batcher = WriteBatcher(sqlite_store)
    texts = [f"batched {i}" for i in range(5)]
    results = asyncio.run(submit_together(batcher, [poster(cohort, ana, t) for t in texts]))
    assert (batcher.batches, batcher.batched) == (1, 5)
    stored = {pid: body for pid, _, body in post_rows(sqlite_store)}
    assert results == [f"{pid}:{body}" for pid, body in sorted(stored.items())]
    assert sorted(stored.values()) == texts


def test_a_lone_write_is_not_run_twice(sqlite_store: Store) -> None:
    cohort, (ana,) = seed(sqlite_store)
    batcher = WriteBatcher(sqlite_store)
    assert asyncio.run(submit_together(batcher, [poster(cohort, ana, "alone")])) == [ALONE]
    assert post_rows(sqlite_store) == []  # the caller runs it on its own
    assert batcher.batches == 0


def test_one_refused_write_sends_the_whole_batch_back_and_keeps_nothing(
    sqlite_store: Store,
) -> None:
    cohort, (ana,) = seed(sqlite_store)
    batcher = WriteBatcher(sqlite_store)

    def refused(session: Session) -> str:
        raise Invalid("a post cannot be empty", field="body")

    bodies = [poster(cohort, ana, "first"), refused, poster(cohort, ana, "third")]
    assert asyncio.run(submit_together(batcher, bodies)) == [ALONE, ALONE, ALONE]
    assert post_rows(sqlite_store) == []  # rolled back whole; each runs again on its own


def test_a_batch_waits_on_the_loop_for_another_nbcohort_writer(sqlite_store: Store) -> None:
    """Another process's write takes milliseconds: the batch waits for it, then commits."""
    cohort, (ana,) = seed(sqlite_store)
    other = Store.open(sqlite_store.url)
    batcher = WriteBatcher(sqlite_store, patience=5.0)

    async def scenario() -> list[object]:
        with writing_elsewhere(other):
            pending = asyncio.gather(
                batcher.submit(poster(cohort, ana, "a")), batcher.submit(poster(cohort, ana, "b"))
            )
            await asyncio.sleep(0.2)  # the loop keeps serving while the batch waits
            assert not pending.done()
        return list(await pending)

    try:
        results = asyncio.run(scenario())
    finally:
        other.close()
    assert ALONE not in results and (batcher.batches, batcher.batched) == (1, 2)
    assert sorted(r[2] for r in post_rows(sqlite_store)) == ["a", "b"]


def test_a_batch_goes_back_when_the_lock_stays_taken(sqlite_store: Store) -> None:
    cohort, (ana,) = seed(sqlite_store)
    other = Store.open(sqlite_store.url)
    batcher = WriteBatcher(sqlite_store, patience=0.3)
    try:
        with writing_elsewhere(other):
            started = time.monotonic()
            bodies = [poster(cohort, ana, "a"), poster(cohort, ana, "b")]
            assert asyncio.run(submit_together(batcher, bodies)) == [ALONE, ALONE]
            assert 0.25 <= time.monotonic() - started < 3
    finally:
        other.close()
    assert post_rows(sqlite_store) == []


def test_a_lock_held_outside_nbcohort_sends_the_batch_back_at_once(sqlite_store: Store) -> None:
    """A foreign connection may hold SQLite's lock for long: the writer thread waits for it."""
    cohort, (ana,) = seed(sqlite_store)
    batcher = WriteBatcher(sqlite_store, patience=5.0)
    with LockHolder(db_file(sqlite_store), 3.0):
        started = time.monotonic()
        bodies = [poster(cohort, ana, "a"), poster(cohort, ana, "b")]
        assert asyncio.run(submit_together(batcher, bodies)) == [ALONE, ALONE]
        assert time.monotonic() - started < 2.0  # not after the 3 s lock, nor the patience
    assert post_rows(sqlite_store) == []


def test_more_than_a_batch_is_split(sqlite_store: Store) -> None:
    cohort, (ana,) = seed(sqlite_store)
    batcher = WriteBatcher(sqlite_store, max_batch=4)
    bodies = [poster(cohort, ana, f"p{i}") for i in range(10)]
    results = asyncio.run(submit_together(batcher, bodies))
    assert (batcher.batches, batcher.batched) == (3, 10)  # 4 + 4 + 2
    assert ALONE not in results
    assert sorted(r[2] for r in post_rows(sqlite_store)) == sorted(f"p{i}" for i in range(10))


@SQLITE_ONLY
@pytest.mark.parametrize("clients", [40])
def test_concurrent_posts_with_refusals_through_the_service(
    service: Any, store: Store, cohort: Cohort, clients: int
) -> None:
    """Good and bad posts at once: each good one stored once, each bad one refused alone."""
    client_tokens = members_with_tokens(store, cohort.id, clients)
    answers: list[tuple[int, dict[str, Any], str]] = []
    lock = threading.Lock()
    start = threading.Barrier(clients)

    def client(i: int) -> None:
        with requests.Session() as http:
            http.headers["Authorization"] = f"token {client_tokens[i]}"
            start.wait(10)
            for n in range(8):
                body = "   " if (i + n) % 5 == 0 else f"client {i} post {n}"
                resp = http.post(
                    service.url + "/api/v1/posts",
                    timeout=30,
                    json={"anchor": f"topic/batch-{n % 2}", "body": body},
                )
                with lock:
                    answers.append((resp.status_code, resp.json(), body))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    good = [(a["id"], body) for status, a, body in answers if status == 201]
    bad = [(status, a) for status, a, body in answers if body.strip() == ""]
    assert len(answers) == clients * 8
    assert len(good) + len(bad) == len(answers)
    assert all(status == 422 and a["field"] == "body" for status, a in bad)
    assert {pid: body for pid, _, body in post_rows(store)} == dict(good)
    assert integrity(db_file(store)) == "ok"
