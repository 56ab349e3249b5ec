"""Anonymized review packets: a learner's nbgrader submission, copied for each of its reviewers
with the author's identity removed. Packets hold the author's files as submitted, never
re-executed; free-text mentions of the author in sources are reported, not edited.

Cell ids: nbformat 4.5 requires them, so they stay, but a learner's own cells get ids that
Jupyter chose at random, and a random id links a packet to the author's notebook once it is
shared. So an id is kept only when the released notebook of the same name has it (the
instructor's cells: the same in every packet, and reviews can anchor to them); every other id
is replaced by ``cell-<index>``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath

import nbformat
from nbformat.reader import NotJSONError

from nbcohort.exchange._identity import PLACEHOLDER, Identity, Mention
from nbcohort.exchange._identity import Matcher as _Matcher
from nbcohort.exchange._identity import matcher as _matcher
from nbcohort.exchange._identity import mentions as _mentions
from nbcohort.exchange._identity import scrub_output as _scrub_output
from nbcohort.exchange._identity import scrub_value as _scrub_value
from nbcohort.exchange.learner_files import Refused, read_file, shown

__all__ = [
    "Identity",
    "Mention",
    "PackedSubmission",
    "PacketError",
    "anonymize_notebook",
    "pack_submission",
    "write_packets",
]

_KEEP_NB_METADATA = ("kernelspec", "language_info")
_KEEP_CELL_METADATA = ("nbgrader", "tags", "collapsed", "scrolled", "jupyter")
_SKIP_DIRS = frozenset({".ipynb_checkpoints", "__pycache__"})
_SKIP_TOP_FILES = frozenset({"timestamp.txt", "submission_secret.txt"})  # nbgrader's own


class PacketError(ValueError):
    """A submission that cannot be packed; the message names the file and the reason."""


@dataclass
class PackedSubmission:
    """One submission ready to copy into packets: packet path -> bytes, plus what the
    instructor should know (mentions left in sources, outputs removed, files renamed)."""

    files: dict[str, bytes]
    mentions: list[Mention] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _size(nbytes: float) -> str:
    if nbytes >= 1_000_000:
        return f"{nbytes / 1_000_000:.1f} MB"
    return f"{nbytes / 1000:.1f} kB" if nbytes >= 1000 else f"{int(nbytes)} bytes"


# -- notebooks ----------------------------------------------------------------------------------
# nbgrader's header cell: NAME = "..." and COLLABORATORS = "..." (any quotes, a prefix allowed)
_HEADER = re.compile(
    r"""^([ \t]*(?:NAME|COLLABORATORS)[ \t]*=[ \t]*)[rRuU]?"""
    r'''(?:"""(?:.|\n)*?"""|\'\'\'(?:.|\n)*?\'\'\'|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')''',
    re.MULTILINE,
)
_EMPTY_VALUES = frozenset({'""', "''", '""""""', "''''''"})


def _blank_header(source: str) -> tuple[str, bool]:
    """Blank the values of nbgrader's ``NAME = ...`` and ``COLLABORATORS = ...`` lines."""
    changed = False

    def sub(hit: re.Match[str]) -> str:
        nonlocal changed
        value = hit.group()[len(hit.group(1)) :].lstrip("rRuU")
        changed = changed or value not in _EMPTY_VALUES
        return hit.group(1) + '""'

    return _HEADER.sub(sub, source), changed


