"""A review packet served by ``nbcohort serve`` holds the packet's own files only: a link
planted in its folder (to another learner's submission, to a file outside the round, to a
folder) is never followed into the answer."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from nbcohort.cohorts.models import ReviewRound
from tests.helpers.peer_course import ASSIGNMENT

pytestmark = pytest.mark.slow


def test_a_link_in_a_packet_folder_is_never_served(live, tmp_path):
    run = live("open")
    mine = run.allocation_of("ana", "ben") or run.allocation_of("ana", "chi")
    assert mine is not None
    private = tmp_path / "round"  # a copy of the shared round folder, for this test alone
    with run.store.write() as s:
        rnd = s.scalars(select(ReviewRound)).one()
        shutil.copytree(rnd.folder, private, symlinks=True)
        rnd.folder = str(private)
    packet = private / mine.packet
    theirs = next(p for p in private.rglob("*.ipynb") if packet not in p.parents)
    outside = tmp_path / "secret.txt"
    outside.write_text("not for reviewers")
    (packet / "theirs.ipynb").symlink_to(theirs)
    (packet / "secret.txt").symlink_to(outside)
    (packet / "linked").symlink_to(theirs.parent, target_is_directory=True)
    files = run.clients["ana"].review_packet(ASSIGNMENT, mine.id)
    assert list(files) == [f"{ASSIGNMENT}.ipynb"]
    assert b"not for reviewers" not in b"".join(files.values())
