"""The exchange's one archive format, vetted member by member.

An exchange archive is an uncompressed POSIX tar (uncompressed: what is unpacked is never
larger than what was uploaded, so the upload limit bounds both; files that declare more than
the archive holds, sparse files among them, are refused). Only plain files and folders
pass, no name both a file and a folder; every name is relative, without ``.``/``..`` parts,
backslashes or invisible characters. Links (symbolic or hard), devices, FIFOs and anything
else are refused with the member's name, so nothing a learner packs can point outside the
folder it lands in.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from nbcohort.cohorts.services.errors import Invalid

__all__ = ["MAX_MEMBERS", "extract_archive", "pack_folder", "vet_archive"]

MAX_MEMBERS = 10_000
_MAX_DEPTH = 32
_MAX_NAME = 1000
_CHUNK = 1 << 20


def _shown(name: str) -> str:
    out = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in name)
    return out if len(out) <= 80 else out[:79] + "…"


def _name_problem(name: str) -> str | None:
    if not name or len(name) > _MAX_NAME:
        return "a name that is empty or too long"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if "\\" in name or not name.isprintable():
        return "a backslash or an invisible character in its name"
    parts = PurePosixPath(name).parts
    if any(part in ("..", ".") for part in name.rstrip("/").split("/")):
        return "a '..' or '.' part (a path out of the folder)"
    if len(parts) > _MAX_DEPTH or any(len(p.encode()) > 255 for p in parts):
        return "folders nested too deep or a part over 255 bytes"
    return None


def _kind(member: tarfile.TarInfo) -> str | None:
    if member.issparse():  # a few bytes that unpack to a declared size of any length
        return "a sparse file"
    if member.isfile() or member.isdir():
        return None
    if member.issym():
        return "a symbolic link"
    if member.islnk():
        return "a hard link"
    if member.ischr() or member.isblk():
        return "a device"
    if member.isfifo():
        return "a FIFO"
    return "something that is neither a file nor a folder"


def vet_archive(path: Path | BinaryIO) -> list[str]:
    """Refuse (``Invalid``, naming the member) an archive (a file, or one open for reading)
    that is not a tar of plain files and folders with safe relative names; return the
    notebooks at its top level."""
    try:
        with _tar(path) as tar:
            seen: set[str] = set()
            files: set[str] = set()
            parents: set[str] = set()  # every folder a member's name passes through
            declared = 0  # a stored archive read back was measured when it came in
            limit = path.stat().st_size if isinstance(path, Path) else None
            notebooks = []
            for count, member in enumerate(tar, start=1):
                if count > MAX_MEMBERS:
                    raise Invalid(f"the archive holds more than {MAX_MEMBERS} files", field="body")
                name = member.name
                problem = _name_problem(name)
                if problem is None:
                    problem = _kind(member)
                if problem is not None:
                    raise Invalid(
                        f"the archive's member {_shown(name)!r} is refused: it is {problem}",
                        field="body",
                    )
                clean = str(PurePosixPath(name))
                if clean in seen:
                    raise Invalid(f"the archive names {_shown(clean)!r} twice", field="body")
                seen.add(clean)
                above = [str(p) for p in PurePosixPath(clean).parents][:-1]  # without "."
                clash = next((p for p in above if p in files), None)
                if clash is None and member.isfile() and clean in parents:
                    clash = clean
                if clash is not None:
                    raise Invalid(
                        f"the archive holds {_shown(clash)!r} both as a file and as a folder",
                        field="body",
                    )
                parents.update(above)
                if member.isfile():
                    files.add(clean)
                    declared += member.size
                    if limit is not None and declared > limit:  # never larger unpacked
                        raise Invalid("the body is not a whole tar archive: its files "
                                      "declare more bytes than it holds", field="body")  # fmt: skip
                if member.isfile() and "/" not in clean and clean.endswith(".ipynb"):
                    notebooks.append(clean[: -len(".ipynb")])
    except (tarfile.TarError, EOFError, UnicodeError) as exc:
        raise Invalid(f"the body is not a whole tar archive: {exc}", field="body") from None
    return sorted(notebooks)


def _tar(source: Path | BinaryIO) -> tarfile.TarFile:
    if isinstance(source, Path):
        return tarfile.open(source, mode="r:")
    return tarfile.open(fileobj=source, mode="r:")


def extract_archive(path: Path, dest: Path) -> None:
    """Unpack the vetted archive at ``path`` into the new folder ``dest``: into a hidden
    sibling first, renamed into place once whole, so ``dest`` appears complete or not at all."""
    vet_archive(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                target = partial / PurePosixPath(member.name)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None  # a regular file (vetted)
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                with src, os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
        os.rename(partial, dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def pack_folder(src: Path, out: Path, ignore: tuple[str, ...] = ()) -> None:
    """Write the plain files and folders under ``src`` to the tar ``out`` (names relative to
    ``src``; ``ignore``: nbgrader's name globs). A link inside ``src`` is an error, never
    followed."""
    import fnmatch

    with tarfile.open(out, mode="w:", format=tarfile.PAX_FORMAT) as tar:
        for folder, dirs, files in os.walk(src):
            dirs[:] = sorted(d for d in dirs if not any(fnmatch.fnmatch(d, g) for g in ignore))
            rel = Path(folder).relative_to(src)
            for name in [*dirs, *sorted(files)]:
                if any(fnmatch.fnmatch(name, g) for g in ignore):
                    continue
                full = Path(folder, name)
                if full.is_symlink():
                    raise Invalid(f"{rel / name} is a link; links are not sent", field="path")
                if full.is_dir() or full.is_file():
                    tar.add(full, arcname=str(rel / name), recursive=False)
