"""Two service replicas with no shared volume (#18 part 6): two ``nbcohort serve`` processes
on one PostgreSQL database with ``ExchangeSettings.store = "database"`` and each its own
data folder. A learner submits through one and the instructor collects through the other; a
packet uploaded through one is read by its reviewer through the other; an upload cut off
halfway leaves no piece; a 48 MiB archive goes in and out with each service's memory
bounded; and neither replica keeps an archive on its disk."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import socket
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from nbcohort.cohorts.models import (
    Allocation,
    Cohort,
    ExchangeBlobChunk,
    ExchangeFile,
    Member,
    ReviewRound,
    ReviewSubmission,
)
from nbcohort.cohorts.services.exchange_blobs import CHUNK
from nbcohort.cohorts.store import Store
from tests.conftest import fresh_database
from tests.helpers.exchange_service import SharedService
from tests.helpers.exchange_world import ExchangeWorld
from tests.helpers.processes import ServiceProcess

pytestmark = pytest.mark.slow
BIG = 48 * 1024 * 1024  # the memory test's archive
LIMIT = 64 * 1024 * 1024


@dataclass
class Replicas:
    url: str
    store: Store
    a: ServiceProcess
    b: ServiceProcess
    tmp: Path

    def shared(self, svc: ServiceProcess) -> SharedService:
        data = next(a for a in svc.args if a.startswith("--data-dir=")).split("=", 1)[1]
        return SharedService(self.url, self.store, svc, Path(data), "database")

    def disk_archives(self) -> list[Path]:
        """Files either replica left in its exchange folder (blobs or scratch)."""
        return [p for p in self.tmp.glob("*/data/exchange/**/*") if p.is_file()]

    def pieces(self) -> int:
        with self.store.read() as s:
            return s.scalar(select(func.count()).select_from(ExchangeBlobChunk)) or 0


@pytest.fixture(scope="module")
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    tmp = tmp_path_factory.mktemp("replicas")
    with fresh_database(request, "postgresql", tmp) as url:
        services = []
        for name in ("a", "b"):
            svc = ServiceProcess(tmp / name, url)
            (Path(svc.env["JUPYTER_CONFIG_PATH"]) / "jupyter_config.py").write_text(
                'c.ExchangeSettings.store = "database"\n'
                f"c.ExchangeSettings.max_upload_bytes = {LIMIT}\n"
            )
            services.append(svc)
        store = Store.open(url)
        try:
            for svc in services:
                svc.start()
            yield Replicas(url, store, services[0], services[1], tmp)
        finally:
            for svc in services:
                svc.stop()
            store.close()


def test_submit_through_one_replica_collect_through_the_other(
    replicas: Replicas, tmp_path: Path
) -> None:
    world = ExchangeWorld(tmp_path, replicas.shared(replicas.a))
    c = world.c1
    b = replicas.b
    world.step("ReleaseAssignment", "ivo", c)  # through a
    world.service = b
    world.step("FetchAssignment", "ana", c)  # through b
    data = os.urandom(2 * CHUNK + 777)  # incompressible, over three pieces
    (world.home("ana") / "ps1" / "data.bin").write_bytes(data)
    world.service = replicas.a
    world.step("Submit", "ana", c)
    world.service = b
    world.step("Collect", "ivo", c)
    assert (world.submitted(c, "ana") / "data.bin").read_bytes() == data
    world.write_feedback(c, "ana")
    world.step("ReleaseFeedback", "ivo", c)  # through b
    world.service = replicas.a
    world.step("FetchFeedback", "ana", c)  # through a
    assert list((world.home("ana") / "ps1" / "feedback").rglob("p1.html"))
    assert replicas.disk_archives() == []  # nothing on either replica's disk


def _course(replicas: Replicas, world: ExchangeWorld) -> tuple[str, dict[str, str]]:
    c = world.c1
    return c, {u: t for (u, course), t in world.tokens.items() if course == c}


def _tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _call(
    svc: ServiceProcess, token: str, method: str, path: str, **kw: object
) -> requests.Response:
    headers = {"Authorization": f"token {token}"}
    return requests.request(method, svc.url + path, headers=headers, timeout=60, **kw)  # type: ignore[arg-type]


def test_a_packet_uploaded_through_one_is_read_and_withdrawn_through_the_other(
    replicas: Replicas, tmp_path: Path
) -> None:
    world = ExchangeWorld(tmp_path, replicas.shared(replicas.a))
    c, tokens = _course(replicas, world)
    base = f"/api/v1/exchange/{c}/assignments/ps1/packets"
    content = os.urandom(CHUNK + 99)
    for code in ("pk-used", "pk-spare"):
        packet = _tar({"p1.bin": content})
        sent = _call(replicas.a, tokens["ivo"], "PUT", f"{base}/{code}", data=packet)
        assert sent.status_code == 201, sent.text
    with replicas.store.write() as s:  # a round that gives ben the packet pk-used
        cohort = s.scalar(select(Cohort).where(Cohort.slug == c))
        assert cohort is not None
        ana, ben = (
            s.scalar(select(Member).where(Member.cohort_id == cohort.id, Member.username == u))
            for u in ("ana", "ben")
        )
        assert ana is not None and ben is not None
        rnd = ReviewRound(cohort_id=cohort.id, assignment="ps1", settings={"packets": "exchange"})
        s.add(rnd)
        s.flush()
        sub = ReviewSubmission(round_id=rnd.id, author_id=ana.id)
        s.add(sub)
        s.flush()
        alloc = Allocation(round_id=rnd.id, reviewer_id=ben.id, submission_id=sub.id,
                           packet="packets/pk-used")  # fmt: skip
        s.add(alloc)
        s.flush()
        alloc_id = alloc.id
    reviewer = f"/api/v1/reviews/ps1/allocations/{alloc_id}/packet"
    got = _call(replicas.b, tokens["ben"], "GET", reviewer)
    assert got.status_code == 200, got.text
    assert base64.b64decode(got.json()["files"]["p1.bin"]) == content
    used = _call(replicas.b, tokens["ivo"], "DELETE", f"{base}/pk-used")
    assert used.status_code == 409, used.text
    before = replicas.pieces()
    gone = _call(replicas.b, tokens["ivo"], "DELETE", f"{base}/pk-spare")
    assert gone.status_code == 204, gone.text
    assert replicas.pieces() == before - 2  # its two pieces went with its row
    assert replicas.disk_archives() == []


def test_an_upload_cut_off_halfway_writes_no_piece(replicas: Replicas, tmp_path: Path) -> None:
    world = ExchangeWorld(tmp_path, replicas.shared(replicas.a))
    c, tokens = _course(replicas, world)
    world.step("ReleaseAssignment", "ivo", c)
    path = f"/api/v1/exchange/{c}/assignments/ps1/submissions"
    first = _tar({"p1.ipynb": b'{"v": 1}'})
    assert _call(replicas.a, tokens["ana"], "POST", path, data=first).status_code == 201
    pieces = replicas.pieces()
    body = _tar({"p1.ipynb": b'{"v": 2}', "big.bin": os.urandom(3 * CHUNK)})
    scratch = replicas.tmp / "a" / "data" / "exchange" / "tmp"
    with socket.create_connection(("127.0.0.1", replicas.a.port), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: token {tokens['ana']}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[: len(body) // 2])
        _wait(lambda: bool(list(scratch.glob("*.part"))))  # it was streaming to scratch
    _wait(lambda: not list(scratch.glob("*.part")))  # and is gone, never published
    assert replicas.pieces() == pieces
    mine = _call(replicas.b, tokens["ana"], "GET", f"/api/v1/exchange/{c}/submissions").json()
    assert len(mine["submissions"]) == 1
    sub_id = mine["submissions"][0]["id"]
    got = _call(replicas.b, tokens["ana"], "GET", f"/api/v1/exchange/{c}/submissions/{sub_id}")
    assert got.content == first


def _wait(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _peak_rss(svc: ServiceProcess) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    assert svc.proc is not None
    status = Path(f"/proc/{svc.proc.pid}/status").read_text()
    kb = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(kb) * 1024


def test_a_large_archive_streams_in_and_out_in_bounded_memory(
    replicas: Replicas, tmp_path: Path
) -> None:
    world = ExchangeWorld(tmp_path, replicas.shared(replicas.a))
    c, tokens = _course(replicas, world)
    world.step("ReleaseAssignment", "ivo", c)
    (tmp_path / "ps1").mkdir()
    block = os.urandom(CHUNK)  # incompressible, so the database keeps every byte
    with (tmp_path / "ps1" / "big.bin").open("wb") as out:
        for _ in range(BIG // CHUNK):
            out.write(block)
    archive = tmp_path / "big.tar"
    with tarfile.open(archive, mode="w:") as tar:
        tar.add(tmp_path / "ps1" / "big.bin", arcname="big.bin")
    digest = hashlib.sha256()
    with archive.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    peak_a, peak_b = _peak_rss(replicas.a), _peak_rss(replicas.b)
    with archive.open("rb") as body:
        sent = _call(replicas.a, tokens["ana"], "POST",
                     f"/api/v1/exchange/{c}/assignments/ps1/submissions", data=body)  # fmt: skip
    assert sent.status_code == 201, sent.text
    with replicas.store.read() as s:
        blob = s.scalar(select(ExchangeFile.blob).where(ExchangeFile.id == sent.json()["id"]))
        sizes = s.execute(
            select(func.count(), func.max(func.length(ExchangeBlobChunk.data))).where(
                ExchangeBlobChunk.blob == blob
            )
        ).one()
    assert tuple(sizes) == (-(-archive.stat().st_size // CHUNK), CHUNK)
    got = hashlib.sha256()
    path = f"/api/v1/exchange/{c}/submissions/{sent.json()['id']}"
    with _call(replicas.b, tokens["ivo"], "GET", path, stream=True) as resp:
        assert resp.status_code == 200
        for chunk in resp.iter_content(CHUNK):
            got.update(chunk)
    assert got.hexdigest() == digest.hexdigest()
    # Neither process held the archive (48 MiB) in memory: each grew by a few pieces at most.
    grown = {"a": _peak_rss(replicas.a) - peak_a, "b": _peak_rss(replicas.b) - peak_b}
    assert max(grown.values()) < 16 * 1024 * 1024, grown
    assert replicas.disk_archives() == []
