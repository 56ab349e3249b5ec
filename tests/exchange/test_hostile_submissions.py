"""Submissions a hostile learner plants: a file swapped for a link between the check and the
copy, and a FIFO that would block the packet builder."""

from __future__ import annotations

import json
import os
import threading
import uuid

import nbformat
import pytest

from nbcohort.exchange.packets import Identity, pack_submission
from tests.helpers.peer_course import ASSIGNMENT

MARKER = f"nbcohort-secret-{uuid.uuid4().hex}"  # in files outside the course, nowhere else


# -- a file swapped for a link between the check and the copy -------------------------------------
def test_a_file_swapped_for_a_link_after_the_check_is_refused_not_followed(tmp_path, monkeypatch):
    from nbcohort.exchange import learner_files

    src, secret = tmp_path / "submission", tmp_path / "secret.txt"
    src.mkdir()
    (src / f"{ASSIGNMENT}.ipynb").write_text("{}")
    secret.write_text(MARKER)
    real = learner_files._inspect_fd

    def then_swap(fd: int, what: str) -> object:
        tree = real(fd, what)
        (src / f"{ASSIGNMENT}.ipynb").unlink()
        (src / f"{ASSIGNMENT}.ipynb").symlink_to(secret)
        return tree

    monkeypatch.setattr(learner_files, "_inspect_fd", then_swap)
    with pytest.raises(learner_files.Refused, match="became a link while it was copied"):
        learner_files.copy_tree(src, tmp_path / "copy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.txt", "submission"]


# -- the packet builder, a second line of defence -----------------------------------------------
def test_packing_a_folder_with_a_fifo_notes_it_and_never_blocks(tmp_path):
    folder = tmp_path / "submission"
    folder.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), folder / f"{ASSIGNMENT}.ipynb")
    os.mkfifo(folder / "pipe")
    result: list[object] = []
    worker = threading.Thread(
        target=lambda: result.append(pack_submission(folder, Identity("ana", "Ana", "a@x"))),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # the old reader waits for a writer: give it one, then fail
        os.close(os.open(folder / "pipe", os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=10)
        pytest.fail("pack_submission blocked on a FIFO")
    (packed,) = result
    assert set(packed.files) == {f"{ASSIGNMENT}.ipynb"}  # type: ignore[attr-defined]
    assert "pipe: not a regular file left out" in packed.notes  # type: ignore[attr-defined]
    json.loads(packed.files[f"{ASSIGNMENT}.ipynb"])  # type: ignore[attr-defined]
