"""``nbcohort exchange check``: archives against rows on both stores and databases, what a
crash leaves behind removed only when old enough, missing archives named, and whatever the
service never made (links, folders, odd names) reported, never followed, never removed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, ExchangeBlobChunk, ExchangeFile, Member
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Forbidden
from nbcohort.cohorts.services.exchange_blobs import BlobStore, DatabaseBlobs, FolderBlobs
from nbcohort.cohorts.services.exchange_sweep import SweepReport, check_exchange
from nbcohort.cohorts.store import Store
from tests.cohorts.test_cli import course, nbcohort  # noqa: F401 - the fixture, as a user sets up

DAY = 86400
KEPT, GONE = "a" * 32 + ".tar", "b" * 32 + ".tar"  # two published archives
ORPHAN, YOUNG = "c" * 32 + ".tar", "d" * 32 + ".tar"  # files no row names


def _aged(path: Path, seconds: float) -> Path:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)
    return path


def _publish(s: Session, cohort: Cohort, blobs: BlobStore, root: Path, blob: str,
             member: Member | None = None) -> None:  # fmt: skip
    temp = root / "tmp" / f"upload-{blob}.part"
    temp.parent.mkdir(parents=True, exist_ok=True)
    temp.write_bytes(b"archive " + blob.encode())
    s.add(ExchangeFile(cohort_id=cohort.id, kind="submission" if member else "release",
                       assignment="ps1", member_id=member.id if member else None, blob=blob,
                       size=temp.stat().st_size, sha256="0" * 64, notebooks=[]))  # fmt: skip
    s.flush()
    blobs.put(s, blob, temp)
    temp.unlink(missing_ok=True)


def _check(store: Store, blobs: BlobStore, root: Path, *, fix: bool) -> SweepReport:
    with store.read(snapshot=True) as s:
        return check_exchange(s, Actor.system(), blobs, root, grace_seconds=DAY, fix=fix)


@pytest.fixture
def world(store: Store, people: dict[str, Member], tmp_path: Path) -> tuple[Path, Path]:
    """A folder-store exchange after a rough week: one archive gone by hand, one orphan from
    a crash, uploads cut off, and things in its folders that the service never made."""
    root, victim = tmp_path / "exchange", tmp_path / "someone-elses.txt"
    victim.write_text("not the exchange's", "utf-8")
    blobs = FolderBlobs(root)
    with store.write() as s:
        cohort = s.get(Cohort, people["ana"].cohort_id)
        _publish(s, cohort, blobs, root, KEPT)
        _publish(s, cohort, blobs, root, GONE, s.get(Member, people["ana"].id))
    (root / "blobs" / GONE).unlink()
    _aged(root / "blobs" / KEPT, 9 * DAY)  # old, but named by its row: never touched
    for name in (ORPHAN, YOUNG):
        (root / "blobs" / name).write_bytes(b"x" * 100)
    _aged(root / "blobs" / ORPHAN, 2 * DAY)
    _aged(_write(root / "tmp" / "upload-k2j3.part", b"y" * 50), 3 * DAY)
    _write(root / "tmp" / "upload-now.part", b"on its way")
    link = root / "blobs" / ("e" * 32 + ".tar")
    link.symlink_to(victim)
    _aged(link, 5 * DAY)
    (root / "blobs" / ("f" * 32 + ".tar")).mkdir()
    _aged(_write(root / "blobs" / "notes.txt", b"an operator's"), 5 * DAY)
    _aged(_write(root / "tmp" / "upload-../x.part".replace("/", "_"), b"z"), 5 * DAY)
    return root, victim


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_check_reports_and_changes_nothing(store: Store, world: tuple[Path, Path]) -> None:
    root, _ = world
    before = sorted(p.name for p in (root / "blobs").iterdir())
    report = _check(store, FolderBlobs(root), root, fix=False)
    assert report.archives == 2
    assert report.orphans == [ORPHAN]
    assert report.stale_uploads == ["upload-.._x.part", "upload-k2j3.part"]
    assert report.young == 2
    assert report.missing == [f"spring-26: submission 'ps1' of ana ({GONE})"]
    assert sorted(Path(p).name for p in report.strangers) == sorted(
        ["e" * 32 + ".tar", "f" * 32 + ".tar", "notes.txt"]
    )
    assert (report.removed, report.clean) == (0, False)
    assert sorted(p.name for p in (root / "blobs").iterdir()) == before
    assert any("would be removed (--fix)" in line for line in report.lines(fix=False))


def test_fix_removes_only_old_orphans_and_cut_off_uploads(
    store: Store, world: tuple[Path, Path]
) -> None:
    root, victim = world
    report = _check(store, FolderBlobs(root), root, fix=True)
    assert (report.removed, report.freed_bytes) == (3, 100 + 50 + 1)
    left = sorted(p.name for p in (root / "blobs").iterdir())
    assert left == sorted([KEPT, YOUNG, "e" * 32 + ".tar", "f" * 32 + ".tar", "notes.txt"])
    assert sorted(p.name for p in (root / "tmp").iterdir()) == ["upload-now.part"]
    assert (root / "blobs" / ("e" * 32 + ".tar")).is_symlink()  # a link is never followed
    assert victim.read_text("utf-8") == "not the exchange's"
    again = _check(store, FolderBlobs(root), root, fix=True)
    assert (again.removed, again.orphans, again.stale_uploads) == (0, [], [])
    assert again.missing == report.missing  # nothing brings a lost archive back


def test_the_database_store_names_rows_without_pieces(
    store: Store, people: dict[str, Member], tmp_path: Path
) -> None:
    root, blobs = tmp_path / "exchange", DatabaseBlobs()
    with store.write() as s:
        cohort = s.get(Cohort, people["ana"].cohort_id)
        _publish(s, cohort, blobs, root, KEPT)
        _publish(s, cohort, blobs, root, GONE)
        s.execute(delete(ExchangeBlobChunk).where(ExchangeBlobChunk.blob == GONE))
    _aged(_write(root / "tmp" / "upload-old.part", b"y"), 2 * DAY)
    report = _check(store, blobs, root, fix=True)
    assert report.archives == 2
    assert report.missing == [f"spring-26: release 'ps1' ({GONE})"]
    assert (report.stale_uploads, report.removed) == (["upload-old.part"], 1)
    assert not (root / "tmp" / "upload-old.part").exists()


def test_only_the_administrator_checks_the_whole_exchange(
    store: Store, people: dict[str, Member], tmp_path: Path
) -> None:
    root = tmp_path / "exchange"
    for who in ("ivo", "fay", "ana"):
        with store.read() as s, pytest.raises(Forbidden):
            check_exchange(s, Actor.of(people[who]), FolderBlobs(root), root, grace_seconds=0,
                           fix=True)  # fmt: skip


@pytest.mark.slow
def test_the_command_as_an_operator_runs_it(course: tuple[Path, dict[str, str]]) -> None:  # noqa: F811
    folder, env = course
    clean = nbcohort(env, "exchange", "check")
    assert clean.returncode == 0, clean.stderr
    assert "the exchange is consistent" in clean.stdout
    blobs = folder / ".nbcohort" / "exchange" / "blobs"
    blobs.mkdir(parents=True)
    orphan = _aged(_write(blobs / ORPHAN, b"left by a crash"), 2 * DAY)
    found = nbcohort(env, "exchange", "check")
    assert found.returncode == 1
    assert "1 archive file(s) no row names: would be removed (--fix)" in found.stdout
    assert orphan.exists()
    fixed = nbcohort(env, "exchange", "check", "--fix")
    assert fixed.returncode == 0, fixed.stderr
    assert "freed 15 bytes" in fixed.stdout and not orphan.exists()
    young = _write(blobs / YOUNG, b"just now")
    kept = nbcohort(env, "exchange", "check", "--fix")
    assert "1 recent file(s) left alone" in kept.stdout and young.exists()
    gone = nbcohort(env, "exchange", "check", "--fix", "--older-than=0")
    assert gone.returncode == 0 and not young.exists()
    bad = nbcohort(env, "exchange", "check", "--older-than=-1")
    assert bad.returncode == 2 and "--older-than must be 0 or more hours" in bad.stderr
    worse = nbcohort(env, "exchange", "check", "--older-than=soon")
    assert worse.returncode != 0 and "soon" in worse.stderr


def test_a_file_gone_between_listing_and_looking_is_passed_over(tmp_path: Path) -> None:
    """A publish renames an upload away while the check runs: listed, then gone."""
    from nbcohort.cohorts.services.exchange_sweep import _consider, _entries

    folder = tmp_path / "tmp"
    folder.mkdir()
    _aged(_write(folder / "upload-a.part", b"x"), 2 * DAY)
    _aged(_write(folder / "upload-b.part", b"yy"), 2 * DAY)
    listed = _entries(folder)
    (folder / "upload-a.part").unlink()  # published meanwhile
    report, found = SweepReport(), []
    for entry in listed:
        _consider(entry, True, found, report, time.time(), DAY, True)
    assert (found, report.removed, report.freed_bytes) == (["upload-b.part"], 1, 2)
