"""The exchange's blob stores (services/exchange_blobs.py), each on SQLite and PostgreSQL: an
archive over several pieces comes back byte for byte however it is read, a unit of work that
does not commit leaves nothing, an archive goes with its row, the database store reads one
row at a time, and the folder store never follows a link or trusts a name."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.models import Cohort, ExchangeBlobChunk, ExchangeFile
from nbcohort.cohorts.services.errors import NotFound
from nbcohort.cohorts.services.exchange_blobs import (
    CHUNK,
    BlobStore,
    DatabaseBlobs,
    FolderBlobs,
)
from nbcohort.cohorts.store import Store

BLOB = "0123456789abcdef" * 2 + ".tar"
DATA = os.urandom(2 * CHUNK + 12_345)  # three pieces, the last a short one


@pytest.fixture(params=["folder", "database"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    return FolderBlobs(tmp_path / "exchange") if request.param == "folder" else DatabaseBlobs()


def _upload(tmp_path: Path, data: bytes = DATA) -> Path:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    temp = tmp_path / "tmp" / "upload.part"
    temp.write_bytes(data)
    return temp


def _publish(s: Session, cohort: Cohort, blobs: BlobStore, temp: Path, blob: str = BLOB) -> int:
    """What ``exchange.publish`` does with a blob: the row first, then the archive."""
    row = ExchangeFile(
        cohort_id=cohort.id, kind="release", assignment="ps1", blob=blob,
        size=temp.stat().st_size, sha256="0" * 64, notebooks=[],
    )  # fmt: skip
    s.add(row)
    s.flush()
    blobs.put(s, blob, temp)
    return row.id


def _pieces(store: Store) -> list[tuple[int, int]]:
    with store.read() as s:
        return [
            (seq, int(n))
            for seq, n in s.execute(
                select(ExchangeBlobChunk.seq, func.length(ExchangeBlobChunk.data))
                .where(ExchangeBlobChunk.blob == BLOB)
                .order_by(ExchangeBlobChunk.seq)
            )
        ]


def test_an_archive_over_several_pieces_comes_back_byte_for_byte(
    store: Store, cohort: Cohort, blobs: BlobStore, tmp_path: Path
) -> None:
    with store.write() as s:
        _publish(s, cohort, blobs, _upload(tmp_path))
    with store.read() as s:
        assert blobs.size(s, BLOB) == len(DATA)
        with blobs.open(s, BLOB) as kept:
            assert hashlib.sha256(kept.read()).digest() == hashlib.sha256(DATA).digest()
            kept.seek(CHUNK - 3)  # across a piece's end
            assert kept.read(6) == DATA[CHUNK - 3 : CHUNK + 3]
            kept.seek(-5, os.SEEK_END)
            assert kept.read() == DATA[-5:]
        pieces = [blobs.piece(s, BLOB, n) for n in range(4)]
    assert [len(p) for p in pieces] == [CHUNK, CHUNK, 12_345, 0]
    assert b"".join(pieces) == DATA
    if blobs.kind == "database":
        assert _pieces(store) == [(0, CHUNK), (1, CHUNK), (2, 12_345)]
    else:
        assert _pieces(store) == []


def test_the_database_store_reads_one_row_at_a_time(
    store: Store, cohort: Cohort, tmp_path: Path
) -> None:
    """Reading the whole archive asks for each piece alone: never more than one row of it
    (1 MiB) comes from the database at once."""
    blobs = DatabaseBlobs()
    with store.write() as s:
        _publish(s, cohort, blobs, _upload(tmp_path))
    asked: list[str] = []

    def count(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        if "exchange_blob_chunk" in sql and "length" not in sql:
            asked.append(sql)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.read(snapshot=True) as s, blobs.open(s, BLOB) as kept:
            while kept.read(64 * 1024):
                pass
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(asked) == 3 and all("seq" in sql for sql in asked), asked


def test_a_unit_that_does_not_commit_leaves_no_piece(
    store: Store, cohort: Cohort, blobs: BlobStore, tmp_path: Path
) -> None:
    def failing_unit() -> None:
        with store.write() as s:
            _publish(s, cohort, blobs, _upload(tmp_path))
            raise RuntimeError("the disk filled")

    with pytest.raises(RuntimeError, match="the disk filled"):
        failing_unit()
    blobs.forget(BLOB)  # what the upload route does when the unit did not commit
    with store.read() as s:
        assert blobs.size(s, BLOB) is None
        assert blobs.piece(s, BLOB, 0) == b""
        with pytest.raises(NotFound, match="missing on the service"):
            blobs.open(s, BLOB)
        assert s.scalar(select(func.count()).select_from(ExchangeBlobChunk)) == 0
    assert not list(tmp_path.glob("exchange/blobs/*"))


def test_an_archive_goes_with_its_row(
    store: Store, cohort: Cohort, blobs: BlobStore, tmp_path: Path
) -> None:
    with store.write() as s:
        row_id = _publish(s, cohort, blobs, _upload(tmp_path))
    with store.write() as s:  # as a withdrawn packet goes
        blobs.delete(s, BLOB)
        s.delete(s.get_one(ExchangeFile, row_id))
    blobs.forget(BLOB)
    with store.read() as s:
        assert blobs.size(s, BLOB) is None
    assert _pieces(store) == []
    assert not list(tmp_path.glob("exchange/blobs/*"))


def test_the_databases_foreign_key_takes_the_pieces_with_the_row(
    store: Store, cohort: Cohort, tmp_path: Path
) -> None:
    """Whatever deletes an ``exchange_file`` row (a member or cohort erased, a bulk delete)
    takes its pieces too: the foreign key cascades."""
    with store.write() as s:
        _publish(s, cohort, DatabaseBlobs(), _upload(tmp_path))
    assert len(_pieces(store)) == 3
    with store.write() as s:
        s.execute(delete(ExchangeFile).where(ExchangeFile.blob == BLOB))
    assert _pieces(store) == []


@pytest.fixture
def folder(tmp_path: Path) -> FolderBlobs:
    (tmp_path / "exchange" / "blobs").mkdir(parents=True)
    return FolderBlobs(tmp_path / "exchange")


def test_the_folder_store_never_follows_a_link(
    folder: FolderBlobs, sqlite_store: Store, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not yours")
    (folder.root / "blobs" / BLOB).symlink_to(secret)
    with sqlite_store.read() as s:
        assert folder.size(s, BLOB) is None
        assert folder.piece(s, BLOB, 0) == b""
        with pytest.raises(NotFound):
            folder.open(s, BLOB)


@pytest.mark.parametrize("name", ["../../secret.txt", "x.tar", BLOB.upper(), BLOB + "/", ""])
def test_the_folder_store_opens_only_names_it_gives(
    folder: FolderBlobs, sqlite_store: Store, tmp_path: Path, name: str
) -> None:
    (tmp_path / "secret.txt").write_bytes(b"not yours")
    with sqlite_store.read() as s:
        assert folder.size(s, name) is None
        assert folder.piece(s, name, 0) == b""
        with pytest.raises(NotFound, match="missing on the service"):
            folder.open(s, name)
        with pytest.raises(NotFound):
            folder.put(s, name, _upload(tmp_path))
    assert (tmp_path / "secret.txt").read_bytes() == b"not yours"
