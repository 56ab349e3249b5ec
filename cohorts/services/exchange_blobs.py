"""Where the exchange's archives live (``ExchangeSettings.store``): a folder on the service's
disk, or the community database, behind one small interface every reader goes through.

- ``FolderBlobs``: each archive a tar file ``<root>/blobs/<blob>``. ``put`` renames the
  upload into place inside the unit of work; the caller ``forget``s it if the unit does not
  commit. Only names the service gives (32 hex digits + ``.tar``) are opened, never
  following a link, and only a regular file.
- ``DatabaseBlobs``: each archive as ordered 1 MiB rows of ``exchange_blob_chunk``, inserted
  one at a time in the unit of work that adds the ``exchange_file`` row, so a unit that does
  not commit leaves no piece, and several replicas share nothing on disk. Reads go one piece
  at a time: an archive is never whole in memory.

Both are used inside a unit of work (a session); ``forget`` runs after one.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import stat
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from nbcohort.cohorts.config_exchange import ExchangeSettings
from nbcohort.cohorts.models import ExchangeBlobChunk
from nbcohort.cohorts.services.errors import NotFound

__all__ = ["CHUNK", "BlobStore", "DatabaseBlobs", "FolderBlobs", "blob_store"]

CHUNK = 1 << 20  # one piece: a database row, one read, one write to a client
NAME = re.compile(r"[0-9a-f]{32}\.tar")  # the only names the service gives its archives
_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK | os.O_CLOEXEC


def _missing(blob: str) -> NotFound:
    return NotFound(f"the archive {blob[:40]!r} is missing on the service; tell your facilitator")


class BlobStore(ABC):
    """An archive store: ``put`` from a file, ``open`` to read, ``piece`` to stream, ``size``,
    ``delete`` (each in a unit of work) and ``forget`` (after one)."""

    kind = ""

    @abstractmethod
    def put(self, session: Session, blob: str, source: Path) -> None:
        """Keep the file ``source`` as ``blob``, in the unit of work that adds its
        ``exchange_file`` row (after that row is flushed)."""

    @abstractmethod
    def open(self, session: Session, blob: str) -> BinaryIO:
        """The archive, seekable, read a piece at a time (NotFound if it is missing)."""

    @abstractmethod
    def piece(self, session: Session, blob: str, seq: int) -> bytes:
        """The ``seq``-th CHUNK of the archive (b"" past its end or if it is missing): what a
        download sends per unit of work, holding no connection while the client reads."""

    @abstractmethod
    def size(self, session: Session, blob: str) -> int | None:
        """The archive's size in bytes; None if it is missing."""

    @abstractmethod
    def delete(self, session: Session, blob: str) -> None:
        """Drop the archive, in the unit of work that deletes its row."""

    @abstractmethod
    def forget(self, blob: str) -> None:
        """After a unit of work: remove what it left outside the database (a ``put`` whose
        unit did not commit, a ``delete`` whose unit did)."""


class FolderBlobs(BlobStore):
    """Archives as files under ``<root>/blobs``."""

    kind = "folder"

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, blob: str) -> Path:
        """Where ``blob`` lives; a name the service would not give is refused."""
        if not NAME.fullmatch(blob):
            raise _missing(blob)
        return self.root / "blobs" / blob

    def put(self, session: Session, blob: str, source: Path) -> None:
        final = self.path(blob)
        final.parent.mkdir(parents=True, exist_ok=True)
        if source.exists():  # a unit run again (a lost connection) finds it renamed already
            os.rename(source, final)

    def _fd(self, blob: str) -> int | None:
        try:
            fd = os.open(self.path(blob), _READ)
        except (OSError, NotFound):  # gone, a link (ELOOP), a name not ours
            return None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return None
        return fd

    def open(self, session: Session, blob: str) -> BinaryIO:
        fd = self._fd(blob)
        if fd is None:
            raise _missing(blob)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    def piece(self, session: Session, blob: str, seq: int) -> bytes:
        fd = self._fd(blob)
        if fd is None:
            return b""
        try:
            return os.pread(fd, CHUNK, seq * CHUNK)
        finally:
            os.close(fd)

    def size(self, session: Session, blob: str) -> int | None:
        fd = self._fd(blob)
        if fd is None:
            return None
        try:
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    def delete(self, session: Session, blob: str) -> None:
        pass  # the file goes in ``forget``, once the row's deletion is committed

    def forget(self, blob: str) -> None:
        with contextlib.suppress(NotFound):
            self.path(blob).unlink(missing_ok=True)


class DatabaseBlobs(BlobStore):
    """Archives as ``exchange_blob_chunk`` rows in the community database."""

    kind = "database"

    def put(self, session: Session, blob: str, source: Path) -> None:
        with source.open("rb") as src:
            seq = 0
            while data := src.read(CHUNK):  # one row at a time: no identity map, no copy kept
                session.execute(insert(ExchangeBlobChunk), {"blob": blob, "seq": seq, "data": data})
                seq += 1

    def open(self, session: Session, blob: str) -> BinaryIO:
        size = self.size(session, blob)
        if size is None:
            raise _missing(blob)
        return io.BufferedReader(_ChunkReader(self, session, blob, size), CHUNK)

    def piece(self, session: Session, blob: str, seq: int) -> bytes:
        data = session.scalar(
            select(ExchangeBlobChunk.data).where(
                ExchangeBlobChunk.blob == blob, ExchangeBlobChunk.seq == seq
            )
        )
        return bytes(data) if data is not None else b""

    def size(self, session: Session, blob: str) -> int | None:
        count, total = session.execute(
            select(
                func.count(), func.coalesce(func.sum(func.length(ExchangeBlobChunk.data)), 0)
            ).where(ExchangeBlobChunk.blob == blob)
        ).one()
        return int(total) if count else None

    def delete(self, session: Session, blob: str) -> None:
        session.execute(delete(ExchangeBlobChunk).where(ExchangeBlobChunk.blob == blob))

    def forget(self, blob: str) -> None:
        pass  # the unit's commit or rollback settled it: nothing lives outside the database


class _ChunkReader(io.RawIOBase):
    """A seekable reader over an archive's rows: one piece in memory at a time."""

    def __init__(self, store: DatabaseBlobs, session: Session, blob: str, size: int) -> None:
        self._store, self._session, self._blob, self._size = store, session, blob, size
        self._pos = 0
        self._seq = -1
        self._data = b""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._pos >= self._size:
            return 0
        seq, start = divmod(self._pos, CHUNK)
        if seq != self._seq:
            self._data, self._seq = self._store.piece(self._session, self._blob, seq), seq
            if not self._data:
                raise OSError(f"the archive {self._blob} lost its piece {seq} while read")
        n = min(len(buffer), len(self._data) - start)
        buffer[:n] = self._data[start : start + n]
        self._pos += n
        return n


def blob_store(settings: ExchangeSettings, data_dir: str) -> BlobStore:
    """The archive store ``ExchangeSettings.store`` names (the folder's root from
    ``settings.folder(data_dir)``)."""
    if settings.store == "database":
        return DatabaseBlobs()
    return FolderBlobs(Path(settings.folder(data_dir)))
