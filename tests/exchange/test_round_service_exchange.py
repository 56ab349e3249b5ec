"""A review round through the service exchange (#18 part 3, review rounds): the instructor's
course folder and the service's data folder are different temporary folders with nothing in
common. Learners fetch and submit through the service; ``review open`` collects through it
and uploads the anonymized packets; reviewers read their own packets from the service (never
another's, and not from the round's folder, which is removed); ``review close`` releases
feedback through it and authors fetch it. Runs on SQLite and PostgreSQL (``shared_service``)."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from traitlets.config import Config

from nbcohort.cohorts.client import ClientError, CohortClient
from nbcohort.cohorts.models import (
    Activity,
    Allocation,
    Cohort,
    ExchangeFile,
    Member,
    ReviewRound,
)
from nbcohort.cohorts.services import reviews
from nbcohort.cohorts.services.auth import Actor, mint_token
from nbcohort.cohorts.store import Store
from nbcohort.exchange.round_close import close
from nbcohort.exchange.round_context import RoundError
from nbcohort.exchange.round_open import open_round
from nbcohort.exchange.round_update import update_round
from nbcohort.exchange.service_exchange import FACTORY
from tests.helpers.exchange_service import SharedService, new_slug, shared_service
from tests.helpers.peer_course import ASSIGNMENT, PeerCourse, due_in

__all__ = ["shared_service"]  # the fixture, imported for pytest

pytestmark = pytest.mark.slow

NAMES = ["Ana Souza", "Ben Okafor", "Chi Nguyen", "Dara Kim"]
CRITERIA = ("question", "evidence", "recommendation")


def _token(course: PeerCourse, username: str) -> str:
    with course.store.write() as s:
        member = s.get_one(Member, course.members[username].id)
        return mint_token(s, Actor.system(), member, "test")


def _service_exchange(shared: SharedService, slug: str) -> object:
    """The instructor's exchange config: the service's classes, the cohort's slug as the
    course id, the instructor's own token (the instructor is added to the roster first)."""

    def make(course: PeerCourse) -> Config:
        course.add_learners(["Ivo Petrov"], teams=0, role="instructor")
        cfg = Config()
        for name, cls in FACTORY.items():
            setattr(cfg.ExchangeFactory, name, cls)
        cfg.CourseDirectory.course_id = slug
        cfg.ServiceExchange.url = shared.service.url
        cfg.ServiceExchange.token = _token(course, "ivo")
        return cfg

    return make


