"""Files a widget reads or writes in the learner's folder, never through a link.

Sharing reads only a regular file named directly (a link's target may not be what the learner
meant to publish; a FIFO would hang the kernel). A library copy or a review packet is written
under a name that comes from the service: it is created as a new file (``O_CREAT|O_EXCL``, so
an existing file or link of that name is never written through or over), inside the target
folder only, beside anything already there.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath

__all__ = ["NotAFile", "folder_fd", "read_regular", "write_new"]

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class NotAFile(ValueError):
    """A path that is a link or not a regular file; the message says so for a learner."""


def read_regular(path: Path) -> bytes:
    """The bytes of ``path`` if it is a regular file itself, not a link to one."""
    try:
        fd = os.open(path, _READ)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotAFile(
                f"{path.name} is a link: share the file itself, by its own name"
            ) from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotAFile(f"{path.name} is not a file (a folder, pipe or device): share a file")
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read()
    finally:
        os.close(fd)


@contextmanager
def folder_fd(folder: Path, parts: tuple[str, ...] = ()) -> Iterator[int]:
    """``folder`` (made if missing), then each of ``parts`` below it made and entered without
    following a link: a link among ``parts`` raises NotAFile instead of leading elsewhere."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts:
            with suppress(FileExistsError):
                os.mkdir(part, dir_fd=fd)
            try:
                child = os.open(part, _DIR, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise NotAFile(
                        f"{part} in {folder} is a link or a file, not a folder"
                    ) from None
                raise
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _candidates(name: str) -> Iterator[str]:
    path = PurePosixPath(name)
    yield name
    n = 2
    while True:
        yield f"{path.stem} ({n}){path.suffix}"
        n += 1


def write_new(dir_fd: int, name: str, content: bytes, *, reuse_same: bool = False) -> str:
    """Write ``content`` as a new file named ``name`` in the folder open at ``dir_fd``, or
    ``name (2).ext``... when that name is taken: nothing is overwritten and no link is
    followed. With ``reuse_same``, a regular file already holding ``content`` is kept as it
    is. Returns the name used."""
    if name in ("", ".", "..") or "/" in name or "\0" in name:
        raise ValueError(f"unsafe file name: {name!r}")
    for candidate in _candidates(name):
        try:
            fd = os.open(candidate, _NEW, 0o644, dir_fd=dir_fd)
        except FileExistsError:
            if reuse_same and _holds(dir_fd, candidate, content):
                return candidate
            continue
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def _holds(dir_fd: int, name: str, content: bytes) -> bool:
    """Whether ``name`` is a regular file (not a link) whose bytes are ``content``."""
    try:
        fd = os.open(name, _READ, dir_fd=dir_fd)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        return stat.S_ISREG(st.st_mode) and st.st_size == len(content) and handle.read() == content
