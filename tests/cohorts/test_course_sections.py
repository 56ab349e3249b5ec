"""Where each discussion and peer review is in the course: read from course.toml and the
source notebooks, recorded by ``course sync``, turned into links by notifications."""

from __future__ import annotations

import json

from nbcohort.cohorts.course import load_course
from nbcohort.cohorts.models import Cohort
from nbcohort.cohorts.services.course_content import sync_course
from nbcohort.cohorts.services.notifications import section_link
from tests.helpers.community import SYSTEM
from tests.helpers.processes import REPO


def test_every_anchor_of_the_example_course_has_its_notebook_and_cell():
    course = load_course(REPO / "course" / "course.toml")
    assert set(course.anchors) <= set(course.sections)
    assert all(s["cell"] for s in course.sections.values())
    assert course.sections["module-1/reading-files"] == {
        "notebook": "module-1/01-loading-data.ipynb",
        "title": "Reading a file",
        "cell": "m1-load-20",
    }
    assert course.sections["peer_review:project-1"]["notebook"] == "project-1/project-1.ipynb"


def test_a_missing_or_broken_notebook_only_loses_its_cell(tmp_path):
    (tmp_path / "source" / "m").mkdir(parents=True)
    (tmp_path / "source" / "m" / "a.ipynb").write_text("{not json")
    (tmp_path / "course.toml").write_text(
        '[course]\nid = "c"\n[[modules]]\nid = "m"\nnotebooks = ["a.ipynb", "b.ipynb"]\n'
        '[[modules.sections]]\nnotebook = "a.ipynb"\nanchor = "m/one"\ntitle = "One"\n'
    )
    assert load_course(tmp_path / "course.toml").sections == {
        "m/one": {"notebook": "m/a.ipynb", "title": "One", "cell": None}
    }
    nb = {"cells": [{"cell_type": "code", "id": "c1", "source": ['discussion("m/one")']}]}
    (tmp_path / "source" / "m" / "a.ipynb").write_text(json.dumps(nb))
    assert load_course(tmp_path / "course.toml").sections["m/one"]["cell"] == "c1"


def test_course_sync_records_sections_and_links_use_them(store, cohort):
    course = load_course(REPO / "course" / "course.toml")
    with store.write() as s:
        c = s.get_one(Cohort, cohort.id)
        sync_course(s, SYSTEM, c, course)
    with store.read() as s:
        c = s.get_one(Cohort, cohort.id)
        link = section_link(c, "module-1/reading-files")
        assert link is not None
        assert link["path"] == "module-1/01-loading-data.ipynb#cell-id=m1-load-20"
        assert section_link(c, "module-9/nowhere") is None
        assert section_link(c, None) is None
