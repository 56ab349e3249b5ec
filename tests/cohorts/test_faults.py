"""Faults on the embedded SQLite store: locks, read-only files, many writers, a killed service."""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from nbcohort.cohorts.config import StoreSettings
from nbcohort.cohorts.models import Activity, Cohort, KnownToken, Member, Post
from nbcohort.cohorts.services import posts
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.store import DatabaseError, Store
from tests.helpers.sqlite_faults import (
    ANCHOR,
    SQLITE_ONLY,
    LockHolder,
    db_file,
    integrity,
    members_with_tokens,
    post_rows,
    seed,
)

# --- (a) a locked database --------------------------------------------------------------------


def test_writer_waits_for_a_held_lock_and_succeeds(sqlite_store: Store) -> None:
    cohort, (ana,) = seed(sqlite_store)
    started = time.monotonic()
    with LockHolder(db_file(sqlite_store), 1.0) as lock:
        with sqlite_store.write() as s:
            posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "written after the wait")
        finished = time.monotonic()
    assert finished >= lock.released_at > started  # it waited for the lock, then wrote
    assert finished - started >= 0.9
    assert [r[2] for r in post_rows(sqlite_store)] == ["written after the wait"]


def test_writer_gives_up_after_busy_timeout_with_an_exception(sqlite_store: Store) -> None:
    cohort, (ana,) = seed(sqlite_store)
    impatient = Store.open(sqlite_store.url, StoreSettings(sqlite_busy_timeout=0.2))
    try:
        with LockHolder(db_file(sqlite_store), 1.5):
            started = time.monotonic()
            with (
                pytest.raises(OperationalError, match="database is locked"),
                impatient.write() as s,
            ):
                posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "too impatient")
            waited = time.monotonic() - started
        assert 0.15 <= waited < 1.4  # it waited its busy timeout, not the whole lock
        assert post_rows(sqlite_store) == []  # refused loudly, nothing half-written
        with impatient.write() as s:  # the lock is free again: the same store writes fine
            posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "second try")
    finally:
        impatient.close()
    assert [r[2] for r in post_rows(sqlite_store)] == ["second try"]


def test_reader_is_not_blocked_by_a_writer(sqlite_store: Store) -> None:
    """WAL: a held write lock does not stop reads."""
    seed(sqlite_store)
    with LockHolder(db_file(sqlite_store), 3.0):
        started = time.monotonic()
        with sqlite_store.read() as s:
            assert s.scalar(select(func.count()).select_from(Cohort)) == 1
        assert time.monotonic() - started < 2.0  # a blocked read would wait the 3 s out


@SQLITE_ONLY
def test_service_answers_a_lock_timeout_with_an_error_and_keeps_serving(
    service: Any, store: Store, tokens: dict[str, str]
) -> None:
    service.stop()
    service.args.append("--StoreSettings.sqlite_busy_timeout=1.5")
    service.start()
    headers = {"Authorization": f"token {tokens['ana']}"}
    url = service.url + "/api/v1/posts"
    answers: dict[str, requests.Response] = {}
    # ana's first request makes the service remember her token for the throttle (a write
    # just after it): made now, so that the only write waiting for the lock is the post.
    assert requests.get(service.url + "/api/v1/me", headers=headers, timeout=5).ok
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with store.read() as s:
            if s.scalar(select(func.count()).select_from(KnownToken)):
                break
        time.sleep(0.02)

    def blocked_post() -> None:
        answers["post"] = requests.post(url, json={"anchor": ANCHOR, "body": "blocked"},
                                        headers=headers, timeout=10)  # fmt: skip

    with LockHolder(db_file(store), 3.0):
        writer = threading.Thread(target=blocked_post, daemon=True)
        writer.start()
        time.sleep(0.4)  # the write is now waiting for the lock, inside the service
        started = time.monotonic()
        health = requests.get(service.url + "/api/v1/health", timeout=5)
        me = requests.get(service.url + "/api/v1/me", headers=headers, timeout=5)
        took = time.monotonic() - started
        assert writer.is_alive()  # still waiting while the other requests were answered
        writer.join(10)
    assert (health.status_code, health.json()["status"]) == (200, "ok")
    assert me.status_code == 200
    assert took < 1.0  # answered at once, not after the waiting write
    resp = answers["post"]
    assert resp.status_code == 503
    assert int(resp.headers["Retry-After"]) > 0
    assert resp.json()["error"] == "busy"
    assert post_rows(store) == []
    resp = requests.post(url, json={"anchor": ANCHOR, "body": "after"}, headers=headers, timeout=10)
    assert resp.status_code == 201
    assert [r[2] for r in post_rows(store)] == ["after"]


