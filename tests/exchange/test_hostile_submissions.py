"""Submissions a hostile learner plants in a real nbgrader exchange: symbolic links (to a
folder outside the course, to a file outside, to another learner's submission), a hard link,
a FIFO, an inbound entry that is itself a link and a username that would become a path.
Each is left out with its reason, nothing outside the learners' own folders is read into the
course, the data folder or the packets, and the healthy submissions are published."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from sqlalchemy import select

from nbcohort.cohorts.models import ReviewRound, ReviewSubmission, utcnow
from nbcohort.cohorts.store import Store
from nbcohort.exchange import round_open
from nbcohort.exchange.packets import Identity, pack_submission
from nbcohort.exchange.round_context import RoundError
from nbcohort.exchange.round_update import update_round
from tests.helpers.peer_course import ASSIGNMENT, COURSE_ID, PeerCourse
from tests.helpers.processes import isolated_env

pytestmark = pytest.mark.slow
MARKER = f"nbcohort-secret-{uuid.uuid4().hex}"  # in files outside the course, nowhere else


# -- a course, the files outside it, and what a hostile learner plants --------------------------
def _course(tmp_path: Path, store: Store, names: list[str]) -> PeerCourse:
    course = PeerCourse(tmp_path, store)
    course.add_learners([f"{n.title()} Doe" for n in names], teams=0)
    for username in names:
        course.fetch(username)
        course.answer(username, f"{username.title()} Doe", 2)
        course.submit(username)
    _outside(tmp_path)
    return course


def _outside(tmp: Path) -> Path:
    """Files the instructor's process can read, outside the course: each holds MARKER."""
    out = tmp / "outside"
    (out / "etc").mkdir(parents=True)
    (out / "secret.txt").write_text(MARKER)
    (out / "etc" / "shadow").write_text(MARKER)
    (out / "etc" / "gone").symlink_to(tmp / "no-such-file")  # dangling, as /etc has some
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(MARKER)])
    nbformat.write(nb, out / "notebook.ipynb")
    return out


def _inbound(course: PeerCourse, username: str) -> Path:
    inbound = course.tmp / "exchange" / COURSE_ID / "inbound"
    return max(inbound.glob(f"{username}+{ASSIGNMENT}+*"))


def _plant_folder_link(course: PeerCourse, u: str) -> None:
    # the link's name carries a terminal escape: it must be shown escaped, never raw
    (_inbound(course, u) / "data\x1b[31m").symlink_to(course.tmp / "outside" / "etc")


def _plant_notebook_link(course: PeerCourse, u: str) -> None:
    notebook = _inbound(course, u) / f"{ASSIGNMENT}.ipynb"
    notebook.unlink()
    notebook.symlink_to(course.tmp / "outside" / "notebook.ipynb")


def _plant_peer_link(course: PeerCourse, u: str, peer: str = "dara") -> None:
    (_inbound(course, u) / "peer").symlink_to(_inbound(course, peer))


def _plant_hard_link(course: PeerCourse, u: str) -> None:
    os.link(course.tmp / "outside" / "secret.txt", _inbound(course, u) / "notes.txt")


def _plant_fifo(course: PeerCourse, u: str) -> None:
    os.mkfifo(_inbound(course, u) / "pipe")


def _plant_top_link(course: PeerCourse, u: str) -> None:
    """The inbound entry itself is a link, to a submission-shaped folder outside."""
    entry = _inbound(course, u)
    fake = course.tmp / "outside" / "submission"
    shutil.copytree(entry, fake)
    shutil.copy(course.tmp / "outside" / "notebook.ipynb", fake / f"{ASSIGNMENT}.ipynb")
    shutil.rmtree(entry)
    entry.symlink_to(fake, target_is_directory=True)


def _plant_escape_beside_the_name(course: PeerCourse, u: str) -> None:
    """A healthy submission whose text next to the author's name (which the instructor is
    shown, to check by hand) holds a terminal escape."""
    path = _inbound(course, u) / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell(f"{u.title()} Doe \x1b[2J\x1b]0;pwned\x07"))
    nbformat.write(nb, path)


