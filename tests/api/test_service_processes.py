"""``nbcohort serve`` with several worker processes: shared port, supervision, shutdown."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests

from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.store import Store
from tests.helpers.processes import ServiceProcess
from tests.helpers.sqlite_faults import db_file, integrity, members_with_tokens, post_rows

# SQLite shows the cross-process writer lock; PostgreSQL needs nothing special.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def wait_for(check: Any, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {check}")


def workers(svc: ServiceProcess) -> list[psutil.Process]:
    assert svc.proc is not None
    return psutil.Process(svc.proc.pid).children()


@pytest.fixture
def multi(tmp_path: Path, db_url: str, store: Store) -> Any:
    svc = ServiceProcess(tmp_path, db_url)
    svc.args.append("--ServiceSettings.processes=2")
    svc.start()
    yield svc
    svc.kill(signal.SIGKILL)
    for child in workers(svc) if svc.proc and svc.proc.poll() is None else []:
        child.kill()


def post(http: requests.Session, url: str, body: str) -> requests.Response:
    return http.post(
        url + "/api/v1/posts", json={"anchor": "topic/procs", "body": body}, timeout=30
    )


def test_two_workers_share_the_port_and_the_writes(
    multi: Any, store: Store, cohort: Cohort
) -> None:
    assert len(workers(multi)) == 2
    tokens = members_with_tokens(store, cohort.id, 20)
    sessions = [requests.Session() for _ in tokens]
    for http, token in zip(sessions, tokens, strict=True):
        http.headers["Authorization"] = f"token {token}"
    acked: dict[int, str] = {}
    lock = threading.Lock()

    def client(i: int) -> None:
        for n in range(10):
            resp = post(sessions[i], multi.url, f"client {i} post {n}")
            assert resp.status_code == 201, resp.text
            with lock:
                acked[resp.json()["id"]] = f"client {i} post {n}"

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    served = {}
    for child in workers(multi):  # 20 keep-alive connections, spread over both workers
        served[child.pid] = len([c for c in child.net_connections() if c.status == "ESTABLISHED"])
    for t in threads:
        t.join(60)
    for http in sessions:
        http.close()
    assert len(acked) == 200
    assert {pid: body for pid, _, body in post_rows(store)} == acked  # none lost, none twice
    assert all(n > 0 for n in served.values()), served
    if store.is_sqlite:
        assert integrity(db_file(store)) == "ok"


def test_a_killed_worker_is_replaced_and_acknowledged_posts_survive(
    multi: Any, store: Store, cohort: Cohort
) -> None:
    tokens = members_with_tokens(store, cohort.id, 4)
    acked: dict[int, str] = {}
    stop = threading.Event()

    def client(i: int) -> None:
        with requests.Session() as http:
            http.headers["Authorization"] = f"token {tokens[i]}"
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    resp = post(http, multi.url, f"client {i} #{n}")
                except requests.RequestException:
                    continue  # its worker was killed mid-request: not acknowledged
                if resp.status_code == 201:
                    acked[resp.json()["id"]] = f"client {i} #{n}"

    before = {p.pid for p in workers(multi)}
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.8)
    victim = sorted(before)[0]
    psutil.Process(victim).kill()  # SIGKILL, mid-write

    def replaced() -> set[int] | None:
        pids = {p.pid for p in workers(multi)}
        return pids if victim not in pids and len(pids) == 2 else None

    after = wait_for(replaced)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(30)
    assert victim not in after and len(after - before) == 1  # one new worker in its place
    stored = {pid: body for pid, _, body in post_rows(store)}
    assert {pid: stored.get(pid) for pid in acked} == acked
    with requests.Session() as http:
        http.headers["Authorization"] = f"token {tokens[0]}"
        assert post(http, multi.url, "after the crash").status_code == 201
    if store.is_sqlite:
        assert integrity(db_file(store)) == "ok"


def test_sigterm_stops_every_worker_and_frees_the_port(multi: Any) -> None:
    pids = [p.pid for p in workers(multi)]
    assert multi.proc is not None
    multi.proc.send_signal(signal.SIGTERM)
    assert multi.proc.wait(20) == 0
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids
    )
    with socket.socket() as sock:  # nobody listens any more (closed connections may linger)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", multi.port))
        sock.listen()


def test_workers_stop_when_the_supervisor_is_killed(multi: Any) -> None:
    pids = [p.pid for p in workers(multi)]
    multi.kill(signal.SIGKILL)
    wait_for(lambda: not any(psutil.pid_exists(pid) for pid in pids), timeout=10)


def test_bad_process_counts_and_a_taken_port_are_refused(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    svc = ServiceProcess(tmp_path, db_url)
    done = subprocess.run(
        [*svc.args, "--ServiceSettings.processes=0"],
        env=svc.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ServiceSettings.processes must be 1 or more" in done.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = [a for a in svc.args if not a.startswith("--port=")]
        done = subprocess.run(
            [*args, f"--port={port}", "--ServiceSettings.processes=2"],
            env=svc.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        one = subprocess.run(
            [*args, f"--port={port}"], env=svc.env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    # one process says it the same way, in one line, not with a traceback
    assert one.returncode == 2, one.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in one.stderr
    assert "Traceback" not in one.stderr


def test_the_tests_own_service_moves_off_a_port_taken_before_it_bound(
    tmp_path: Path, db_url: str, store: Store
) -> None:
    """A free port can be taken by another process of the run between choosing and binding
    (a CI failure): the test helper then serves on another port of its choosing."""
    svc = ServiceProcess(tmp_path, db_url)
    chosen = svc.port
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", chosen))
        taken.listen()
        svc.start()
    try:
        assert svc.port != chosen and svc.url.endswith(f":{svc.port}")
        assert requests.get(svc.url + "/api/v1/health", timeout=10).status_code == 200
    finally:
        svc.stop()
