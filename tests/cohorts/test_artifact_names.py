"""Artifact file names on every path into the library (API, widgets and review publishing all
call ``share_artifact``): a name that reaches out of its folder, hides itself or carries
control characters is refused with the field named, and nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from nbcohort.cohorts.models import Artifact
from nbcohort.cohorts.services.artifacts import share_artifact
from nbcohort.cohorts.services.auth import Actor
from nbcohort.cohorts.services.errors import Invalid

HOSTILE = {
    "../../etc/passwd": "names a folder",
    "..\\..\\windows\\win.ini": "names a folder",
    "/etc/passwd": "names a folder",
    "notes/../../x.py": "names a folder",
    "a/": "names a folder",
    "..": "not a usable file name",
    ".": "not a usable file name",
    ".bashrc": "not a usable file name",
    "a\x00.py": "not a usable file name",
    "a\nb.py": "not a usable file name",
    "\u202egnp.py": "not a usable file name",  # right-to-left override: shows as 'yp.png'
    "  ": "not a usable file name",
    "x" * 256: "not a usable file name",
}


def _share(store, member, cohort, filename):
    with store.write() as s:
        return share_artifact(s, Actor.of(s.merge(member)), s.merge(cohort), filename=filename,
                              content=b"print(1)\n", title="A snippet")  # fmt: skip


def _count(store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Artifact)) or 0


def test_a_hostile_file_name_is_refused_naming_the_problem(store, cohort, people):
    for name, problem in HOSTILE.items():  # one store for all: each refusal writes nothing
        with pytest.raises(Invalid) as refused:
            _share(store, people["ana"], cohort, name)
        assert refused.value.field == "filename", name
        assert problem in str(refused.value), name
        assert len(str(refused.value)) < 300  # a huge name is not echoed whole
    assert _count(store) == 0


def test_an_ordinary_file_name_is_kept_as_given(store, cohort, people):
    for name in ("notes (2).py", "données.csv", "a..b.py", "x" * 255):
        assert _share(store, people["ana"], cohort, name).filename == name
    assert _count(store) == 4
