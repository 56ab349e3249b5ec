"""What the widgets read from and write into a learner's folder: sharing refuses a link or
anything that is not a regular file, and a library copy or a review packet never writes
through a link, over a file, or outside its folder."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.models import Artifact
from nbcohort.widgets import library, share
from nbcohort.widgets.peer_review import place_file


def _artifacts(store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Artifact))


def _outside(tmp_path: Path) -> Path:
    out = tmp_path / "outside"
    out.mkdir()
    (out / "private.txt").write_text("not for the cohort")
    return out


def test_sharing_a_link_or_a_fifo_is_refused_with_a_reason(as_member, store, tmp_path):
    outside = _outside(tmp_path)
    (tmp_path / "analysis.ipynb").symlink_to(outside / "private.txt")
    os.mkfifo(tmp_path / "pipe.csv")
    as_member("ana")
    form = share(str(tmp_path / "analysis.ipynb"))
    assert form.submit() is None
    assert "analysis.ipynb is a link" in form.status.value
    result: list[object] = []
    form = share(str(tmp_path / "pipe.csv"))
    worker = threading.Thread(target=lambda: result.append(form.submit()), daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # reading a FIFO waits for a writer: give it one, then fail
        os.close(os.open(tmp_path / "pipe.csv", os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=10)
        pytest.fail("sharing a FIFO blocked the kernel")
    assert result == [None] and "pipe.csv is not a file" in form.status.value
    assert _artifacts(store) == 0


def test_a_library_copy_never_writes_through_a_link(as_member, tmp_path):
    outside = _outside(tmp_path)
    nb = tmp_path / "my-analysis.ipynb"
    nb.write_text('{"cells": []}')
    as_member("ana")
    made = share(str(nb)).submit()
    assert made is not None
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "my-analysis.ipynb").symlink_to(outside / "planted.ipynb")  # dangling
    as_member("ben")
    copy = library(folder=str(mine)).fetch(made["id"])
    assert copy == mine / "my-analysis (2).ipynb" and copy.read_text() == '{"cells": []}'
    assert not (outside / "planted.ipynb").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["private.txt"]


def test_a_packet_file_never_goes_through_a_link_or_out_of_its_folder(tmp_path):
    outside = _outside(tmp_path)
    packet = tmp_path / "peer-review" / "project-1" / "p1"
    packet.mkdir(parents=True)
    (packet / "project-1.ipynb").symlink_to(outside / "private.txt")
    (packet / "notes.md").symlink_to(outside / "planted.md")  # dangling
    (packet / "data").symlink_to(outside, target_is_directory=True)
    placed = place_file(packet, "project-1.ipynb", b"packet")
    assert placed == packet / "project-1 (2).ipynb" and placed.read_bytes() == b"packet"
    assert place_file(packet, "notes.md", b"notes") == packet / "notes (2).md"
    with pytest.raises(ValueError, match=r"data in .* is a link"):
        place_file(packet, "data/sales.csv", b"a,b")
    assert (outside / "private.txt").read_text() == "not for the cohort"
    assert sorted(p.name for p in outside.iterdir()) == ["private.txt"]
