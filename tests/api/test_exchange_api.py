"""The exchange's routes under bad input, against a real ``nbcohort serve`` (SQLite and
PostgreSQL): uploads cut off halfway or too large, hostile archives, two submissions in the
same second, clocks that disagree, and members reaching for what is not theirs."""

from __future__ import annotations

import contextlib
import io
import json
import random
import shutil
import socket
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from nbgrader.exchange import ExchangeError
from sqlalchemy import func, select

from nbcohort.cohorts.models import Cohort, ExchangeFile, Member, clock_at, utcnow
from nbcohort.cohorts.services import exchange
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.services.cohort_registry import create_cohort
from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.exchange_archive import pack_folder
from nbcohort.cohorts.services.exchange_blobs import FolderBlobs
from nbcohort.cohorts.services.members import add_member
from nbcohort.cohorts.store import Store
from tests.helpers.exchange_service import (
    LIMIT,
    MAX_SUBMISSIONS,
    QUOTA,
    SharedService,
    new_slug,
    shared_service,
)
from tests.helpers.exchange_world import ExchangeWorld

__all__ = ["shared_service"]  # the module's one service (a fixture)

SYSTEM = Actor.system()
PEOPLE = [("ana", "learner"), ("ben", "learner"), ("chi", "champion"), ("fay", "facilitator"),
          ("ivo", "instructor"), ("sam", "sponsor")]  # fmt: skip


def tar_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:") as tar:
        for name, data in files.items():
            tar.addfile(_file(name, data), io.BytesIO(data))
    return out.getvalue()