@pytest.fixture(scope="module")
def opened(shared_service: SharedService, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One course per database: four learners submit through the service; the round opens."""
    tmp = tmp_path_factory.mktemp("instructor")
    assert shared_service.data.resolve() not in tmp.resolve().parents
    slug = new_slug("round")
    course = PeerCourse(tmp, shared_service.store, cohort=slug,
                        exchange=_service_exchange(shared_service, slug))  # type: ignore[arg-type]  # fmt: skip
    course.add_learners(NAMES, teams=2)
    tokens = {u: _token(course, u) for u in course.members if u != "ivo"}
    for username, token in tokens.items():
        course.learner_configs[username] = Config({"ServiceExchange": {"token": token}})
    for name in NAMES:
        username = name.split()[0].lower()
        course.fetch(username)
        course.answer(username, name, 2)
        course.submit(username)
    ctx = course.context()
    # A round that cannot open (too few authors for 9 reviewers each): what collect wrote
    # through the service is taken back out of the course.
    with pytest.raises(RoundError, match="cannot allocate 9 reviewers"):
        open_round(ctx, ASSIGNMENT, due=due_in(7), reviewers=9, seed=3)  # type: ignore[arg-type]
    left = sorted(p.name for p in (course.root / "submitted").glob("*/*"))
    failed = _opens_failing_midway(course, shared_service)
    report = open_round(ctx, ASSIGNMENT, due=due_in(7), reviewers=2, seed=3)  # type: ignore[arg-type]
    return {"course": course, "ctx": ctx, "report": report, "tokens": tokens, "tmp": tmp,
            "left_after_failure": left, "failed_midway": failed}  # fmt: skip


def _blobs(shared: SharedService) -> set[str]:
    return shared.blob_names()


@contextmanager
def refusing_inserts(store: Store, table: str, when: str) -> Iterator[None]:
    """The database itself refuses a row of ``table`` while ``when`` (SQL on ``NEW`` and the
    tables) holds, as a full disk or a failing database would: a trigger, on SQLite and on
    PostgreSQL, dropped after."""
    name = f"refuse_{table}"
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN {when} "
                "BEGIN SELECT RAISE(ABORT, 'the disk is full'); END"
            )
        else:
            conn.exec_driver_sql(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF {when} THEN RAISE EXCEPTION 'the disk is full'; END IF; RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                f"CREATE TRIGGER {name} BEFORE INSERT ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {name}()"
            )
    try:
        yield
    finally:
        with store.engine.begin() as conn:
            conn.exec_driver_sql(
                f"DROP TRIGGER {name}"
                + ("" if store.engine.dialect.name == "sqlite" else f" ON {table}")
            )
            if store.engine.dialect.name != "sqlite":
                conn.exec_driver_sql(f"DROP FUNCTION {name}()")


def _packets(course: PeerCourse) -> tuple[int, int]:
    """(packets the service was sent, packet rows it keeps) for the course's cohort."""
    with course.store.read() as s:
        sent = s.scalar(
            select(func.count())
            .select_from(Activity)
            .where(Activity.cohort_id == course.cohort_id, Activity.verb == "exchange.packet")
        )
        rows = s.scalar(
            select(func.count())
            .select_from(ExchangeFile)
            .where(ExchangeFile.cohort_id == course.cohort_id, ExchangeFile.kind == "packet")
        )
    return int(sent or 0), int(rows or 0)


def _opens_failing_midway(course: PeerCourse, shared: SharedService) -> dict:
    """Two opens that fail after packets reached the service, the database refusing for real:
    the fourth packet's row (the service answers 500 midway through the uploads), then the
    round's own row (after every packet is uploaded). What each left behind."""
    cohort, found = course.cohort_id, {}
    fourth = (
        f"NEW.kind = 'packet' AND NEW.cohort_id = {cohort} AND (SELECT count(*) FROM "
        f"exchange_file WHERE kind = 'packet' AND cohort_id = {cohort}) >= 3"
    )
    for step, table, when, error in (
        ("upload", "exchange_file", fourth, RoundError),
        ("round", "review_round", f"NEW.cohort_id = {cohort}", Exception),
    ):
        blobs, before = _blobs(shared), _packets(course)[0]
        with refusing_inserts(shared.store, table, when), pytest.raises(error) as failed:
            open_round(course.context(), ASSIGNMENT, due=due_in(7), reviewers=2, seed=3)  # type: ignore[arg-type]
        sent, rows = _packets(course)
        found[step] = {
            "error": str(failed.value),
            "sent": sent - before,
            "rows": rows,
            "blobs_back": _blobs(shared) == blobs,
            "notes": getattr(failed.value, "__notes__", []),
            "submitted": sorted(p.name for p in (course.root / "submitted").glob("*/*")),
        }
    return found


def test_an_open_failing_midway_leaves_no_packet_on_the_service(opened: dict) -> None:
    upload, last = opened["failed_midway"]["upload"], opened["failed_midway"]["round"]
    assert upload["sent"] == 3, upload  # three packets reached the service, the fourth failed
    assert "could not be uploaded" in upload["error"] and "500" in upload["error"], upload
    assert last["sent"] == 8, last  # every packet reached the service, then the round failed
    # PostgreSQL says the trigger's reason; SQLite calls a trigger's refusal a constraint,
    # which create_round reads as a round opened meanwhile.
    assert "the disk is full" in last["error"] or "already open" in last["error"], last
    for failed in (upload, last):  # the service keeps none of them; the course none either
        assert failed["rows"] == 0 and failed["blobs_back"], failed
        assert failed["notes"] == [] and failed["submitted"] == [], failed


@pytest.mark.parametrize(
    ("who", "packet", "status", "says"),
    [
        ("ana", "live", 403, ""),  # a learner withdraws nothing
        ("ivo", "live", 409, "belongs to an open review round"),
        ("ivo", "project-1-00000000000000aa", 204, ""),  # none such: withdrawn already
        ("ivo", "a..b", 422, "not a packet name"),
        ("oz", "live", 404, "no course"),  # another cohort's instructor
    ],
)
def test_packet_withdrawals_refused(
    opened: dict, shared_service: SharedService, who: str, packet: str, status: int, says: str
) -> None:
    course = opened["course"]
    if packet == "live":
        packet = Path(next(iter(_allocations(course).values()))[2]).name
    token = opened["tokens"].get(who) or course.config.ServiceExchange.token
    if who == "oz":
        token = _other_cohorts_instructor(shared_service)
    resp = requests.delete(
        f"{shared_service.service.url}/api/v1/exchange/{course.cohort}/assignments/"
        f"{ASSIGNMENT}/packets/{packet}",
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )
    assert resp.status_code == status, resp.text
    assert says in resp.text
    assert {Path(p).name for _r, _a, p in _allocations(course).values()} <= _uploaded(course)


def _uploaded(course: PeerCourse) -> set[str]:
    with course.store.read() as s:
        return set(
            s.scalars(
                select(ExchangeFile.packet).where(
                    ExchangeFile.cohort_id == course.cohort_id, ExchangeFile.kind == "packet"
                )
            )
        )


def _other_cohorts_instructor(shared_service: SharedService) -> str:
    from nbcohort.cohorts.services.cohort_registry import create_cohort
    from nbcohort.cohorts.services.members import add_member

    with shared_service.store.write() as s:
        cohort = create_cohort(s, Actor.system(), new_slug("elsewhere"), "Elsewhere")
        boss = add_member(
            s,
            Actor.system(),
            s.get_one(Cohort, cohort.id),
            name="Oz",
            email="oz@example.org",
            role="instructor",
            username="oz",
        )
        return mint_token(s, Actor.system(), boss, "test")


def _allocations(course: PeerCourse) -> dict[int, tuple[str, str, str]]:
    """allocation id -> (reviewer, author, packet)."""
    with course.store.read() as s:
        rnd = s.scalars(select(ReviewRound).where(ReviewRound.cohort_id == course.cohort_id)).one()
        return {
            a.id: (a.reviewer.username, a.submission.author.username, a.packet)
            for a in s.scalars(select(Allocation).where(Allocation.round_id == rnd.id))
        }


def test_open_collects_through_the_service_and_uploads_every_packet(
    opened: dict, shared_service: SharedService
) -> None:
    course, report = opened["course"], opened["report"]
    assert opened["left_after_failure"] == []
    assert report.submissions == 4 and not report.excluded
    assert report.allocations == 8
    # Collected from the service into the instructor's course; the filesystem exchange
    # folder the course would use is untouched.
    assert sorted(p.parent.name for p in (course.root / "submitted").glob(f"*/{ASSIGNMENT}")) == [
        "ana", "ben", "chi", "dara"
    ]  # fmt: skip
    assert not any((opened["tmp"] / "exchange").iterdir())
    with course.store.read() as s:
        rnd = s.scalars(select(ReviewRound).where(ReviewRound.cohort_id == course.cohort_id)).one()
        assert rnd.settings["packets"] == "exchange"
        uploaded = set(
            s.scalars(
                select(ExchangeFile.packet).where(
                    ExchangeFile.cohort_id == course.cohort_id, ExchangeFile.kind == "packet"
                )
            )
        )
    assert {Path(p).name for _r, _a, p in _allocations(course).values()} == uploaded


def test_reviewers_get_their_own_anonymized_packets_from_the_service(
    opened: dict, shared_service: SharedService
) -> None:
    course = opened["course"]
    allocations = _allocations(course)
    folder = _round_folder(course)
    local = _local_packets(folder, allocations)
    # The service must not need the instructor's folder: it is moved away while reviewers read.
    os.rename(folder / "packets", folder / "packets.away")
    try:
        _read_own_packets(shared_service, allocations, local, opened["tokens"])
    finally:
        os.rename(folder / "packets.away", folder / "packets")


def _round_folder(course: PeerCourse) -> Path:
    with course.store.read() as s:
        return Path(s.scalars(select(ReviewRound.folder).where(
            ReviewRound.cohort_id == course.cohort_id)).one())  # fmt: skip


def _local_packets(
    folder: Path, allocations: dict[int, tuple[str, str, str]]
) -> dict[int, dict[str, bytes]]:
    """Each allocation's packet as the instructor's side wrote it (relative name -> bytes)."""
    return {
        aid: {p.relative_to(folder / packet).as_posix(): p.read_bytes()
              for p in (folder / packet).rglob("*") if p.is_file()}
        for aid, (_r, _a, packet) in allocations.items()
    }  # fmt: skip


def _read_own_packets(
    shared_service: SharedService,
    allocations: dict[int, tuple[str, str, str]],
    local: dict[int, dict[str, bytes]],
    tokens: dict[str, str],
) -> None:
    """Each reviewer reads each packet of theirs (as built locally) and none of another's."""
    url = shared_service.service.url
    for aid, (reviewer, author, _packet) in allocations.items():
        with closing(CohortClient(url, tokens[reviewer], timeout=10)) as client:
            files = client.review_packet(ASSIGNMENT, aid)
        assert files == local[aid]
        notebook = files[f"{ASSIGNMENT}.ipynb"].decode()
        assert f"/home/{author}/" not in notebook, "a packet names its author's home"
        assert "Written by" in notebook  # the author's answer is there
        for other, (owner, _a, _p) in allocations.items():
            if owner == reviewer:
                continue
            with (
                closing(CohortClient(url, tokens[reviewer], timeout=10)) as client,
                pytest.raises(ClientError) as refused,
            ):
                client.review_packet(ASSIGNMENT, other)
            assert refused.value.status == 404
            assert str(other) in refused.value.message


def _packet_tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:") as tar:
        info = tarfile.TarInfo("project-1.ipynb")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"{}"))
    return out.getvalue()


