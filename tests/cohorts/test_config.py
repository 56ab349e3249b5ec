"""The one jupyter_config.py reaches nbgrader, the Jupyter server (with Voila) and nbcohort,
and every nbcohort setting is documented."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from traitlets.config import Config

from nbcohort.cohorts.client import CohortClient
from nbcohort.cohorts.config import NbCohort, all_settings_classes, config_reference, load_config
from tests.helpers.processes import REPO, isolated_env

pytestmark = pytest.mark.slow


def _repo_env(tmp_path):
    return isolated_env(
        tmp_path, JUPYTER_CONFIG_PATH=str(REPO), NBCOHORT_DATA_DIR=str(tmp_path / "data")
    )


def test_nbgrader_sees_the_course_and_exchange(tmp_path):
    code = (
        "from nbgrader.apps.nbgraderapp import NbGraderApp\n"
        "app = NbGraderApp.instance(); app.initialize(['list'])\n"
        "import json; print(json.dumps([app.subapp.coursedir.root, app.subapp.coursedir.course_id,"
        " app.subapp.config.Exchange.root]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=_repo_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    root, course_id, exchange = json.loads(out.stdout.strip().splitlines()[-1])
    assert root == str(REPO / "course")
    assert course_id == "pandas-practice"
    assert exchange == str(tmp_path / "data" / "exchange")


def test_jupyter_server_and_voila_see_the_config(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_server", "--show-config-json"],
        cwd=tmp_path,
        env=_repo_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    )
    cfg = json.loads(out.stdout)
    assert cfg["ServerApp"]["root_dir"] == str(REPO / "course")
    assert cfg["VoilaConfiguration"]["show_tracebacks"] is False
    assert cfg["NbCohort"]["data_dir"] == str(tmp_path / "data")


def test_load_config_reads_the_same_file_for_kernels(tmp_path, monkeypatch):
    monkeypatch.setenv("NBCOHORT_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("NBCOHORT_PORT", "9911")
    cfg = load_config([str(REPO)])
    assert NbCohort(config=cfg).data_dir == str(tmp_path / "d")
    monkeypatch.delenv("NBCOHORT_URL", raising=False)
    assert CohortClient(config=cfg).url == "http://127.0.0.1:9911"


def test_client_url_from_environment_wins(monkeypatch):
    monkeypatch.setenv("NBCOHORT_URL", "http://127.0.0.1:7000/")
    assert CohortClient(config=Config()).url == "http://127.0.0.1:7000"


def _settings():
    for cls in all_settings_classes():
        for name, trait in sorted(cls.class_traits(config=True).items()):
            yield cls.__name__, name, trait


@pytest.mark.parametrize(("cls", "name"), [(c, n) for c, n, _ in _settings()])
def test_every_setting_has_help_and_is_in_the_readme(cls, name):
    trait = dict(((c, n), t) for c, n, t in _settings())[(cls, name)]
    assert len(trait.help) > 20, f"{cls}.{name} needs help text"
    readme = (REPO / "README.md").read_text("utf-8")
    assert f"`c.{cls}.{name}`" in readme, f"README's configuration reference lacks {cls}.{name}"


def test_readme_reference_is_current():
    """The README carries the generated reference verbatim: regenerate it when a setting
    changes (python -c 'from nbcohort.cohorts.config import config_reference as r; print(r())')."""
    assert config_reference() in (REPO / "README.md").read_text("utf-8")


def test_every_configurable_in_the_package_is_listed():
    """A new Configurable must join all_settings_classes (and so the docs test)."""
    import pkgutil
    from importlib import import_module

    from traitlets.config import Configurable

    import nbcohort.cohorts as pkg

    found = set()
    for mod in pkgutil.walk_packages(pkg.__path__, "nbcohort.cohorts."):
        if ".migrations" in mod.name or mod.name.endswith("__main__"):
            continue
        module = import_module(mod.name)
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, Configurable)
                and obj.__module__ == module.__name__
                and not hasattr(obj, "subcommands")
                and obj.class_traits(config=True)
                and not obj.__name__.endswith("Command")
                and "cli" not in mod.name
            ):
                found.add(obj)
    assert found <= set(all_settings_classes()), found - set(all_settings_classes())