# --- (b) a read-only database -----------------------------------------------------------------


def test_read_only_database_refuses_writes_and_keeps_data(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cohort, (ana,) = seed(sqlite_store)
    with sqlite_store.write() as s:
        posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "kept")
    before = post_rows(sqlite_store)
    monkeypatch.chdir(tmp_path)  # see test_uri_url_does_not_create_a_stray_folder
    readonly = Store.open(f"sqlite:///file:{db_file(sqlite_store)}?mode=ro&uri=true")
    try:
        with readonly.read() as s:  # reading works
            assert s.scalar(select(func.count()).select_from(Post)) == 1
        with pytest.raises(OperationalError, match="readonly database"), readonly.write() as s:
            posts.create_post(s, Actor.of(ana), cohort, ANCHOR, "lost?")
    finally:
        readonly.close()
    assert post_rows(sqlite_store) == before
    assert integrity(db_file(sqlite_store)) == "ok"


def _write_one(url: str, who: Member, cohort: Cohort) -> None:
    store = Store.open(url)
    try:
        with store.write() as s:
            posts.create_post(s, Actor.of(who), cohort, ANCHOR, "lost?")
    finally:
        store.close()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file permissions")
def test_read_only_file_permissions_refuse_writes(sqlite_store: Store) -> None:
    cohort, (ana,) = seed(sqlite_store)
    path = Path(db_file(sqlite_store))
    sqlite_store.close()
    before = path.read_bytes()
    path.chmod(stat.S_IRUSR | stat.S_IRGRP)
    path.parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        # Either the file cannot be opened for use at all, or the write is refused.
        with pytest.raises((DatabaseError, OperationalError)):
            _write_one(f"sqlite:///{path}", ana, cohort)
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)
    assert path.read_bytes() == before