def _file(name: str, data: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info


def hostile_tar(kind: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:") as tar:
        tar.addfile(_file("p1.ipynb", b"{}"), io.BytesIO(b"{}"))
        if kind in ("../x", "/etc/x", "a/../../x", "bad\x1bname"):
            tar.addfile(_file(kind, b"x"), io.BytesIO(b"x"))
            return out.getvalue()
        info = tarfile.TarInfo("evil")
        info.type = {
            "symlink": tarfile.SYMTYPE,
            "hardlink": tarfile.LNKTYPE,
            "device": tarfile.CHRTYPE,
            "fifo": tarfile.FIFOTYPE,
        }[kind]
        info.linkname = "/etc/passwd" if kind in ("symlink", "hardlink") else ""
        tar.addfile(info)
    return out.getvalue()


@dataclass
class Course:
    """A cohort of its own in the shared service: its course id, members' tokens, and a
    learner of another cohort (``zed``)."""

    shared: SharedService
    slug: str
    cohort_id: int
    tokens: dict[str, str]
    members: dict[str, int]
    http: requests.Session

    @property
    def base(self) -> str:
        return f"/api/v1/exchange/{self.slug}"

    @property
    def store(self) -> Store:
        return self.shared.store

    @property
    def port(self) -> int:
        return self.shared.service.port

    def __call__(self, who: str | None, method: str, path: str, **kw: object) -> requests.Response:
        headers = {"Authorization": f"token {self.tokens[who]}"} if who else {}
        url = self.shared.service.url + path
        return self.http.request(method, url, headers=headers, timeout=10, **kw)  # type: ignore[arg-type]

    def folder(self, name: str) -> list[Path]:
        return sorted((self.shared.data / "exchange" / name).glob("*"))


@pytest.fixture
def x(shared_service: SharedService) -> Iterator[Course]:
    slug, other = new_slug("api"), new_slug("other")
    tokens, members = {}, {}
    with shared_service.store.write() as s:
        cohort = create_cohort(s, SYSTEM, slug, "An exchange course")
        for username, role in PEOPLE:
            m = add_member(
                s, SYSTEM, cohort, name=username.title(), email=f"{username}@example.org",
                role=role, username=username,
            )  # fmt: skip
            tokens[username], members[username] = mint_token(s, SYSTEM, m, "test"), m.id
        away = create_cohort(s, SYSTEM, other, "Another cohort")
        zed = add_member(
            s, SYSTEM, away, name="Zed", email="zed@example.org", role="learner", username="zed"
        )
        tokens["zed"] = mint_token(s, SYSTEM, zed, "test")
        cohort_id = cohort.id
    with requests.Session() as http:
        yield Course(shared_service, slug, cohort_id, tokens, members, http)


def refused(resp: requests.Response, status: int, words: str = "") -> dict:
    assert resp.status_code == status, resp.text
    data = resp.json()
    assert set(data) >= {"error", "message"}
    assert words.lower() in data["message"].lower(), data
    return data


def rows(x: Course) -> int:
    with x.store.read() as s:
        query = select(func.count()).where(ExchangeFile.cohort_id == x.cohort_id)
        return s.scalar(query.select_from(ExchangeFile)) or 0


def released(x: Course) -> None:
    resp = x("ivo", "PUT", f"{x.base}/releases/ps1", data=tar_of({"p1.ipynb": b"{}"}))
    assert resp.status_code == 201, resp.text


def submit(x: Course, who: str, body: bytes) -> requests.Response:
    return x(who, "POST", f"{x.base}/assignments/ps1/submissions", data=body)


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# -- uploads cut off or too large -------------------------------------------------------------
def test_an_upload_cut_off_halfway_leaves_the_earlier_submission_latest(x: Course) -> None:
    released(x)
    first = submit(x, "ana", tar_of({"p1.ipynb": b'{"v": 1}'}))
    assert first.status_code == 201, first.text
    body = tar_of({"p1.ipynb": b'{"v": 2}' + b" " * 50_000})
    with socket.create_connection(("127.0.0.1", x.port), timeout=10) as sock:
        head = (
            f"POST {x.base}/assignments/ps1/submissions HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: token {x.tokens['ana']}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[: len(body) // 2])
        wait_until(lambda: len(x.folder("tmp")) == 1)  # it was streaming to disk
    wait_until(lambda: x.folder("tmp") == [])  # and is gone, never published
    mine = x("ana", "GET", f"{x.base}/submissions").json()["submissions"]
    assert [s["id"] for s in mine] == [first.json()["id"]]
    got = x("ana", "GET", f"{x.base}/submissions/{mine[0]['id']}")
    assert got.content == tar_of({"p1.ipynb": b'{"v": 1}'})
    assert rows(x) == 2


def test_an_oversized_upload_is_refused_before_its_body_is_read(x: Course) -> None:
    released(x)
    with socket.create_connection(("127.0.0.1", x.port), timeout=10) as sock:
        head = (
            f"POST {x.base}/assignments/ps1/submissions HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: token {x.tokens['ana']}\r\nContent-Length: {LIMIT + 1}\r\n\r\n"
        )
        sock.sendall(head.encode())  # not one byte of the body
        answer = sock.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert f"over {LIMIT} bytes" in answer

    def chunks() -> Iterator[bytes]:  # no Content-Length: streamed, refused as it passes
        for _ in range(LIMIT // 8192 + 8):
            yield b"\0" * 8192

    # The service may close the connection while the client still sends: refused too.
    with contextlib.suppress(requests.ConnectionError):
        refused(submit(x, "ana", chunks()), 413, f"over {LIMIT} bytes")  # type: ignore[arg-type]
    wait_until(lambda: x.folder("tmp") == [])
    assert x("ana", "GET", f"{x.base}/submissions").json()["submissions"] == []
    assert rows(x) == 1


def test_an_upload_the_member_may_not_make_is_refused_before_its_body_is_read(x: Course) -> None:
    """A learner's release, or a submission to another cohort's course: the answer comes on
    the headers alone, and nothing is written to the exchange's folder."""
    for who, path, status in [
        ("ana", f"{x.base}/releases/ps1", "403"),
        ("zed", f"{x.base}/assignments/ps1/submissions", "404"),
        ("ana", f"{x.base}/assignments/never-released/submissions", "404"),
    ]:
        with socket.create_connection(("127.0.0.1", x.port), timeout=10) as sock:
            method = "PUT" if "releases" in path else "POST"
            head = (
                f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: token {x.tokens[who]}"
                f"\r\nContent-Length: {LIMIT - 1}\r\n\r\n"
            )
            sock.sendall(head.encode())
            answer = sock.recv(65536).decode("latin-1")
        assert answer.startswith(f"HTTP/1.1 {status}"), answer[:300]
    assert x.folder("tmp") == [] and rows(x) == 0


def test_a_learner_cannot_fill_the_exchange(x: Course) -> None:
    """Past the submissions kept of one assignment, or past the learner's bytes, a submission
    is refused naming the setting, before its body is read; staff and other learners go on."""
    released(x)
    for i in range(MAX_SUBMISSIONS):
        assert submit(x, "ana", tar_of({"p1.ipynb": f'{{"v": {i}}}'.encode()})).status_code == 201
    kept = rows(x)
    refused(submit(x, "ana", tar_of({"p1.ipynb": b"{}"})), 409, "max_submissions")
    with socket.create_connection(("127.0.0.1", x.port), timeout=10) as sock:
        head = (
            f"POST {x.base}/assignments/ps1/submissions HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: token {x.tokens['ana']}\r\nContent-Length: {LIMIT - 1}\r\n\r\n"
        )
        sock.sendall(head.encode())  # not one byte of the body
        assert sock.recv(65536).decode("latin-1").startswith("HTTP/1.1 409")
    assert submit(x, "ben", tar_of({"p1.ipynb": b"{}"})).status_code == 201
    assert rows(x) == kept + 1

    # Bytes: big incompressible notebooks over every assignment count together.
    assert x("ivo", "PUT", f"{x.base}/releases/ps2", data=tar_of({"p2.ipynb": b"{}"})).ok
    big = tar_of({"p2.ipynb": random.randbytes(LIMIT - 16384)})
    answers = [x("ben", "POST", f"{x.base}/assignments/ps2/submissions", data=big) for _ in "12345"]
    statuses = [a.status_code for a in answers]
    kept_bytes = sum(
        s["size"] for s in x("ben", "GET", f"{x.base}/submissions").json()["submissions"]
    )
    assert statuses == [201] * statuses.count(201) + [409] * statuses.count(409), statuses
    assert 409 in statuses and kept_bytes <= QUOTA < kept_bytes + len(big)
    refused(answers[-1], 409, "learner_quota_bytes")
    assert x.folder("tmp") == []


def _headers_only(x: Course, who: str, length: int) -> socket.socket:
    """A submission whose headers are sent and whose body is not (yet): an upload on its way."""
    sock = socket.create_connection(("127.0.0.1", x.port), timeout=10)
    sock.sendall(
        f"POST {x.base}/assignments/ps1/submissions HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: token {x.tokens[who]}\r\nContent-Length: {length}\r\n\r\n".encode()
        + b"\0" * 512
    )
    return sock


def test_uploads_on_their_way_are_bounded_and_counted_before_their_bodies(x: Course) -> None:
    """Each upload on its way may reach the upload limit on the service's disk before any
    quota counts it: a learner has at most two at once, and one whose Content-Length would
    pass their bytes is refused on its headers (a body over 64 KiB is never read)."""
    released(x)
    first, second = _headers_only(x, "ana", LIMIT - 1), _headers_only(x, "ana", LIMIT - 1)
    with first, second:
        wait_until(lambda: len(x.folder("tmp")) == 2)
        third = _headers_only(x, "ana", 1000)
        with third:
            third.sendall(b"\0" * (1000 - 512))  # a small body is read before its refusal
            answer = third.recv(65536).decode("latin-1")
        assert answer.startswith("HTTP/1.1 429"), answer[:300]
        assert "already on their way" in answer
        assert submit(x, "ben", tar_of({"p1.ipynb": b"{}"})).status_code == 201  # others go on
    wait_until(lambda: x.folder("tmp") == [])  # both cut off: nothing kept, places given back
    big = tar_of({"p1.ipynb": random.randbytes(LIMIT - 16384)})
    for _ in range(QUOTA // len(big)):  # ana keeps nearly all her bytes' worth
        assert submit(x, "ana", big).status_code == 201
    left = QUOTA - sum(
        s["size"] for s in x("ana", "GET", f"{x.base}/submissions").json()["submissions"]
    )
    assert 0 < left < LIMIT - 1
    with _headers_only(x, "ana", LIMIT - 1) as sock:  # more than ana has left: headers only
        answer = sock.recv(65536).decode("latin-1")
    assert answer.startswith("HTTP/1.1 409") and "learner_quota_bytes" in answer, answer[:300]
    wait_until(lambda: x.folder("tmp") == [])


def test_my_export_gives_back_my_submissions_and_their_feedback(x: Course) -> None:
    released(x)
    mine = [tar_of({"p1.ipynb": f'{{"ana": {i}}}'.encode()}) for i in range(2)]
    ids = [submit(x, "ana", body).json()["id"] for body in mine]
    assert submit(x, "ben", tar_of({"p1.ipynb": b'{"ben": 1}'})).status_code == 201
    html = tar_of({"p1.html": b"<p>well done</p>"})
    assert x("ivo", "PUT", f"{x.base}/submissions/{ids[1]}/feedback", data=html).status_code == 201
    answer = x("ana", "GET", "/api/v1/me/export")
    assert answer.status_code == 200, answer.text
    with zipfile.ZipFile(io.BytesIO(answer.content)) as z:
        listed = json.loads(z.read("exchange.json"))
        assert [item["file"] for item in listed] == [f"exchange/{i}.tar" for i in ids]
        assert [z.read(item["file"]) for item in listed] == mine
        assert [len(item["feedback"]) for item in listed] == [0, 1]
        assert z.read(listed[1]["feedback"][0]["file"]) == html
        assert not any(b'"ben"' in z.read(n) for n in z.namelist())  # ben's work is not mine
        assert "exchange.json" in z.read("README.txt").decode()


# -- hostile archives -------------------------------------------------------------------------
HOSTILE = [
    ("../x", "'..'"),
    ("a/../../x", "'..'"),
    ("/etc/x", "absolute path"),
    ("bad\x1bname", "invisible character"),
    ("symlink", "symbolic link"),
    ("hardlink", "hard link"),
    ("device", "device"),
    ("fifo", "FIFO"),
]


def test_an_archive_with_a_dangerous_member_is_refused(x: Course) -> None:
    released(x)
    for kind, words in HOSTILE:
        data = refused(submit(x, "ana", hostile_tar(kind)), 422, words)
        assert data["field"] == "body"
        resp = x("ivo", "PUT", f"{x.base}/releases/ps2", data=hostile_tar(kind))
        refused(resp, 422, words)
    assert rows(x) == 1  # the release only
    assert x.folder("tmp") == []


def test_a_body_that_is_not_a_tar_and_bad_names_are_refused(x: Course) -> None:
    released(x)
    refused(submit(x, "ana", b"not a tar at all" * 100), 422, "not a whole tar archive")
    refused(submit(x, "ana", tar_of({"p1.ipynb": b"{}" * 400})[:700]), 422, "tar")
    resp = x("ivo", "PUT", f"{x.base}/releases/.git", data=tar_of({"a": b""}))
    refused(resp, 422, "not an assignment name")
    refused(x("ana", "GET", f"{x.base}/submissions/{10**17}/feedback"), 404)
    refused(x("ana", "GET", f"{x.base}/submissions", params={"assignment": "x" * 101}), 422)
    assert rows(x) == 1


# -- time -------------------------------------------------------------------------------------
def test_two_submissions_in_the_same_second_are_both_kept_in_order(x: Course) -> None:
    released(x)
    sent = [submit(x, "ana", tar_of({"p1.ipynb": f'{{"v": {i}}}'.encode()})) for i in range(3)]
    assert all(r.status_code == 201 for r in sent), [r.text for r in sent]
    mine = x("ana", "GET", f"{x.base}/submissions").json()["submissions"]
    assert [s["id"] for s in mine] == [r.json()["id"] for r in sent]
    stamps = [datetime.fromisoformat(s["timestamp"]) for s in mine]
    assert stamps == sorted(set(stamps))  # strictly increasing


def test_the_same_instant_twice_still_orders_submissions(x: Course, tmp_path: Path) -> None:
    """Even when the service's clock reads the same instant (or steps back), a learner's
    next submission gets a later time than their last."""
    root = tmp_path / "exchange"
    (root / "tmp").mkdir(parents=True)
    blobs = FolderBlobs(root)
    now = utcnow()
    with x.store.read() as s:
        ivo, ana = (Actor.of(s.get_one(Member, x.members[n])) for n in ("ivo", "ana"))
    with x.store.write() as s:
        c = s.get_one(Cohort, x.cohort_id)
        exchange.publish(s, ivo, c, x.slug, "release", "ps1", _upload(root, "r"), blobs)
    stamps = []
    for i, at in enumerate([now, now, now - timedelta(minutes=3)]):
        with clock_at(at), x.store.write() as s:
            c = s.get_one(Cohort, x.cohort_id)
            upload = _upload(root, str(i))
            out = exchange.publish(s, ana, c, x.slug, "submission", "ps1", upload, blobs)
            stamps.append(datetime.fromisoformat(out["timestamp"]))
    assert stamps[0] == now and stamps == sorted(set(stamps))


def _upload(root: Path, name: str) -> exchange.Upload:
    temp = root / "tmp" / f"{name}.part"
    temp.write_bytes(tar_of({"p1.ipynb": b"{}"}))
    blob = name.encode().hex().rjust(32, "0") + ".tar"
    return exchange.Upload(temp, temp.stat().st_size, "0" * 64, blob)


def test_the_services_clock_decides_not_the_learners_archive(x: Course) -> None:
    """A learner whose server's clock is minutes behind (or who writes their own
    timestamp.txt) still gets the time the service received the submission."""
    released(x)
    before = utcnow()
    forged = tar_of({"p1.ipynb": b"{}", "timestamp.txt": b"2000-01-01 00:00:00.000000 UTC"})
    resp = submit(x, "ana", forged)
    assert resp.status_code == 201, resp.text
    assert before <= datetime.fromisoformat(resp.json()["timestamp"]) <= utcnow()


# -- whose is what ----------------------------------------------------------------------------
def test_roles_and_other_cohorts(x: Course) -> None:
    tar = tar_of({"p1.ipynb": b"{}"})
    refused(x(None, "GET", f"{x.base}/releases"), 401)
    refused(x("ana", "PUT", f"{x.base}/releases/ps1", data=tar), 403, "exchange.manage")
    refused(x("sam", "GET", f"{x.base}/releases"), 403)
    assert x("fay", "PUT", f"{x.base}/releases/ps1", data=tar).status_code == 201
    refused(x("ivo", "PUT", f"{x.base}/releases/ps1", data=tar), 409, "--force")
    refused(submit(x, "ivo", tar), 403, "exchange.submit")
    refused(x("ana", "POST", f"{x.base}/assignments/ps2/submissions", data=tar), 404, "ps2")
    # A learner of another cohort: this course does not exist for them.
    refused(x("zed", "GET", f"{x.base}/releases"), 404, f"no course '{x.slug}'")
    refused(submit(x, "zed", tar), 404, "no course")
    refused(x("zed", "GET", f"{x.base}/releases/ps1"), 404)
    assert submit(x, "chi", tar).status_code == 201  # a champion is a learner too
    assert rows(x) == 2


def test_a_learner_never_reaches_another_learners_submission_or_feedback(x: Course) -> None:
    released(x)
    ana = submit(x, "ana", tar_of({"p1.ipynb": b'{"ana": 1}'})).json()["id"]
    html = tar_of({"p1.html": b"<p>for ana</p>"})
    assert x("ivo", "PUT", f"{x.base}/submissions/{ana}/feedback", data=html).status_code == 201
    for path in (f"{x.base}/submissions/{ana}", f"{x.base}/submissions/{ana}/feedback"):
        refused(x("ben", "GET", path), 404, f"no submission {ana} of yours")
        refused(x("zed", "GET", path), 404)
    assert x("ben", "GET", f"{x.base}/submissions").json()["submissions"] == []
    only_ana = x("ben", "GET", f"{x.base}/submissions", params={"student": "ana"})
    assert only_ana.json() == {"submissions": []}
    refused(x("ben", "PUT", f"{x.base}/submissions/{ana}/feedback", data=html), 403)
    assert x("ana", "GET", f"{x.base}/submissions/{ana}/feedback").content == html
    listed = x("ivo", "GET", f"{x.base}/submissions").json()["submissions"]
    assert [(s["student"], s["feedback"]) for s in listed] == [("ana", True)]
    # Staff asking for one that does not exist are told so in their own terms.
    refused(x("ivo", "GET", f"{x.base}/submissions/999999"), 404, "no submission 999999 in this")


def test_packing_refuses_a_link_in_the_learners_folder(tmp_path: Path) -> None:
    (tmp_path / "ps1").mkdir()
    (tmp_path / "ps1" / "p1.ipynb").write_text("{}")
    (tmp_path / "ps1" / "secret").symlink_to("/etc/passwd")
    with pytest.raises(Invalid, match="secret is a link"):
        pack_folder(tmp_path / "ps1", tmp_path / "out.tar")


def test_collect_vets_again_what_lands_in_course_submitted(
    shared_service: SharedService, tmp_path: Path
) -> None:
    """Archives are vetted when uploaded; should one be changed afterwards by someone who
    could also change its row's checksum, nbgrader's collect through the service still
    refuses its link and leaves ``course/submitted`` without it, while the untouched
    submission is collected."""
    world = ExchangeWorld(tmp_path, shared_service)
    c = world.c1
    world.step("ReleaseAssignment", "ivo", c)
    for who in ("ana", "ben"):
        world.step("FetchAssignment", who, c)
        world.step("Submit", who, c)
    with shared_service.store.read() as s:
        blob = s.scalar(
            select(ExchangeFile.blob)
            .join(Member, Member.id == ExchangeFile.member_id)
            .where(ExchangeFile.kind == "submission", Member.username == "ana")
            .order_by(ExchangeFile.id.desc())
        )
    assert blob is not None
    shared_service.overwrite_blob(blob, hostile_tar("symlink"), with_its_row=True)
    world.step("Collect", "ivo", c)
    assert not world.submitted(c, "ana").exists()
    assert (world.submitted(c, "ben") / "p1.ipynb").is_file()
    assert not any(p.is_symlink() for p in (world.course_root(c) / "submitted").rglob("*"))


def _latest_blob(store: Store, kind: str, username: str | None = None) -> str:
    with store.read() as s:
        query = select(ExchangeFile.blob).where(ExchangeFile.kind == kind)
        if username is not None:
            query = query.join(Member, Member.id == ExchangeFile.member_id).where(
                Member.username == username
            )
        blob = s.scalar(query.order_by(ExchangeFile.id.desc()))
    assert blob is not None
    return blob


def test_an_archive_damaged_on_the_service_is_never_unpacked(
    shared_service: SharedService, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The download is checked against the size and SHA-256 taken at upload: a damaged
    submission is refused for its learner alone (the others are collected), a damaged
    release fails the learner's fetch with a reason, and nothing of either is unpacked."""
    world = ExchangeWorld(tmp_path, shared_service)
    c = world.c1
    world.step("ReleaseAssignment", "ivo", c)
    for who in ("ana", "ben"):
        world.step("FetchAssignment", who, c)
        world.step("Submit", who, c)
    whole = tar_of({"p1.ipynb": b'{"cells": []}'})
    shared_service.overwrite_blob(_latest_blob(shared_service.store, "submission", "ana"),
                                  whole[: len(whole) // 2])  # fmt: skip
    with caplog.at_level("ERROR"):
        world.step("Collect", "ivo", c)
    assert not world.submitted(c, "ana").exists()
    assert (world.submitted(c, "ben") / "p1.ipynb").is_file()
    assert "is not what was uploaded" in caplog.text and "ana" in caplog.text
    shared_service.overwrite_blob(_latest_blob(shared_service.store, "release"), whole)
    shutil.rmtree(world.home("ana") / "ps1")
    with pytest.raises(ExchangeError, match="is not what was uploaded"):
        world.step("FetchAssignment", "ana", c)
    assert not (world.home("ana") / "ps1").exists()


def test_submit_through_the_service_refuses_a_link_and_keeps_nbgraders_limits(
    shared_service: SharedService, tmp_path: Path
) -> None:
    world = ExchangeWorld(tmp_path, shared_service)
    c = world.c1
    world.step("ReleaseAssignment", "ivo", c)
    world.step("FetchAssignment", "ana", c)
    folder = world.home("ana") / "ps1"
    (folder / "notes").symlink_to("/etc/passwd")
    with pytest.raises(ExchangeError, match="notes -> /etc/passwd"):
        world.step("Submit", "ana", c)
    (folder / "notes").unlink()
    (folder / "data.csv").write_text("a,b\n1,2\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.pyc").write_bytes(b"\0")  # nbgrader's ignore leaves it out
    world.step("Submit", "ana", c)
    world.step("Collect", "ivo", c)
    got = world.submitted(c, "ana")
    assert (got / "p1.ipynb").is_file() and (got / "data.csv").is_file()
    assert not (got / "__pycache__").exists() and not (got / "notes").exists()
    assert _inbound_count(world, c) == 1


def _inbound_count(world: ExchangeWorld, course: str) -> int:
    found = world.step("List", world.staff(course), course, assignment="", inbound=True)
    return sum(len(g["submissions"]) for g in found)


def test_a_list_without_a_course_shows_the_members_own_cohort(
    shared_service: SharedService, tmp_path: Path
) -> None:
    """JupyterLab's assignment list asks before a course is chosen: the service exchange
    answers with the course of the member's own cohort."""
    world = ExchangeWorld(tmp_path, shared_service)
    world.step("ReleaseAssignment", "ivo", world.c1)
    found = world.step("List", "ben", "", assignment="")
    assert [(a["course_id"], a["assignment_id"], a["status"]) for a in found] == [
        (world.c1, "ps1", "released")
    ]


def test_the_hub_example_config_turns_every_exchange_class_on() -> None:
    """``cohorts/hub/jupyter_config.py`` names each class nbgrader's factory asks for, and
    each is the service exchange's (nbgrader builds them from these names)."""
    from importlib import import_module

    from nbgrader.exchange import ExchangeFactory

    from nbcohort.cohorts.config import load_config
    from nbcohort.exchange.service_exchange import FACTORY

    hub = Path(__file__).resolve().parents[2] / "cohorts" / "hub"
    cfg = load_config([str(hub)])
    assert dict(cfg.ExchangeFactory) == FACTORY
    assert set(FACTORY) == set(ExchangeFactory.class_traits(config=True))
    factory = ExchangeFactory(config=cfg)
    for name, dotted in FACTORY.items():
        module, _, cls = dotted.rpartition(".")
        assert getattr(factory, name) is getattr(import_module(module), cls)
