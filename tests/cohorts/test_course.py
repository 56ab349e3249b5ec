"""The example course: nbgrader builds it, every notebook runs headless with no community
service (widgets show one calm line, fast), and the notebooks agree with course.toml."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from traitlets.config import Config

from nbcohort.cohorts.course import CourseError, load_course
from nbcohort.exchange.release import generate_release
from nbcohort.exchange.rubric import load_review_spec
from tests.helpers.processes import REPO, free_port

SOURCE = REPO / "course" / "source"
NOTEBOOKS = sorted(SOURCE.glob("*/*.ipynb"))
CALL = re.compile(r"\b(discussion|prompt|applied|share|peer_review)\(\s*\"([^\"]+)\"")


def widget_calls(nb_path: Path) -> list[tuple[str, str]]:
    nb = nbformat.read(nb_path, as_version=4)
    return [m.groups() for c in nb.cells if c.cell_type == "code" for m in CALL.finditer(c.source)]


def test_course_toml_parses_and_matches_the_notebooks():
    course = load_course(REPO / "course" / "course.toml")
    assert course.id == "pandas-practice"
    anchors = course.anchors
    assert len(anchors) == len(set(anchors)), "discussion anchors must be unique"
    used = {kind: set() for kind in ("discussion", "prompt", "applied", "share", "peer_review")}
    for nb in NOTEBOOKS:
        for kind, key in widget_calls(nb):
            used[kind].add(key)
    assert used["discussion"] == set(anchors)
    assert used["prompt"] <= set(course.prompts)
    assert used["applied"] <= set(course.practices)
    assert len(used["discussion"]) >= 15
    assert "project-1" in course.assignments
    # every peer-review widget names an assignment with a usable rubric
    assert used["peer_review"] == {"project-1"}
    for assignment in used["peer_review"]:
        assert load_review_spec(REPO / "course" / "course.toml", assignment).criteria


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[course\nid = 'x'", "line 1"),
        ("[prompts]\nday-1 = 'x'", "[course] with an id is required"),
        ("[course]\nid='c'\n[[modules]]\nid='m'\n[[modules.sections]]\nanchor='other/x'",
         "anchor 'other/x' must start with 'm/'"),
        ("[course]\nid='c'\n[prompts]\nday-1 = ''", "[prompts].day-1: expected text"),
        ("[course]\nid='c'\n[practices]\n'Bad Key' = 'x'", "key 'Bad Key'"),
    ],
)  # fmt: skip
def test_bad_course_toml_names_file_and_key(tmp_path, text, message):
    path = tmp_path / "course.toml"
    path.write_text(text)
    with pytest.raises(CourseError, match=re.escape(message)):
        load_course(path)
    with pytest.raises(CourseError, match="no such file"):
        load_course(tmp_path / "missing.toml")


@pytest.mark.slow
def test_nbgrader_generates_every_assignment(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(REPO / "course" / "source", course / "source")
    cfg = Config()
    cfg.CourseDirectory.root = str(course)
    releases = generate_release(cfg, sorted(p.name for p in (course / "source").iterdir()))
    project = nbformat.read(releases["project-1"] / "project-1.ipynb", as_version=4)
    text = "\n".join(c.source for c in project.cells)
    assert "### BEGIN SOLUTION" not in text
    assert "YOUR CODE HERE" in text or "YOUR ANSWER HERE" in text
    for name in ("module-1", "module-2", "module-3"):
        assert sorted(p.name for p in releases[name].glob("*.ipynb"))
        assert (releases[name] / "data").is_dir()


@pytest.mark.slow
@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_runs_headless_with_no_service(nb_path, monkeypatch, tmp_path):
    monkeypatch.setenv("NBCOHORT_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens
    monkeypatch.setenv("NBCOHORT_TOKEN", "nbc_headless")
    workdir = tmp_path / nb_path.parent.name  # notebooks write files: never into the repo
    shutil.copytree(nb_path.parent, workdir)
    nb = nbformat.read(nb_path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(workdir)}}).execute()  # fmt: skip
    widget_cells = [c for c in nb.cells if c.cell_type == "code" and CALL.search(c.source)]
    for cell in widget_cells:
        plain = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
        assert "community offline" in plain, cell.source
        timing = cell.metadata.execution
        took = datetime.fromisoformat(
            timing["shell.execute_reply"].replace("Z", "+00:00")
        ) - datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        assert took.total_seconds() < 2.0, f"{cell.source!r} took {took}"
