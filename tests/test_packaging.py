"""The distribution: every package folder is listed, and a built wheel (``pip install .``)
carries the code, the migrations and the templates, importable as nbcohort.*."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile

import pytest

from nbcohort.cohorts.schema import head_revision
from tests.helpers.processes import REPO

AREAS = {"cohorts": "nbcohort.cohorts", "exchange": "nbcohort.exchange",
         "widgets": "nbcohort.widgets"}  # fmt: skip


def test_every_package_folder_is_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])  # fmt: skip
    found = set()
    for folder, package in AREAS.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            found.add(".".join([package, *rel.parts]) if rel.parts else package)
    assert found == listed


@pytest.mark.slow
def test_wheel_installs_and_imports(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path), str(REPO)], check=True)  # fmt: skip
    wheel = next(tmp_path.glob("nbcohort-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "nbcohort/cohorts/migrations/versions/0001_initial_schema.py" in names
    assert "nbcohort/cohorts/migrations/script.py.mako" in names
    assert "nbcohort/cohorts/cli/templates/jupyter_config.py.tmpl" in names
    assert "nbcohort/cohorts/mail/templates/digest.html" in names
    assert "nbcohort/cohorts/mail/templates/digest.txt" in names
    assert not any(n.startswith(("tests/", "course/", "cohorts/")) for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import nbcohort.cohorts.store as s, nbcohort.widgets, nbcohort.exchange.release;"
        "from nbcohort.cohorts.cli.scaffold import _template;"
        f"assert s.__file__.startswith({str(site)!r}), s.__file__;"
        "print(s.head_revision(), len(_template('course.toml.tmpl', course_id='x', title='y')))"
    )
    out = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(site)},
                         capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == head_revision()
