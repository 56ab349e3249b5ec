"""A learner's files, looked at and copied without ever following a link they control.

A submission is a folder a learner wrote. It may hold symbolic links (to ``/etc``, to another
learner's work), hard links to files elsewhere, FIFOs that block a reader forever, devices or
sockets, and names built to confuse a terminal. ``inspect`` refuses such a folder with a reason
in words; ``copy_tree`` copies a folder that passes, and ``read_file`` reads one file. All three
work relative to open folder descriptors with ``O_NOFOLLOW``, and the copy checks that every
file it opens is the very inode it inspected, so a learner who swaps a file for a link between
the check and the copy is refused, never followed.

Reasons name what the learner did (their file's name, a link's own text), escaped and
truncated by ``shown``; never the names or contents of anything outside their folder.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import shutil
import stat
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeAlias

__all__ = ["CopyRules", "Refused", "copy_tree", "inspect", "read_file", "shown"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in after the check must not block the open; O_NOCTTY: a terminal
# device must not become ours. Neither changes how a regular file reads.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_DEPTH = 32
_CHUNK = 1 << 20


class Refused(Exception):
    """Files that are not collected; the message says why, naming only what the learner did."""


@dataclass(frozen=True)
class CopyRules:
    """What a copy leaves out, as nbgrader's ``CourseDirectory`` options say: ``ignore`` name
    globs (files and folders), ``include`` globs (files only, when given), files over
    ``max_file_size`` kB; a folder over ``max_dir_size`` kB is refused as a whole."""

    ignore: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    max_file_size: float | None = None
    max_dir_size: float | None = None
    groupshared: bool = False

    def skips(self, name: str, node: _Node) -> bool:
        if any(fnmatch.fnmatch(name, glob) for glob in self.ignore):
            return True
        if isinstance(node, _Dir):
            return False
        if self.include and not any(fnmatch.fnmatch(name, glob) for glob in self.include):
            return True
        return bool(self.max_file_size) and node.st.st_size > 1000 * (self.max_file_size or 0)


@dataclass
class _File:
    st: os.stat_result


@dataclass
class _Dir:
    st: os.stat_result
    children: dict[str, _Node] = field(default_factory=dict)


_Node: TypeAlias = _File | _Dir


def shown(text: str, limit: int = 80) -> str:
    """``text`` safe to print and store: control and other invisible characters escaped (a
    hostile name cannot drive a terminal), at most ``limit`` characters."""
    out = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape", "backslashreplace").decode()
        for ch in text
    )
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "something that is neither a file nor a folder"


@contextmanager
def _opened(
    name: str | Path, flags: int, dir_fd: int | None = None, mode: int = 0o600
) -> Iterator[int]:
    fd = os.open(name, flags, mode, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _scan(fd: int, rel: str, here: _Dir, depth: int) -> None:
    """Fill ``here`` with what the folder open at ``fd`` holds; refuse anything but plain
    files and folders. Nothing is followed: every name is looked at with lstat."""
    if depth > _MAX_DEPTH:
        raise Refused(f"folders nested more than {_MAX_DEPTH} deep: {shown(rel)}")
    for name in sorted(os.listdir(fd)):
        path = f"{rel}/{name}" if rel else name
        st = os.stat(name, dir_fd=fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(name, dir_fd=fd)
            raise Refused(
                f"contains a link: {shown(path)} -> {shown(target)}; links are not collected"
            )
        if stat.S_ISREG(st.st_mode):
            here.children[name] = _File(st)
        elif stat.S_ISDIR(st.st_mode):
            with _opened(name, _DIR_FLAGS, fd) as child:
                sub = _Dir(os.fstat(child))
                if not _same(sub.st, st):
                    raise Refused(f"{shown(path)} changed while it was being inspected")
                here.children[name] = sub
                _scan(child, path, sub, depth + 1)
        else:
            raise Refused(
                f"contains {_kind(st.st_mode)}: {shown(path)}; only files and folders are collected"
            )


def _files(here: _Dir, rel: str = "") -> Iterator[tuple[str, _File]]:
    for name, node in here.children.items():
        path = f"{rel}/{name}" if rel else name
        if isinstance(node, _Dir):
            yield from _files(node, path)
        else:
            yield path, node


def _inspect_fd(fd: int, what: str) -> _Dir:
    st = os.fstat(fd)
    if not stat.S_ISDIR(st.st_mode):
        raise Refused(f"{what} is not a folder")
    tree = _Dir(st)
    _scan(fd, "", tree, 0)
    files = list(_files(tree))
    names = Counter((f.st.st_dev, f.st.st_ino) for _p, f in files)
    for path, f in files:
        outside = f.st.st_nlink - names[(f.st.st_dev, f.st.st_ino)]
        if outside > 0:
            raise Refused(
                f"contains a hard link: {shown(path)} has {outside} other name(s) outside "
                "the submission; hard links are not collected"
            )
    return tree


def _open_root(folder: Path, what: str) -> int:
    """The folder, opened without following it if it is itself a link."""
    try:
        return os.open(folder, _DIR_FLAGS)
    except OSError as exc:
        try:
            st = os.lstat(folder)
        except OSError:
            raise Refused(f"{what} cannot be read: {exc.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(folder)
            raise Refused(
                f"{what} is itself a link (-> {shown(target)}); links are not collected"
            ) from None
        if not stat.S_ISDIR(st.st_mode):
            raise Refused(f"{what} is not a folder") from None
        raise Refused(f"{what} cannot be read: {exc.strerror}") from None


def inspect(folder: Path, *, what: str = "the submission") -> None:
    """Refuse ``folder`` (``Refused``, with the reason) if it is a link or not a folder, or
    holds a symbolic link, a hard link to a file outside it, a FIFO, a device or a socket."""
    fd = _open_root(folder, what)
    try:
        _inspect_fd(fd, what)
    except OSError as exc:
        raise Refused(f"{what} cannot be read: {exc.strerror}") from None
    finally:
        os.close(fd)


def read_file(path: Path) -> bytes:
    """The bytes of one regular file, refused if the file itself is a link or anything else
    than a regular file (a FIFO is never waited on)."""
    try:
        with _opened(path, _FILE_FLAGS) as fd:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise Refused(f"{shown(path.name)} is {_kind(st.st_mode)}, not a file")
            return _read(fd, st.st_size, path.name)
    except OSError as exc:
        if os.path.islink(path):
            raise Refused(f"{shown(path.name)} is a link; links are not read") from None
        raise Refused(f"{shown(path.name)} cannot be read: {exc.strerror}") from None


def _read(fd: int, size: int, name: str) -> bytes:
    """Exactly the ``size`` bytes fstat gave: a file that grows meanwhile is refused."""
    chunks, left = [], size + 1
    while left > 0 and (chunk := os.read(fd, min(left, _CHUNK))):
        chunks.append(chunk)
        left -= len(chunk)
    if left != 1:
        raise Refused(f"{shown(name)} changed while it was being read")
    return b"".join(chunks)


def copy_tree(src: Path, dest: Path, rules: CopyRules = CopyRules()) -> None:
    """Copy the folder ``src`` to ``dest`` (which must not exist) after ``inspect``'s checks,
    leaving out what ``rules`` skip. The copy is written into a temporary folder beside
    ``dest`` and renamed into place: ``dest`` appears whole or not at all. Raises ``Refused``
    for a folder that fails the checks, is too big, or changes or cannot be read meanwhile."""
    dest = Path(dest)
    if os.path.lexists(dest):
        raise FileExistsError(f"{dest}: already exists")
    root = _open_root(Path(src), "the submission")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
        try:
            _copy_root(root, tmp, rules)
            os.rename(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    finally:
        os.close(root)


def _copy_root(root: int, tmp: Path, rules: CopyRules) -> None:
    try:
        tree = _inspect_fd(root, "the submission")
        total = sum(f.st.st_size for _p, f in _files(tree))
        if rules.max_dir_size and total > 1000 * rules.max_dir_size:
            raise Refused(
                f"the submission is {total} bytes, over the {int(1000 * rules.max_dir_size)} "
                "bytes of CourseDirectory.max_dir_size"
            )
        with _opened(tmp, _DIR_FLAGS) as out:
            _copy(root, out, "", tree, rules)
            _finish(out, tree.st, rules, directory=True)
    except OSError as exc:  # a file vanished, a folder is unreadable...: that submission only
        name = shown(exc.filename) if isinstance(exc.filename, str) else "a file"
        if exc.errno == errno.ELOOP:
            why = f"{name} became a link while it was copied; links are not collected"
            raise Refused(why) from None
        raise Refused(f"the submission cannot be copied: {exc.strerror} ({name})") from None


def _copy(src: int, out: int, rel: str, here: _Dir, rules: CopyRules) -> None:
    for name, node in here.children.items():
        path = f"{rel}/{name}" if rel else name
        if rules.skips(name, node):
            continue
        if isinstance(node, _Dir):
            with _opened(name, _DIR_FLAGS, src) as child:
                if not _same(os.fstat(child), node.st):
                    raise Refused(f"{shown(path)} changed while it was being copied")
                os.mkdir(name, 0o700, dir_fd=out)
                with _opened(name, _DIR_FLAGS, out) as made:
                    _copy(child, made, path, node, rules)
                    _finish(made, node.st, rules, directory=True)
        else:
            _copy_file(src, out, name, path, node.st, rules)


def _copy_file(
    src: int, out: int, name: str, path: str, st: os.stat_result, rules: CopyRules
) -> None:
    """One file, opened without following a link and checked to be the inode inspected;
    exactly the bytes inspected are copied (a file that grows meanwhile is refused)."""
    with _opened(name, _FILE_FLAGS, src) as fd, _opened(name, _NEW_FILE_FLAGS, out) as made:
        now = os.fstat(fd)
        if not (stat.S_ISREG(now.st_mode) and _same(now, st) and now.st_nlink == st.st_nlink):
            raise Refused(f"{shown(path)} changed while it was being copied")
        left = st.st_size + 1
        while left > 0 and (chunk := os.read(fd, min(left, _CHUNK))):
            left -= len(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(made, view) :]
        if left != 1:
            raise Refused(f"{shown(path)} changed while it was being copied")
        _finish(made, st, rules, directory=False)


def _finish(fd: int, st: os.stat_result, rules: CopyRules, *, directory: bool) -> None:
    """The source's permission bits (never set-id; always usable by whoever collects) and
    times, as nbgrader's copy keeps them; group-writable when the course is groupshared."""
    mode = stat.S_IMODE(st.st_mode) & 0o777 | (0o700 if directory else 0o600)
    if rules.groupshared:
        mode |= 0o2770 if directory else 0o660
    os.fchmod(fd, mode)
    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
