"""The distribution: every package folder is listed, and a built wheel (``pip install .``)
carries the code, the migrations and the templates, importable as nbcohort.*, and builds
without setuptools warning about the package layout."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from nbcohort.cohorts.schema import head_revision
from tests.helpers.processes import REPO

AREAS = {
    "cohorts": "nbcohort.cohorts",
    "exchange": "nbcohort.exchange",
    "widgets": "nbcohort.widgets",
}
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_in_pyproject():
    """Python can import every folder of the code areas, so setuptools sees each as a
    package: each is listed, and a folder of data files (no __init__.py) names its files."""
    listed = set(SETUPTOOLS["packages"])
    found = {}
    for folder, package in AREAS.items():
        for path in [REPO / folder, *(REPO / folder).rglob("*")]:
            if path.is_dir() and not path.name.startswith(("__", ".")):
                rel = path.relative_to(REPO / folder)
                found[".".join([package, *rel.parts])] = path
    assert set(found) == listed
    data_only = {name for name, path in found.items() if not (path / "__init__.py").exists()}
    assert "nbcohort.cohorts.cli.templates" in data_only  # the test sees such folders
    for name in data_only:
        data = SETUPTOOLS["package-data"][name]
        assert data
        if "*.py" not in data:  # cohorts/hub ships example config files, named as data
            assert not list(found[name].glob("*.py"))


def build_wheel(project: Path, out: Path) -> str:
    """``pip wheel`` as a user runs it; returns what it printed. pip re-emits each warning
    the build backend raised as a ``BuildBackendWarning`` line."""
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(project)],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    return build.stdout + build.stderr


@pytest.mark.slow
def test_the_build_prints_no_warning_about_the_layout(tmp_path):
    # What the check would see: a data folder setuptools was not told about, as
    # templates/ once was, makes the build warn.
    planted = tmp_path / "planted"
    (planted / "planted" / "data").mkdir(parents=True)
    (planted / "planted" / "__init__.py").write_text("")
    (planted / "planted" / "data" / "x.tmpl").write_text("x")
    (planted / "pyproject.toml").write_text(
        '[project]\nname = "planted"\nversion = "0"\n'
        '[tool.setuptools]\npackages = ["planted"]\n'
        '[tool.setuptools.package-data]\nplanted = ["data/*.tmpl"]\n'
    )
    warned = build_wheel(planted, tmp_path / "planted-wheel")
    assert "BuildBackendWarning" in warned and "planted.data" in warned
    output = build_wheel(REPO, tmp_path / "wheel")
    assert "BuildBackendWarning" not in output, output


@pytest.mark.slow
def test_wheel_installs_and_imports(tmp_path):
    build_wheel(REPO, tmp_path)
    wheel = next(tmp_path.glob("nbcohort-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "nbcohort/cohorts/migrations/versions/0001_initial_schema.py" in names
    assert "nbcohort/cohorts/migrations/script.py.mako" in names
    assert "nbcohort/cohorts/cli/templates/jupyter_config.py.tmpl" in names
    assert "nbcohort/cohorts/hub/jupyterhub_config.py" in names
    assert "nbcohort/cohorts/mail/templates/digest.html" in names
    assert "nbcohort/cohorts/mail/templates/digest.txt" in names
    assert "nbcohort/cohorts/pages/voila/templates/nbcohort/index.html.j2" in names
    assert "nbcohort/cohorts/pages/voila/templates/nbcohort/conf.json" in names
    assert "nbcohort/widgets/display/sections.py" in names
    assert not any(n.startswith(("tests/", "course/", "cohorts/")) for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = (
        "import nbcohort.cohorts.schema as s, nbcohort.widgets, nbcohort.exchange.release;"
        "from nbcohort.cohorts.cli.scaffold import _template;"
        f"assert s.__file__.startswith({str(site)!r}), s.__file__;"
        "print(s.head_revision(), len(_template('course.toml.tmpl', course_id='x', title='y')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == head_revision()