@pytest.mark.parametrize(
    ("who", "packet", "status", "says"),
    [
        ("ana", "project-1-0123456789abcdef", 403, ""),  # a learner uploads no packet
        ("ivo", "a..b", 422, "not a packet name"),
        ("ivo", "%2E%2E", 422, "not a packet name"),
        ("ivo", "with%20space", 422, "not a packet name"),
        ("ivo", ".hidden", 422, "not a packet name"),
        ("ivo", "x" * 161, 404, ""),  # longer than any packet name: no such route
        ("ivo", "existing", 409, "already uploaded"),
    ],
)
def test_packet_uploads_refused(
    opened: dict, shared_service: SharedService, who: str, packet: str, status: int, says: str
) -> None:
    course = opened["course"]
    if packet == "existing":
        packet = Path(next(iter(_allocations(course).values()))[2]).name
    token = opened["tokens"].get(who) or course.config.ServiceExchange.token
    resp = requests.put(
        f"{shared_service.service.url}/api/v1/exchange/{course.cohort}/assignments/"
        f"{ASSIGNMENT}/packets/{packet}",
        data=_packet_tar(),
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )
    assert resp.status_code == status, resp.text
    assert says in resp.text


def test_another_cohorts_staff_cannot_upload_a_packet_here(
    opened: dict, shared_service: SharedService
) -> None:
    other = new_slug("other")
    with shared_service.store.write() as s:
        from nbcohort.cohorts.services.cohort_registry import create_cohort
        from nbcohort.cohorts.services.members import add_member

        cohort = create_cohort(s, Actor.system(), other, "Other")
        boss = add_member(s, Actor.system(), s.get_one(Cohort, cohort.id), name="Oz",
                          email="oz@example.org", role="instructor", username="oz")  # fmt: skip
        token = mint_token(s, Actor.system(), boss, "test")
    resp = requests.put(
        f"{shared_service.service.url}/api/v1/exchange/{opened['course'].cohort}/assignments/"
        f"{ASSIGNMENT}/packets/project-1-00aa",
        data=_packet_tar(),
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )
    assert resp.status_code == 404 and "no course" in resp.text