def _plant_username(course: PeerCourse, username: str, copy_of: str = "hana") -> None:
    """An inbound entry ``<username>+project-1+<timestamp>+x`` any learner can create."""
    entry = _inbound(course, copy_of)
    stamp = (utcnow() + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    shutil.copytree(entry, entry.with_name(f"{username}+{ASSIGNMENT}+{stamp}+x"))


PLANTS = {  # learner: (what they plant, what the reason must say)
    "ana": (_plant_folder_link, ["contains a link: data\\x1b[31m -> ", "links are not collected"]),
    "ben": (_plant_notebook_link, [f"contains a link: {ASSIGNMENT}.ipynb -> ", "not collected"]),
    "chi": (_plant_peer_link, ["contains a link: peer -> ", "links are not collected"]),
    "eli": (_plant_hard_link, ["contains a hard link: notes.txt", "not collected"]),
    "fay": (_plant_fifo, ["contains a FIFO (named pipe): pipe", "only files and folders"]),
    "gus": (_plant_top_link, ["the submission is itself a link", "links are not collected"]),
}
HEALTHY = ["dara", "hana", "ivan", "jo"]
# usernames that must never become a path (planted: as shown): a glob nbgrader would later
# expand to every learner's folder and a terminal escape; '..' too, which nbgrader's glob
# never matches (a hidden name), so it must simply leave no trace
USERNAMES = {"*": "*", "eve\x1b]0;pwned\x07": "eve\\x1b]0;pwned\\x07"}
UNREADABLE = f"zed+{ASSIGNMENT}+yesterday+x"  # a timestamp nbgrader cannot parse
NOT_A_FOLDER = "kim"  # an inbound entry that is a file, not a submission folder


# -- what is on disk afterwards -----------------------------------------------------------------
def _entries(*roots: Path) -> dict[str, str]:
    """Every path under ``roots`` (links never followed): a file's sha256, a link's target."""
    out = {}
    for root in roots:
        for top, dirs, files in os.walk(root):
            for name in dirs + files:
                path = Path(top, name)
                mode = path.lstat().st_mode
                key = str(path.relative_to(root.parent))
                if stat.S_ISREG(mode):
                    out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
                elif stat.S_ISLNK(mode):
                    out[key] = "-> " + os.readlink(path)
                else:
                    out[key] = "folder" if stat.S_ISDIR(mode) else "other"
    return out


def _outside_bytes(course: PeerCourse) -> list[str]:
    """Paths under the course and the data folder that hold MARKER or are links at all."""
    found = []
    for root in (course.root, course.tmp / "data"):
        for top, dirs, files in os.walk(root):
            for name in dirs + files:
                path = Path(top, name)
                mode = path.lstat().st_mode
                if stat.S_ISLNK(mode) or (
                    stat.S_ISREG(mode) and MARKER.encode() in path.read_bytes()
                ):
                    found.append(str(path))
    return found


def _round_folder(course: PeerCourse) -> Path:
    with course.store.read() as s:
        return Path(s.scalars(select(ReviewRound.folder)).one())


def _open(course: PeerCourse, k: int = 2) -> round_open.OpenReport:
    return round_open.open_round(
        course.context(), ASSIGNMENT, due=utcnow() + timedelta(days=7), reviewers=k, seed=1
    )


# -- the whole attack through the real CLI ------------------------------------------------------
def test_planted_links_are_left_out_and_the_healthy_published_in_one_cli_run(
    tmp_path, sqlite_store
):
    course = _course(tmp_path, sqlite_store, [*PLANTS, *HEALTHY])
    for username, (plant, _why) in PLANTS.items():
        plant(course, username)
    for username in [*USERNAMES, ".."]:
        _plant_username(course, username)
    shutil.copytree(_inbound(course, "hana"), _inbound(course, "hana").with_name(UNREADABLE))
    _plant_escape_beside_the_name(course, "jo")
    not_a_folder = f"{NOT_A_FOLDER}+{ASSIGNMENT}+2026-01-01 00:00:00 UTC+x"
    _inbound(course, "hana").with_name(not_a_folder).write_text("{}")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "jupyter_config.py").write_text(
        f"c.NbCohort.db_url = {sqlite_store.engine.url.render_as_string(hide_password=False)!r}\n"
        f"c.NbCohort.data_dir = {str(tmp_path / 'data')!r}\n"
        f"c.NbCohort.default_cohort = {course.cohort!r}\n"
        f"c.CourseDirectory.root = {str(course.root)!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = {str(tmp_path / 'exchange')!r}\n"
    )
    opened = subprocess.run(
        [
            sys.executable,
            "-m",
            "nbcohort.cohorts.cli",
            "review",
            "open",
            ASSIGNMENT,
            "--due=2099-01-01",
            "--reviewers=2",
            "--seed=4",
        ],
        env=isolated_env(tmp_path, JUPYTER_CONFIG_PATH=str(conf)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert opened.returncode == 0, opened.stderr
    assert "4 submissions, 8 packets" in opened.stdout
    assert "\x1b" not in opened.stdout + opened.stderr, "a learner's text reached the terminal"
    assert "Jo Doe \\x1b[2J" in opened.stdout  # shown to check by hand, escaped
    left_out = {
        line.split(":", 1)[0].removeprefix("  left out "): line.split(":", 1)[1]
        for line in opened.stdout.splitlines()
        if line.startswith("  left out ")
    }
    assert set(left_out) == {*PLANTS, *USERNAMES.values(), UNREADABLE, NOT_A_FOLDER}
    assert "the submission is not a folder" in left_out[NOT_A_FOLDER]
    for username, (_plant, says) in PLANTS.items():
        assert all(s in left_out[username] for s in says), (username, left_out[username])
    for key in USERNAMES.values():
        assert f"'{key}' is not a username" in left_out[key], left_out
    assert "no timestamp nbgrader can read" in left_out[UNREADABLE]
    with sqlite_store.read() as s:
        rnd = s.scalars(select(ReviewRound)).one()
        stored = rnd.settings["excluded"]
        authors = s.scalars(select(ReviewSubmission.snapshot)).all()
    assert set(stored) == set(left_out)
    assert sorted(Path(a).name for a in authors) == HEALTHY
    # nothing from outside the learners' own folders anywhere, no link anywhere
    assert _outside_bytes(course) == []
    assert not (course.root / ASSIGNMENT).exists(), "'..' was collected outside submitted/"
    assert sorted(os.listdir(course.root / "submitted")) == HEALTHY
    folder = Path(rnd.folder)
    assert sorted(os.listdir(folder / "submissions")) == HEALTHY
    packed = {p.relative_to(p.parents[1]).as_posix() for p in folder.glob("packets/*/*")}
    assert {p.split("/", 1)[1] for p in packed} == {f"{ASSIGNMENT}.ipynb"}


# -- a killed or failed run ---------------------------------------------------------------------
def test_a_failed_or_killed_open_leaves_the_course_as_found_and_the_next_gives_the_round(
    tmp_path, sqlite_store, monkeypatch
):
    names = ["ana", "ben", "chi", "dara"]
    course = _course(tmp_path, sqlite_store, names)
    assert course.api.collect(ASSIGNMENT)["success"]  # collected once before, by nbgrader
    for username in ("ana", "ben"):  # then two of them submit again
        course.answer(username, f"{username.title()} Doe", 3)
        course.submit(username)
    found = _entries(course.root)
    # a round that cannot be allocated: nothing of the run stays
    with pytest.raises(RoundError, match="cannot allocate"):
        _open(course, k=9)
    assert _entries(course.root) == found

    # killed in the middle of copying the second newer submission
    from nbcohort.exchange import learner_files

    real, copied = learner_files._copy_file, []

    def dies_on_the_second(src: int, out: int, name: str, *args: object) -> None:
        if name == f"{ASSIGNMENT}.ipynb":
            copied.append(name)
            if len(copied) == 2:
                raise KeyboardInterrupt
        real(src, out, name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(learner_files, "_copy_file", dies_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        _open(course)
    monkeypatch.undo()
    assert _entries(course.root) == found
    assert [p.name for p in (tmp_path / "data" / "reviews" / course.cohort).iterdir()] == [
        f".{ASSIGNMENT}.lock"
    ]
    # what a SIGKILL at the same point leaves: the earlier copy set aside, a partial copy
    ana = course.root / "submitted" / "ana" / ASSIGNMENT
    ana.rename(ana.with_name(f".{ASSIGNMENT}.previous"))
    ana.mkdir()
    shutil.copy(ana.with_name(f".{ASSIGNMENT}.previous") / "timestamp.txt", ana)
    partial = course.root / "submitted" / "ben" / f".{ASSIGNMENT}.k1ll3d.partial"
    partial.mkdir()
    shutil.copy(_inbound(course, "ben") / "timestamp.txt", partial)

    report = _open(course)
    assert report.excluded == {} and report.submissions == 4
    assert not list((course.root / "submitted").glob("*/.*")), "leftovers of the killed run"
    folder = _round_folder(course)
    for username in names:  # the round holds each learner's latest submission, whole
        snapshot = folder / "submissions" / username / f"{ASSIGNMENT}.ipynb"
        latest = _inbound(course, username) / f"{ASSIGNMENT}.ipynb"
        assert snapshot.read_bytes() == latest.read_bytes(), username


# -- the round's own snapshot and a late submission ---------------------------------------------
def test_a_link_placed_in_submitted_is_refused_by_the_snapshot(tmp_path, sqlite_store):
    course = _course(tmp_path, sqlite_store, ["ana", "ben", "chi", "dara"])
    assert course.api.collect(ASSIGNMENT)["success"]
    (course.root / "submitted" / "ana" / ASSIGNMENT / "extra").symlink_to(
        tmp_path / "outside" / "etc"
    )
    report = _open(course)
    assert "contains a link: extra -> " in report.excluded["ana"], report.excluded
    assert report.submissions == 3
    folder = _round_folder(course)
    assert sorted(os.listdir(folder / "submissions")) == ["ben", "chi", "dara"]
    assert [p for p in _outside_bytes(course) if "submitted/ana" not in p] == []


def test_a_late_submission_with_a_link_is_left_out_and_the_update_goes_on(tmp_path, sqlite_store):
    course = _course(tmp_path, sqlite_store, ["ana", "ben", "chi", "dara", "eli"])
    shutil.rmtree(_inbound(course, "eli"))  # eli submits late
    _open(course)
    course.submit("eli")
    _plant_folder_link(course, "eli")
    report = update_round(course.context(), ASSIGNMENT, due=utcnow() + timedelta(days=8))
    assert report.late == []
    assert "contains a link: data\\x1b[31m -> " in report.excluded["eli"], report.excluded
    assert not (course.root / "submitted" / "eli").exists()
    assert not (_round_folder(course) / "submissions" / "eli").exists()
    assert _outside_bytes(course) == []


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


def test_copy_tree_keeps_nbgraders_rules_and_a_copy_is_whole_or_absent(tmp_path):
    from nbcohort.exchange.learner_files import CopyRules, Refused, copy_tree

    src = tmp_path / "submission"
    (src / ".ipynb_checkpoints").mkdir(parents=True)
    (src / ".ipynb_checkpoints" / "old.ipynb").write_text("{}")
    (src / f"{ASSIGNMENT}.ipynb").write_text("{}")
    (src / "big.csv").write_bytes(b"x" * 3000)
    (src / "notes.txt").write_text("mine")
    rules = CopyRules(ignore=(".ipynb_checkpoints",), include=("*.ipynb", "*.csv"))
    copy_tree(src, tmp_path / "small", dataclasses.replace(rules, max_file_size=2))  # kB
    assert sorted(p.name for p in (tmp_path / "small").rglob("*")) == [f"{ASSIGNMENT}.ipynb"]
    copy_tree(src, tmp_path / "included", rules)
    assert sorted(p.name for p in (tmp_path / "included").iterdir()) == [
        "big.csv",
        f"{ASSIGNMENT}.ipynb",
    ]
    with pytest.raises(Refused, match=r"over the 2000 bytes of CourseDirectory\.max_dir_size"):
        copy_tree(src, tmp_path / "too-big", CopyRules(max_dir_size=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["included", "small", "submission"]


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