def test_uri_url_does_not_create_a_stray_folder(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    Store.open(f"sqlite:///file:{db_file(sqlite_store)}?mode=ro&uri=true").close()
    assert list(work.iterdir()) == []


# --- (c) many writers at once -----------------------------------------------------------------


def run_threads(n: int, target: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def wrapped(i: int) -> None:
        try:
            barrier.wait(30)
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=wrapped, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return errors


def test_fifty_writers_with_their_own_engines(sqlite_store: Store) -> None:
    cohort, members = seed(sqlite_store, learners=50)
    url = sqlite_store.url
    # As 50 processes would: separate engines. The writer lock is not fair (a writer that just
    # finished may take it again before a sleeping waiter wakes), so the last waiter can wait
    # about as long as the whole run, which a loaded CI machine stretched past the 30 s
    # default: this test is about order and integrity, so its waiters are patient.
    patient = StoreSettings(sqlite_busy_timeout=600)
    stores = [Store.open(url, patient) for _ in range(50)]

    def writer(i: int) -> None:
        me = Actor.of(members[i])
        for n in range(20):
            with stores[i].write() as s:  # one unit of work per post
                posts.create_post(s, me, cohort, f"module-{n % 4}/load", f"writer {i} post {n}")

    try:
        errors = run_threads(50, writer)
    finally:
        for st in stores:
            st.close()
    assert errors == []
    rows = post_rows(sqlite_store)
    assert len(rows) == 1000
    assert len({r[0] for r in rows}) == 1000
    by_member = {m.id: i for i, m in enumerate(members)}
    assert sorted((by_member[a], b) for _, a, b in rows) == sorted(
        (i, f"writer {i} post {n}") for i in range(50) for n in range(20)
    )
    with sqlite_store.read() as s:
        threads_made = s.scalar(select(func.count()).where(Activity.verb == "thread.create"))
        logged = s.scalar(select(func.count()).where(Activity.verb == "post.create"))
    assert (threads_made, logged) == (4, 1000)  # four anchors, one thread each, despite races
    assert integrity(db_file(sqlite_store)) == "ok"


@SQLITE_ONLY
def test_fifty_http_clients_posting_at_once(service: Any, store: Store, cohort: Cohort) -> None:
    client_tokens = members_with_tokens(store, cohort.id, 50)
    results: list[tuple[int, int, str]] = []
    lock = threading.Lock()

    def client(i: int) -> None:
        with requests.Session() as http:
            http.headers["Authorization"] = f"token {client_tokens[i]}"
            for n in range(10):
                body = f"client {i} post {n}"
                resp = http.post(service.url + "/api/v1/posts", timeout=30,
                                 json={"anchor": f"topic/load-{n % 3}", "body": body})  # fmt: skip
                with lock:
                    results.append((resp.status_code, resp.json().get("id", -1), body))

    errors = run_threads(50, client)
    assert errors == []
    assert len(results) == 500
    assert {status for status, _, _ in results} == {201}
    stored = {pid: body for pid, _, body in post_rows(store)}
    assert {pid: body for _, pid, body in results} == stored
    assert integrity(db_file(store)) == "ok"


# --- (d) the service killed mid-write ---------------------------------------------------------


@SQLITE_ONLY
def test_acknowledged_posts_survive_sigkill(
    service: Any, store: Store, tokens: dict[str, str]
) -> None:
    acked: dict[int, str] = {}
    sent: set[str] = set()
    lock = threading.Lock()
    names = ["ana", "ben", "chi", "fay"]
    per_round: list[int] = []

    def poster(i: int, stop: threading.Event, round_no: int) -> None:
        with requests.Session() as http:
            http.headers["Authorization"] = f"token {tokens[names[i]]}"
            n = 0
            while not stop.is_set():
                body = f"round {round_no} {names[i]} #{n} " + "x" * (n % 300)
                n += 1
                with lock:
                    sent.add(body)
                try:
                    resp = http.post(service.url + "/api/v1/posts", timeout=5,
                                     json={"anchor": f"topic/kill-{i}", "body": body})  # fmt: skip
                except requests.RequestException:
                    time.sleep(0.02)  # the service is down: keep trying until told to stop
                    continue
                if resp.status_code == 201:
                    with lock:
                        acked[resp.json()["id"]] = body

    for round_no in range(3):
        before = len(acked)
        stop = threading.Event()
        workers = [
            threading.Thread(target=poster, args=(i, stop, round_no), daemon=True)
            for i in range(len(names))
        ]
        for w in workers:
            w.start()
        time.sleep(1.0)
        service.kill(signal.SIGKILL)  # mid-stream: requests are in flight
        time.sleep(0.2)
        stop.set()
        for w in workers:
            w.join(15)
        per_round.append(len(acked) - before)
        service.start()  # the same database, the same port

    assert all(n > 0 for n in per_round), per_round  # each round really wrote
    assert integrity(db_file(store)) == "ok"
    stored = {pid: body for pid, _, body in post_rows(store)}
    missing = {pid for pid in acked if pid not in stored}
    assert missing == set()
    assert {pid: stored[pid] for pid in acked} == acked  # with their exact text
    assert set(stored.values()) <= sent  # nothing torn or invented
    with store.read() as s:
        logged = set(s.scalars(select(Activity.object_id).where(Activity.verb == "post.create")))
    assert logged == set(stored)  # each post and its log row: both or neither
    # and the restarted service serves them
    resp = requests.get(
        service.url + "/api/v1/thread",
        params={"anchor": "topic/kill-0", "limit": 200},
        headers={"Authorization": f"token {tokens['ana']}"},
        timeout=10,
    )
    assert resp.status_code == 200
    assert resp.json()["total"] == sum(1 for b in stored.values() if " ana #" in b)