def test_a_late_submission_joins_with_its_packets_uploaded(
    opened: dict, shared_service: SharedService
) -> None:
    """``review update``: Eve submits late through the service; her packets (and those of
    the pairs the update adds) are uploaded and read by their reviewers from the service."""
    course = opened["course"]
    before = set(_allocations(course))
    course.add_learners(["Eve Adams"], teams=2)
    opened["tokens"]["eve"] = _token(course, "eve")
    course.learner_configs["eve"] = Config({"ServiceExchange": {"token": opened["tokens"]["eve"]}})
    course.fetch("eve")
    course.answer("eve", "Eve Adams", 2)
    course.submit("eve")
    report = update_round(opened["ctx"], ASSIGNMENT, due=due_in(7))  # type: ignore[arg-type]
    assert report.late == ["eve"], report
    allocations = _allocations(course)
    added = {aid: row for aid, row in allocations.items() if aid not in before}
    assert any(author == "eve" for _r, author, _p in added.values())
    local = _local_packets(_round_folder(course), added)
    _read_own_packets(shared_service, added, local, opened["tokens"])


def test_close_releases_feedback_that_authors_fetch_through_the_service(
    opened: dict, shared_service: SharedService
) -> None:
    course, ctx = opened["course"], opened["ctx"]
    with course.store.write() as s:
        cohort = s.get_one(Cohort, course.cohort_id)
        for username, member in course.members.items():
            if username == "ivo":
                continue
            actor = Actor.of(s.get_one(Member, member.id))
            for n, item in enumerate(reviews.review_inbox(s, actor, cohort, ASSIGNMENT)["inbox"]):
                reviews.save_review(
                    s, actor, cohort, item["allocation_id"],
                    scores={c: float(1 + (n + i) % 3) for i, c in enumerate(CRITERIA)},
                    comments={c: f"peer note on {c} by someone" for c in CRITERIA},
                    overall_comment="Good work.", submit=True,
                )  # fmt: skip
    report = close(ctx, ASSIGNMENT, force=True, complete_short=True)
    learners = sorted(u for u in course.members if u != "ivo")
    assert report.grades == {} and report.graded == len(learners) == 5
    for username in learners:
        pages = course.fetch_feedback(username)
        assert len(pages) == 1, f"{username} fetched no feedback"
        html = pages[0].read_text("utf-8")
        assert "peer note on question by someone" in html
        assert all(f">{other}<" not in html for other in learners)