def _parse_notebook(raw: bytes, filename: str) -> nbformat.NotebookNode:
    """nbformat 4 notebook from bytes, or PacketError naming the file and what is wrong."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start : exc.start + 1].hex()
        raise PacketError(
            f"{filename}: not UTF-8 text (byte 0x{bad} at offset {exc.start})"
        ) from None
    try:
        nb = nbformat.reader.reads(text)
    except NotJSONError:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise PacketError(
                f"{filename}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
        raise PacketError(f"{filename}: not valid JSON") from None
    except AttributeError:  # nbformat asked a list or a string for its version
        raise PacketError(f"{filename}: not a valid notebook: not a JSON object") from None
    except Exception as exc:  # nbformat raises several kinds for JSON that is no notebook
        raise PacketError(f"{filename}: not a valid notebook: {_first_line(exc)}") from None
    try:
        nb = nbformat.convert(nb, 4)
        nbformat.validate(nb)
    except Exception as exc:
        raise PacketError(f"{filename}: not a valid notebook: {_first_line(exc)}") from None
    return nb


def _first_line(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 300 else text[:297] + "..."


def _note_output(size: int) -> nbformat.NotebookNode:
    text = f"[output removed from the packet: {_size(size)}]"
    return nbformat.v4.new_output("display_data", data={"text/plain": text})


def anonymize_notebook(
    raw: bytes,
    identity: Identity,
    *,
    filename: str,
    max_output_bytes: int = 1_000_000,
    keep_cell_ids: Collection[str] = (),
) -> tuple[bytes, list[Mention], list[str]]:
    """The notebook with the author's identity removed, the mentions left in its sources and
    notes for the instructor. ``keep_cell_ids``: ids to keep (the released notebook's)."""
    nb = _parse_notebook(raw, filename)
    m = _matcher(identity)
    mentions: list[Mention] = []
    notes: list[str] = []
    nb.metadata = nbformat.from_dict(
        {k: _scrub_value(nb.metadata[k], m) for k in _KEEP_NB_METADATA if k in nb.metadata}
    )
    keep = set(keep_cell_ids)
    used: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell.metadata = nbformat.from_dict(
            {k: cell.metadata[k] for k in _KEEP_CELL_METADATA if k in cell.metadata}
        )
        if "id" in cell:
            cell.id = _cell_id(cell.id, index, keep, used)
        if cell.cell_type == "code":
            cell.source, blanked = _blank_header(cell.source)
            if blanked:
                notes.append(f"{filename} cell {index}: NAME/COLLABORATORS blanked")
            outputs = []
            for out in cell.outputs:
                size = len(json.dumps(out, ensure_ascii=False).encode("utf-8"))
                if size > max_output_bytes:
                    outputs.append(_note_output(size))
                    notes.append(
                        f"{filename} cell {index}: output removed "
                        f"({_size(size)} > {_size(max_output_bytes)})"
                    )
                else:
                    _scrub_output(out, m)
                    outputs.append(out)
            cell.outputs = outputs
        mentions += _mentions(cell.source, m, filename, index)
        for tag in cell.metadata.get("tags", []):
            mentions += _mentions(str(tag), m, filename, index)
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:  # our edits broke it: never hand that to a reviewer
        raise PacketError(f"{filename}: anonymized notebook is invalid: {exc}") from None
    # Compact JSON with sorted keys: deterministic, and encoded by json's C encoder (an
    # indented dump, as nbformat.writes does, runs the pure-Python encoder, slower than the
    # whole anonymisation). Jupyter reads it as is and re-indents it on the first save.
    text = json.dumps(nb, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8"), mentions, notes


def _cell_id(old: str, index: int, keep: set[str], used: set[str]) -> str:
    """The released notebook's ids stay; the others become ``cell-<index>`` (unique)."""
    new = old if old in keep and old not in used else f"cell-{index}"
    n = 1
    while new in used or (new != old and new in keep):
        n += 1
        new = f"cell-{index}-{n}"
    used.add(new)
    return new


# -- submissions --------------------------------------------------------------------------------
def _walk(folder: Path, notes: list[str]) -> list[PurePosixPath]:
    """The submission's regular files, sorted, without checkpoints, caches, nbgrader's
    timestamp and secret. Behind the snapshot's own checks, links (which may point anywhere)
    and FIFOs, devices or sockets (a FIFO blocks its reader) are noted and never opened."""
    found = []
    for top, dirs, files in os.walk(folder):
        here = Path(top)
        rel_top = PurePosixPath(here.relative_to(folder).as_posix())
        for d in list(dirs):
            if d in _SKIP_DIRS or (here / d).is_symlink():
                dirs.remove(d)
                if d not in _SKIP_DIRS:
                    notes.append(f"{shown(str(rel_top / d))}: symbolic link left out")
        dirs.sort()
        for name in sorted(files):
            rel = rel_top / name
            if name.endswith(".pyc") or (rel_top == PurePosixPath(".") and name in _SKIP_TOP_FILES):
                continue
            mode = (here / name).lstat().st_mode
            if not stat.S_ISREG(mode):
                what = "symbolic link" if stat.S_ISLNK(mode) else "not a regular file"
                notes.append(f"{shown(str(rel))}: {what} left out")
                continue
            found.append(rel)
    return found


def _packet_path(rel: PurePosixPath, m: _Matcher) -> str:
    if m.filename is None:
        return rel.as_posix()
    return "/".join(m.filename.sub(PLACEHOLDER, part) for part in rel.parts)


@lru_cache(maxsize=32)
def _release_cell_ids(path: Path, mtime_ns: int, size: int) -> frozenset[str]:
    try:
        cells = json.loads(path.read_bytes()).get("cells", [])
        return frozenset(c["id"] for c in cells if isinstance(c, dict) and "id" in c)
    except (OSError, ValueError, AttributeError, TypeError):
        return frozenset()


def _released(release: Path | None, rel: PurePosixPath) -> Path | None:
    if release is None:
        return None
    path = Path(release).joinpath(*rel.parts)
    return path if path.is_file() else None


def _same_bytes(path: Path | None, raw: bytes) -> bool:
    return path is not None and path.stat().st_size == len(raw) and path.read_bytes() == raw


def _scan_text_file(raw: bytes, file: str, m: _Matcher, limit: int) -> list[Mention]:
    if len(raw) > limit or b"\0" in raw[:8192]:
        return []
    try:
        return _mentions(raw.decode("utf-8"), m, file, -1)
    except UnicodeDecodeError:
        return []


def pack_submission(
    folder: Path,
    identity: Identity,
    *,
    release: Path | None = None,
    max_output_bytes: int = 1_000_000,
    max_packet_bytes: int = 50_000_000,
) -> PackedSubmission:
    """A submission folder, anonymized, ready for ``write_packets``. Notebooks are anonymized
    (always included); other files are copied as they are, except those byte-identical to
    the file at the same path in ``release`` (reviewers have those already). Names holding
    the author's identity are renamed. Raises PacketError for a bad notebook or a packet
    larger than ``max_packet_bytes``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PacketError(f"{folder}: no such submission folder")
    if release is not None and not Path(release).is_dir():
        raise PacketError(f"{release}: no such release folder")
    m = _matcher(identity)
    packed = PackedSubmission(files={})
    for rel in _walk(folder, packed.notes):
        try:
            raw = read_file(folder / rel)
        except Refused as exc:  # swapped since _walk looked
            raise PacketError(str(exc)) from None
        target = _packet_path(rel, m)
        if target in packed.files:  # two names that differed only by the identity
            stem, dot, ext = target.rpartition(".") if "." in rel.name else (target, "", "")
            n = 2
            while (target := f"{stem}-{n}{dot}{ext}") in packed.files:
                n += 1
        if target != rel.as_posix():
            packed.notes.append(f"{target}: renamed (its name held the author's identity)")
        released = _released(release, rel)
        if rel.suffix == ".ipynb":
            ids: frozenset[str] = frozenset()  # the released notebook's cell ids
            if released is not None:
                st = released.stat()
                ids = _release_cell_ids(released, st.st_mtime_ns, st.st_size)
            data, mentions, notes = anonymize_notebook(
                raw, identity, filename=target, keep_cell_ids=ids, max_output_bytes=max_output_bytes
            )
            packed.mentions += mentions
            packed.notes += notes
        else:
            if _same_bytes(released, raw):
                packed.notes.append(f"{target}: same as the release, left out")
                continue
            packed.mentions += _scan_text_file(raw, target, m, max_output_bytes)
            data = raw
        packed.files[target] = data
    total = sum(len(v) for v in packed.files.values())
    if total > max_packet_bytes:
        biggest = sorted(packed.files.items(), key=lambda kv: -len(kv[1]))[:3]
        names = ", ".join(f"{k} ({_size(len(v))})" for k, v in biggest)
        raise PacketError(
            f"{folder}: packet of {_size(total)} is over the {_size(max_packet_bytes)} limit; "
            f"biggest files: {names}"
        )
    return packed


# -- packets ------------------------------------------------------------------------------------
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _safe_parts(rel: str) -> tuple[str, ...]:
    path = PurePosixPath(rel)
    if path.is_absolute() or "\\" in rel or not path.parts or {"..", "."} & set(rel.split("/")):
        raise ValueError(f"unsafe path in a packet: {rel!r}")
    return path.parts


def write_packets(
    dest: Path,
    packed: Mapping[str, PackedSubmission],
    pairs: Sequence[tuple[str, str]],
    *,
    prefix: str,
) -> dict[tuple[str, str], str]:
    """One packet folder per (reviewer, author) pair under ``dest``, named ``<prefix>-<code>``
    with a random code; returns pair -> folder name. All or nothing: the packets are built in
    a temporary folder beside ``dest`` (readable by its owner only) that is renamed to
    ``dest`` at the end; on any error nothing is left behind. ``dest`` must not exist or be
    an empty folder."""
    dest = Path(dest)
    if prefix and not _PREFIX.fullmatch(prefix):
        raise ValueError(f"packet prefix {prefix!r}: use letters, digits, '.', '_' or '-'")
    seen: set[tuple[str, str]] = set()
    for pair in pairs:
        author = pair[1]  # (author, author) is allowed: a self-assessment packet
        if author not in packed:
            raise ValueError(f"no packed submission for author {author!r}")
        if pair in seen:
            raise ValueError(f"pair {pair!r} given twice")
        seen.add(pair)
        for rel in packed[author].files:
            _safe_parts(rel)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FileExistsError(f"{dest}: already exists and is not an empty folder")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        names: dict[tuple[str, str], str] = {}
        taken: set[str] = set()
        for pair in pairs:
            names[pair] = name = _new_name(prefix, taken)
            taken.add(name)
            _write_packet(tmp / name, packed[pair[1]])
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return names


def _new_name(prefix: str, taken: set[str]) -> str:
    while True:
        code = secrets.token_hex(8)
        name = f"{prefix}-{code}" if prefix else code
        if name not in taken:
            return name


def _write_packet(folder: Path, packed: PackedSubmission) -> None:
    folder.mkdir()
    made = {folder}
    for rel, data in sorted(packed.files.items()):
        path = folder.joinpath(*_safe_parts(rel))
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(data)
