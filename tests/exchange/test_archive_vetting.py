"""The exchange's archive vetting (``services/exchange_archive.py``) against archives a hostile
learner can make with ordinary tools: every upload (submission, release, feedback, packet)
and every collect goes through it, so what it lets through reaches the instructor's disk."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from nbcohort.cohorts.services.errors import Invalid
from nbcohort.cohorts.services.exchange_archive import extract_archive, vet_archive


def _tar(path: Path, members: list[tuple[str, bytes | None]]) -> Path:
    """``members``: (name, bytes) for a file, (name, None) for a folder."""
    with tarfile.open(path, mode="w:") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.skipif(shutil.which("tar") is None, reason="GNU tar makes the sparse archive")
@pytest.mark.parametrize("fmt", ["gnu", "pax"])
def test_a_sparse_file_is_refused_before_a_byte_is_unpacked(tmp_path: Path, fmt: str) -> None:
    """A few kilobytes that declare gigabytes: GNU tar's --sparse, as any learner can run."""
    src = tmp_path / "src"
    src.mkdir()
    with (src / "big.bin").open("wb") as f:
        f.truncate(4 * 1024**3)  # a 4 GiB hole; nothing written
    archive = tmp_path / f"{fmt}.tar"
    subprocess.run(["tar", f"--format={fmt}", "-S", "-cf", str(archive), "-C", str(src), "big.bin"],
                   check=True)  # fmt: skip
    assert archive.stat().st_size < 1024**2
    with pytest.raises(Invalid, match=r"big\.bin.*a sparse file"):
        vet_archive(archive)
    with pytest.raises(Invalid, match="sparse"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


@pytest.mark.parametrize(
    "members",
    [
        [("a/b", b"x"), ("a", b"y")],  # a file where a folder was
        [("a", b"y"), ("a/b", b"x")],  # a folder under a file
        [("a", b"y"), ("a/c/", None)],
        [("d/e/f", b"x"), ("d/e", b"y")],
    ],
)
def test_a_name_both_file_and_folder_is_refused_naming_it(
    tmp_path: Path, members: list[tuple[str, bytes | None]]
) -> None:
    """Before, it passed the vetting and failed halfway through unpacking (FileExistsError),
    which ended the instructor's collect for every learner after this one."""
    archive = _tar(tmp_path / "clash.tar", members)
    with pytest.raises(Invalid, match="both as a file and as a folder"):
        vet_archive(archive)
    with pytest.raises(Invalid):
        extract_archive(archive, tmp_path / "out")
    assert sorted(os.listdir(tmp_path)) == ["clash.tar"]


def test_a_file_declaring_more_than_the_archive_holds_is_refused(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "a.tar", [("p1.ipynb", b"{}")])
    raw = bytearray(archive.read_bytes())
    raw[124:136] = b"%011o\0" % (10 * 1024**3)  # the header's size field: 10 GiB
    raw[148:156] = b" " * 8
    raw[148:156] = b"%06o\0 " % sum(raw[:512])  # a valid checksum, so tarfile reads it
    archive.write_bytes(bytes(raw))
    with pytest.raises(Invalid):
        vet_archive(archive)


def test_folders_and_files_side_by_side_still_unpack(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "ok.tar",
        [("data/", None), ("data/a.csv", b"1,2"), ("p1.ipynb", b"{}"), ("data/sub/b", b"b")],
    )
    assert vet_archive(archive) == ["p1"]
    extract_archive(archive, tmp_path / "out")
    assert (tmp_path / "out" / "data" / "sub" / "b").read_bytes() == b"b"
